-- clear: withdraw all pending work of the docket (strikes, pauses and running tasks
-- stay), including the work held for paused task types.
--
-- KEYS[1] stream P:stream   KEYS[2] queue P:queue   KEYS[3] listening flag
-- KEYS[4] pause marks P:paused
-- ARGV[1] prefix P   ARGV[2] TTL seconds for the withdrawn records (0 = delete)
-- ARGV[3] completed_at ISO   ARGV[4] most tasks to withdraw in this call
-- ARGV[5] the workers' consumer group when run records are not marked "running"
-- (execution_ttl=0: a running task's record still says "queued"), else ""
-- ARGV[6..] (memory:// only, whose engine has no XPENDING in scripts) the ids of the
-- entries workers hold, read just before in the same process
--
-- Race prevented: a task claimed while clear runs is either already "running" (left
-- alone with its stream entry, it finishes or is redelivered) or still "queued"
-- (cancelled here, and claim.lua then refuses it); nothing can be half-cleared. Where
-- records are not marked running (ARGV[5] set), an entry a worker holds (pending in
-- the group: running, or read ahead and run like it) counts as running. Stream entries are deleted one by one rather than
-- trimmed, which keeps the consumer group and works on every engine.
-- Withdrawn records become "cancelled" (so their keys can be added again at once)
-- and their waiters get a cancelled event. Legacy markers of earlier pydocket releases
-- (P:known:K, P:stream-id:K) are deleted for every withdrawn key.
-- One call withdraws at most ARGV[4] tasks: stream entries first (oldest first), then
-- future tasks (earliest first), then held ones, then those waiting in FairShare
-- backlogs, so a big docket never holds Redis
-- for long: the caller calls again while a call comes back full.
-- Returns the number of tasks withdrawn.

local stream, queue, prefix = KEYS[1], KEYS[2], ARGV[1]
local ttl, completed_at = tonumber(ARGV[2]), ARGV[3]
local batch = tonumber(ARGV[4])
local unmarked_group = ARGV[5] or ''
local held_ids = {}
for i = 6, #ARGV do held_ids[ARGV[i]] = true end

local function held(id)  -- a worker holds this entry (pending in the group)
  if held_ids[id] then return true end
  local ok, pending = pcall(redis.call, 'XPENDING', stream, unmarked_group, id, id, 1)
  return ok and type(pending) == 'table' and #pending > 0
end
local listening = redis.call('EXISTS', KEYS[3]) == 1
local withdrawn = 0

local function withdraw(key, pending_state)
  redis.call('DEL', prefix .. ':known:' .. key, prefix .. ':stream-id:' .. key)  -- legacy
  if redis.call('HGET', prefix .. ':runs:' .. key, 'state') ~= pending_state then return end
  end_run(prefix, key, 'cancelled', completed_at, ttl, listening, nil, {'stream_id', ''})
end

-- Tasks waiting for their parents first (P:waiting; their gates go with them): a
-- follower released meanwhile (policy "run") is then withdrawn from the stream.
for _, key in ipairs(redis.call('ZRANGE', prefix .. ':waiting', 0, batch - 1)) do
  withdraw(key, 'waiting')
  redis.call('DEL', parked_key(prefix, key))
  redis.call('ZREM', prefix .. ':waiting', key)
  withdrawn = withdrawn + 1
end

-- Stream entries, skipping those of running tasks: a worker holds them, and a
-- lease that expires (the worker died) must still find its entry to redeliver it.
local start = '-'
while withdrawn < batch do
  local entries = redis.call('XRANGE', stream, start, '+', 'COUNT', batch - withdrawn)
  if #entries == 0 then break end
  for _, entry in ipairs(entries) do
    local key, fields = nil, entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 'key' then key = fields[i + 1] end
    end
    local running = key and redis.call('HGET', prefix .. ':runs:' .. key, 'state') == 'running'
    if key and not running and unmarked_group ~= '' then
      running = held(entry[1])
    end
    if not running then
      if key then withdraw(key, 'queued') end
      redis.call('XDEL', stream, entry[1])
      withdrawn = withdrawn + 1
    end
  end
  local ms, seq = string.match(entries[#entries][1], '^(%d+)%-(%d+)$')
  start = ms .. '-' .. tostring(tonumber(seq) + 1)
end

-- Tasks waiting on a priority lane (_lanes.lua), future tasks, then the work held
-- for each paused task type (P:paused:<task>).
local sets, states = {}, {}
for _, lane in ipairs(redis.call('SMEMBERS', prefix .. ':lanes')) do
  sets[#sets + 1] = lane_key(prefix, lane)
  states[#sets] = 'queued'
end
sets[#sets + 1] = queue
local marks = redis.call('HGETALL', KEYS[4])
for i = 1, #marks, 2 do sets[#sets + 1] = prefix .. ':paused:' .. marks[i] end
for n, set in ipairs(sets) do
  if withdrawn >= batch then break end
  for _, key in ipairs(redis.call('ZRANGE', set, 0, batch - withdrawn - 1)) do
    withdraw(key, states[n] or 'scheduled')
    redis.call('DEL', parked_key(prefix, key))
    redis.call('ZREM', set, key)
    withdrawn = withdrawn + 1
  end
end
redis.call('DEL', prefix .. ':doorbell')  -- its entry went with the stream's
for _, lane in ipairs(redis.call('SMEMBERS', prefix .. ':lanes')) do
  if redis.call('ZCARD', lane_key(prefix, lane)) == 0 then
    redis.call('SREM', prefix .. ':lanes', lane)
  end
end

-- Tasks waiting in FairShare backlogs (_fair.lua), value by value.
for _, task in ipairs(redis.call('ZRANGE', prefix .. ':fair:tasks', 0, -1)) do
  local active = fair_key(prefix, 'active', task)
  for _, value in ipairs(redis.call('ZRANGE', active, 0, -1)) do
    if withdrawn >= batch then break end
    local backlog = fair_key(prefix, 'q', task, value)
    for _, key in ipairs(redis.call('ZRANGE', backlog, 0, batch - withdrawn - 1)) do
      if redis.call('HGET', prefix .. ':runs:' .. key, 'fairq') == '1' then
        withdraw(key, 'queued')
        redis.call('DEL', parked_key(prefix, key))
      end
      redis.call('ZREM', backlog, key)
      withdrawn = withdrawn + 1
    end
    if redis.call('ZCARD', backlog) == 0 then
      redis.call('DEL', backlog)
      redis.call('ZREM', active, value)
    end
  end
  fair_retire(prefix, task)
end
return withdrawn
