-- Priority lanes (included by every script that places a due task).
--
-- A due task of priority 5 (the default) goes to the stream P:stream, as it always
-- has. A due task of any other priority p (1 lowest .. 9 highest) waits on its lane
-- P:lane:<p>, a sorted set of task keys scored by the time the task became due, its
-- message parked at P:K (parked_key) like a future task's, its run record `queued`
-- with `lane` = p. P:lanes is the set of lanes that hold a task. dispatch.lua moves
-- lane tasks into the stream as workers ask for work, best first (see there).
-- When P:lanes goes from empty to not empty, a doorbell entry (one field,
-- `doorbell`; its id kept at P:doorbell) is added to the stream, so a worker
-- blocked on an empty stream wakes (readers skip it; the next dispatch deletes it),
-- and `lanes` is published on the wake channel, so busy workers start dispatching.

local function lane_key(prefix, lane) return prefix .. ':lane:' .. lane end

-- The priority a message carries (its `priority` field), 5 when it has none.
local function message_priority(fields)
  for i = 1, #fields, 2 do
    if fields[i] == 'priority' then return tonumber(fields[i + 1]) or 5 end
  end
  return 5
end

-- Place the due task `key` (message `fields`, a flat list) where its priority says:
-- the stream for 5 (returns the stream id), else its lane (returns '' and leaves
-- the run record to the caller, which writes `lane` = the priority). `due` is the
-- time it became due (epoch seconds): its lane's order, and where its aging starts.
local function lane_place(prefix, key, fields, priority, due)
  if priority == 5 then
    return redis.call('XADD', prefix .. ':stream', '*', unpack(fields))
  end
  redis.call('HSET', parked_key(prefix, key), unpack(fields))
  redis.call('ZADD', lane_key(prefix, priority), due, key)
  local lanes = prefix .. ':lanes'
  if redis.call('SADD', lanes, priority) == 1  -- a new lane; the only one?
      and #redis.call('SMEMBERS', lanes) == 1 then
    if redis.call('EXISTS', prefix .. ':doorbell') == 0 then  -- one at a time
      local bell = redis.call('XADD', prefix .. ':stream', '*', 'doorbell', '1')
      redis.call('SET', prefix .. ':doorbell', bell)  -- the next dispatch removes it
    end
    emit(prefix .. ':cancel:wake', 'lanes')
  end
  return ''
end

-- How many tasks wait on lane `lane`; an emptied lane leaves the set of lanes in
-- use, and both are deleted once empty (the embedded engine keeps empty keys).
local function lane_left(prefix, lane)
  local lk, lanes = lane_key(prefix, lane), prefix .. ':lanes'
  local waiting = redis.call('ZCARD', lk)
  if waiting == 0 then
    redis.call('DEL', lk)
    redis.call('SREM', lanes, lane)
    if #redis.call('SMEMBERS', lanes) == 0 then redis.call('DEL', lanes) end
  end
  return waiting
end

-- Take `key` off lane `lane` (cancel, replace, clear); its parked message is the
-- caller's to delete.
local function lane_withdraw(prefix, key, lane)
  redis.call('ZREM', lane_key(prefix, lane), key)
  lane_left(prefix, lane)
end

-- MaxQueued (backpressure): P:queued:<task> lists the keys of a task type added with
-- a limit (scored by due time). Whether `limit` of them still wait (their records
-- `scheduled`, `queued` or `waiting`, for that task), not counting `key` itself (a
-- replace of a waiting key takes its own place). Keys that stopped waiting (running,
-- ended, replaced by another task, expired) are dropped from the list here, only
-- once it looks full, so an add below the limit pays one ZCARD. The list expires a
-- day after the latest due time it holds (renewed by every add: max_queued_note).
local WAITING = {scheduled = true, queued = true, waiting = true}
local function max_queued_full(prefix, task, key, limit)
  local listed = prefix .. ':queued:' .. task
  if redis.call('ZCARD', listed) < limit then return false end
  local waiting = 0
  for _, member in ipairs(redis.call('ZRANGE', listed, 0, -1)) do
    local record = hash_fields(prefix .. ':runs:' .. member, 'state', 'function')
    if record and WAITING[record[1]] and record[2] == task then
      if member ~= key then waiting = waiting + 1 end
    else
      redis.call('ZREM', listed, member)
    end
  end
  return waiting >= limit
end

-- Lists `key` (due at `when`) among its task type's waiting keys for MaxQueued, and
-- keeps the list until a day past the latest due time it holds (`now`: the add's
-- time, epoch seconds): an index of waiting work with no add for that long is
-- dropped rather than kept for ever.
local QUEUED_GRACE = 86400
local function max_queued_note(prefix, task, key, when, now)
  local listed = prefix .. ':queued:' .. task
  redis.call('ZADD', listed, when, key)
  local last = tonumber(redis.call('ZRANGE', listed, -1, -1, 'WITHSCORES')[2])
  redis.call('EXPIRE', listed, math.max(math.ceil(last - now), 0) + QUEUED_GRACE)
end
