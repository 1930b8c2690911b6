-- fair_release: release FairShare backlogs into the stream (see _fair.lua), for the
-- tasks named; workers that serve them call it now and then, so that a window held
-- shut by tasks that left the stream unclaimed opens again without a new add or claim.
-- It is also the release that ends a broken task at the head of a backlog (the
-- others stop before one): see `bury` below.
--
-- The window (how many released tasks may wait unclaimed) is the sum of the windows
-- of the workers serving the task: each call records its worker's (ARGV[2]) in
-- P:fair:windows:<len>:<task> (worker -> "<window> <epoch told>"), drops the workers
-- not heard from for ARGV[9] seconds (stopped, or dead), and stores the sum in
-- P:fair:meta:...'s `window`, which every release (adds and claims too) reads.
--
-- KEYS[1] stream P:stream   KEYS[2] dead letters P:dead   KEYS[3] listening flag
-- ARGV[1] prefix P   ARGV[2] this worker's window ('' = keep the stored one)
-- ARGV[3] worker name   ARGV[4] now, ISO   ARGV[5] TTL seconds of terminal records
-- (0 = delete)   ARGV[6] most entries P:dead keeps   ARGV[7] seconds P:dead lives
-- after its last entry   ARGV[8] now (epoch seconds)   ARGV[9] seconds a worker's
-- window counts after it was last told   ARGV[10..] task names
-- Returns {how many tasks were released, how many dead-lettered as bad-parked-task,
-- how many as bad-run-record}.

local prefix, worker, now, ttl = ARGV[1], ARGV[3], ARGV[4], tonumber(ARGV[5])
local listening = redis.call('EXISTS', KEYS[3]) == 1
local buried = {['bad-parked-task'] = 0, ['bad-run-record'] = 0}
local task = nil  -- the task whose backlogs are being released

-- A broken task of `value`'s backlog (taken out of it already) goes to P:dead, as
-- the scheduler and the claim bury theirs. Its run record not a hash: the parked
-- message goes as it was (deleted; a parked key that is not a hash is someone
-- else's, left alone). Its parked message missing or not a hash: the message is
-- rebuilt from the run record (schedule.lua copied its task, arguments, attempt and
-- signature there), so the entry can be replayed, and the record ends failed (its
-- waiters released, the key free to be added again), as dead_letter.lua ends one.
local function bury(key, value, reason)
  local runs = prefix .. ':runs:' .. key
  local parked = parked_key(prefix, key)
  local ok, fields = pcall(redis.call, 'HGETALL', parked)
  local detail
  if reason == 'bad-run-record' then
    detail = 'its run record ' .. runs .. ' is not a hash'
    if ok and #fields > 0 then
      redis.call('DEL', parked)
    else
      fields = {'key', key, 'function', task, 'fair', value}
    end
  else
    detail = 'its parked task ' .. parked .. (ok and ' is missing' or ' is not a hash')
    local r = hmget(runs, 'function', 'args', 'kwargs', 'attempt', 'generation',
      'message_when', 'serializer', 'signature')
    fields = {'key', key, 'function', r[1] or task, 'args', r[2] or '',
      'kwargs', r[3] or '', 'when', r[6] or now, 'attempt', r[4] or '1',
      'generation', r[5] or '0', 'fair', value}
    if r[7] then fields[#fields + 1] = 'serializer'; fields[#fields + 1] = r[7] end
    if r[8] then fields[#fields + 1] = 'signature'; fields[#fields + 1] = r[8] end
  end
  to_dead(KEYS[2], fields, reason, detail, worker, now, '')
  if reason == 'bad-parked-task' then
    end_run(prefix, key, 'failed', now, ttl, listening,
      'dead-lettered (' .. reason .. '): ' .. detail,
      {'args', '', 'kwargs', '', 'fairq', '0', 'stream_id', ''})
  end
  buried[reason] = buried[reason] + 1
end

-- Count this worker's window for `task`, and store the sum over the workers heard
-- from lately as the task's window.
local function tell_window()
  local clock, horizon = tonumber(ARGV[8]), tonumber(ARGV[9])
  local windows = fair_key(prefix, 'windows', task)
  redis.call('HSET', windows, worker, ARGV[2] .. ' ' .. ARGV[8])
  local total = 0
  local told = redis.call('HGETALL', windows)
  for i = 1, #told, 2 do
    local size, at = string.match(told[i + 1], '^(%S+) (%S+)$')
    size, at = tonumber(size), tonumber(at)
    if size and at and at >= clock - horizon then
      total = total + size
    else
      redis.call('HDEL', windows, told[i])
    end
  end
  redis.call('EXPIRE', windows, FAIR_TTL)
  local meta = fair_key(prefix, 'meta', task)
  redis.call('HSET', meta, 'window', tostring(math.max(total, 1)))
  redis.call('EXPIRE', meta, FAIR_TTL)
end

local released = 0
for i = 10, #ARGV do
  task = ARGV[i]
  if ARGV[2] ~= '' then tell_window() end
  released = released + fair_release(prefix, task, KEYS[1], true, bury)
end
local bad_parked, bad_record = buried['bad-parked-task'], buried['bad-run-record']
if bad_parked + bad_record > 0 then
  trim_dead(KEYS[2], tonumber(ARGV[6]), tonumber(ARGV[7]))
end
return {released, bad_parked, bad_record}
