-- stream_due: move future tasks whose time has come from the queue into the stream.
--
-- KEYS[1] queue P:queue   KEYS[2] stream P:stream   KEYS[3] listening flag
-- KEYS[4] dead letters P:dead
-- ARGV[1] prefix P   ARGV[2] now (epoch seconds, the worker's clock)   ARGV[3] batch limit
-- ARGV[4] now, ISO   ARGV[5] worker name   ARGV[6] TTL seconds of terminal records
-- (0 = delete)   ARGV[7] most entries P:dead keeps   ARGV[8] seconds P:dead lives
-- after its last entry
--
-- Race prevented: many workers run this at once; each due task is moved by exactly
-- one of them because reading, moving and removing it happen in one step. The new
-- stream id is recorded on the run record so that cancel and replace can still
-- withdraw the task before a worker claims it.
-- A parked task P:K that is not a hash (someone else wrote that key) cannot be moved:
-- its key goes to P:dead (bad-parked-task) and its run record, when it is a hash,
-- ends failed; a run record that is not a hash is not updated (the claim then
-- dead-letters the message). Either way the tasks after it still move.
-- Signal waits whose timeout came (P:mailbox:deadlines, see _mailbox.lua) end first,
-- in the same step: a task released by its timeout and due now moves in this call.
-- Returns {moved count, score of the earliest remaining task or timeout or "",
-- dead-lettered}.

local queue, stream, prefix, now = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local listening = redis.call('EXISTS', KEYS[3]) == 1
local due = redis.call('ZRANGEBYSCORE', queue, '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))

local buried = 0
local timeout = mailbox_expire(prefix, tonumber(now), tonumber(ARGV[3]), listening)
local fair_tasks = {}

for _, key in ipairs(due) do
  local parked = parked_key(prefix, key)
  local ok, fields = pcall(redis.call, 'HGETALL', parked)
  if not ok then
    local detail = 'its parked task ' .. parked .. ' is not a hash'
    to_dead(KEYS[4], {'key', key}, 'bad-parked-task', detail, ARGV[5], ARGV[4], '')
    buried = buried + 1
    local record = hash_fields(prefix .. ':runs:' .. key, 'state')
    if record and record[1] == 'scheduled' then
      end_run(prefix, key, 'failed', ARGV[4], tonumber(ARGV[6]), listening,
        'dead-lettered (bad-parked-task): ' .. detail)
    end
  elseif #fields > 0 then
    local fair, task = fair_of(fields)
    local runs = prefix .. ':runs:' .. key
    local priority = message_priority(fields)
    if fair and task then  -- FairShare: into its value's backlog (_fair.lua), still parked
      redis.call('DEL', prefix .. ':known:' .. key, prefix .. ':stream-id:' .. key)
      pcall(redis.call, 'HSET', runs, 'state', 'queued', 'stream_id', '', 'fair', fair,
        'fairq', '1')
      fair_enter(prefix, task, fair, key, fields, now)
      fair_tasks[task] = true
    elseif priority ~= 5 then  -- it keeps its priority: its lane (_lanes.lua), still parked
      local due_at = tonumber(redis.call('ZSCORE', queue, key)) or tonumber(now)
      lane_place(prefix, key, fields, priority, due_at)
      redis.call('DEL', prefix .. ':known:' .. key, prefix .. ':stream-id:' .. key)
      pcall(redis.call, 'HSET', runs, 'state', 'queued', 'lane', tostring(priority))
    else
      local id = redis.call('XADD', stream, '*', unpack(fields))
      -- The markers an earlier release left (P:known:K, P:stream-id:K) are done with:
      -- the run record now says the task is queued.
      redis.call('DEL', parked, prefix .. ':known:' .. key, prefix .. ':stream-id:' .. key)
      pcall(redis.call, 'HSET', runs, 'state', 'queued', 'stream_id', id)
    end
    if listening then
      local when = ''
      for i = 1, #fields, 2 do
        if fields[i] == 'when' then when = fields[i + 1] end
      end
      emit(prefix .. ':state:' .. key, '{"type":"state","key":'
        .. json_string(key) .. ',"state":"queued","when":"' .. when .. '"}')
    end
  end
  redis.call('ZREM', queue, key)
end

for task in pairs(fair_tasks) do fair_release(prefix, task, stream) end
if buried > 0 then trim_dead(KEYS[4], tonumber(ARGV[7]), tonumber(ARGV[8])) end
local first = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
local next_due = first[2] or ''
if timeout and (next_due == '' or timeout < tonumber(next_due)) then
  next_due = string.format('%.6f', timeout)
end
return {#due, next_due, buried}
