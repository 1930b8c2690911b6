-- Fair share (included after _lanes.lua, and before _gates.lua, whose release of a
-- workflow's follower places a FairShare task here, by every script that includes
-- _gates.lua, and by claim and fair_release): the backlogs of a task whose parameter
-- is annotated FairShare(), and the fair release into the stream.
--
-- A due message of such a task (it carries a `fair` field: the parameter's value)
-- does not go to the stream: it waits in its parked hash P:K (as a future task does),
-- its key in the backlog of its value, and its run record says state "queued",
-- fair=<value>, fairq=1 (0 once released). Keys (the task name is length-prefixed, so no task name or
-- value can make two families meet; values may hold any byte):
--   P:fair:tasks                       zset (all scores 0): tasks that have a backlog
--                                      (no TTL: every member has live work; it leaves
--                                      once its backlogs are empty)
--   P:fair:weights                     hash: <len>:<task>:<value> -> weight (settings)
--   P:fair:active:<len>:<task>         zset: value -> start tag of its next task
--   P:fair:q:<len>:<task>:<value>      zset: task key -> due time (one value's backlog)
--   P:fair:out:<len>:<task>            zset: key -> generation, released and not yet
--                                      claimed (at most `window` of them)
--   P:fair:meta:<len>:<task>           hash: vt (virtual time: the start tag of the
--                                      last release), window (the sum of the next)
--   P:fair:windows:<len>:<task>        hash: worker -> "<its part of the window>
--                                      <epoch told>" (fair_release.lua)
--   P:fair:owed:<len>:<task>           zset: value -> the start tag its next task
--                                      would have had, for a value whose backlog a
--                                      release emptied (only while above vt)
-- Release is start-time fair queueing: the value with the smallest start tag goes
-- next; releasing charges it 1/weight; a value that had no backlog joins at the
-- current virtual time, so it neither waits behind the others' backlogs nor gets
-- credit for the time it was idle; a value whose last task was just released
-- comes back no earlier than its next start (P:fair:owed), so emptying its backlog
-- a moment buys it no extra turn.

local FAIR_DEFAULT_WINDOW = 10
local FAIR_TTL = 86400

local function fair_key(prefix, kind, task, value)
  local k = prefix .. ':fair:' .. kind .. ':' .. #task .. ':' .. task
  if value then k = k .. ':' .. value end
  return k
end

local function fair_weight(prefix, task, value, weighted)
  if not weighted then return 1 end
  local w = tonumber(redis.call('HGET', prefix .. ':fair:weights',
    #task .. ':' .. task .. ':' .. value))
  -- 1 unless a positive, finite number (tonumber takes "nan" and "inf"; a nan
  -- start would fail the ZADD, an infinite weight would charge nothing).
  if not w or not (w > 0) or w == math.huge then return 1 end
  return w
end

-- How many tasks wait in `value`'s backlog.
local function fair_depth(prefix, task, value)
  return redis.call('ZCARD', fair_key(prefix, 'q', task, value))
end

-- The FairShare value and task name a message carries (nil, nil for a task without
-- FairShare: its message has no `fair` field).
local function fair_of(fields)
  local fair, task = nil, nil
  for i = 1, #fields, 2 do
    if fields[i] == 'fair' then fair = fields[i + 1] end
    if fields[i] == 'function' then task = fields[i + 1] end
  end
  return fair, task
end

-- Put due task `key` (message `fields`, a flat list) in its value's backlog.
local function fair_enter(prefix, task, value, key, fields, when)
  local parked = parked_key(prefix, key)
  redis.call('DEL', parked)
  redis.call('HSET', parked, unpack(fields))
  redis.call('ZADD', fair_key(prefix, 'q', task, value), when, key)
  local active = fair_key(prefix, 'active', task)
  if not redis.call('ZSCORE', active, value) then
    local vt = tonumber(redis.call('HGET', fair_key(prefix, 'meta', task), 'vt')) or 0
    local owed = fair_key(prefix, 'owed', task)
    local next_start = tonumber(redis.call('ZSCORE', owed, value))
    if next_start then
      redis.call('ZREM', owed, value)
      if next_start > vt then vt = next_start end
    end
    redis.call('ZADD', active, vt, value)
    redis.call('ZADD', prefix .. ':fair:tasks', 0, task)
  end
end

-- `task` leaves P:fair:tasks once it has no value with a backlog (and the set goes
-- when empty: the embedded engine keeps empty keys).
local function fair_retire(prefix, task)
  local active = fair_key(prefix, 'active', task)
  if redis.call('ZCARD', active) > 0 then return end
  redis.call('DEL', active)
  redis.call('ZREM', prefix .. ':fair:tasks', task)
  if redis.call('ZCARD', prefix .. ':fair:tasks') == 0 then
    redis.call('DEL', prefix .. ':fair:tasks')
  end
end

-- Take `key` out of `value`'s backlog (cancel, replace, clear). A backlog this empties
-- goes at once, with its value's place in the active set (and the task's, when it was
-- the last): no release may come to drop them (no worker serving the task), and
-- nothing else gives them a TTL. Should the value come back, it joins at the current
-- virtual time, at most one task ahead of its old start.
local function fair_leave(prefix, task, value, key)
  local backlog = fair_key(prefix, 'q', task, value)
  redis.call('ZREM', backlog, key)
  if redis.call('ZCARD', backlog) == 0 then
    redis.call('DEL', backlog)
    redis.call('ZREM', fair_key(prefix, 'active', task), value)
    fair_retire(prefix, task)
  end
end

-- A claimed (or dropped) message of `task` is no longer waiting in the stream.
local function fair_claimed(prefix, task, key)
  redis.call('ZREM', fair_key(prefix, 'out', task), key)
end

-- Release tasks of `task` into `stream` (or their priority's lane), fairest first,
-- until `window` released tasks wait unclaimed. With `scan` (the workers' periodic
-- call), a full window is first checked for released tasks that left the stream
-- without a claim; adds and claims skip that look. Returns how many were released.
-- A task at the head of a backlog that cannot be released is broken: its run record
-- is not a hash ('bad-run-record'), or the record says it waits here while its parked
-- message is missing or not a hash ('bad-parked-task'; HGETALL would fail the whole
-- script, for every release of the task). With `bury` (a function(key, value,
-- reason), given by fair_release.lua, which has what ending a run needs: the dead
-- letters, the worker, the records' TTL) it leaves the backlog, is ended there, and
-- the release goes on; without it (add, claim, the scheduler, a workflow's release)
-- the release stops before it, leaving it to the workers' periodic release.
local function fair_release(prefix, task, stream, scan, bury)
  local meta = fair_key(prefix, 'meta', task)
  local out = fair_key(prefix, 'out', task)
  local active = fair_key(prefix, 'active', task)
  local window = tonumber(redis.call('HGET', meta, 'window')) or FAIR_DEFAULT_WINDOW
  local waiting = redis.call('ZCARD', out)
  if scan and waiting >= window then
    -- Drop released tasks that left the stream without a claim (cancelled, struck,
    -- paused, superseded, dead-lettered): only they can hold the window shut.
    local members = redis.call('ZRANGE', out, 0, -1, 'WITHSCORES')
    for i = 1, #members, 2 do
      local record = hash_fields(prefix .. ':runs:' .. members[i], 'state', 'generation',
        'stream_id', 'lane')
      if not record or record[1] ~= 'queued' or record[2] ~= members[i + 1]
          or ((record[3] or '') == '' and (record[4] or '') == '') then
        redis.call('ZREM', out, members[i])
        waiting = waiting - 1
      end
    end
  end
  local released, vt, owing = 0, nil, false
  local weighted = nil  -- whether any weight is set (read once, at the first release)
  while waiting < window do
    local head = redis.call('ZRANGE', active, 0, 0, 'WITHSCORES')
    if not head[1] then break end
    local value, start = head[1], tonumber(head[2])
    local backlog = fair_key(prefix, 'q', task, value)
    local first = redis.call('ZRANGE', backlog, 0, 1, 'WITHSCORES')  -- (and is there more?)
    if not first[1] then
      redis.call('ZREM', active, value)
      redis.call('DEL', backlog)  -- gone already on Redis; the embedded engine keeps it
    else
      local key = first[1]
      local runs = prefix .. ':runs:' .. key
      local record = hash_fields(runs, 'state', 'fairq', 'fair', 'generation')
      local fields, broken = nil, nil
      if not record then
        broken = 'bad-run-record'
      elseif record[1] == 'queued' and record[2] == '1' and record[3] == value then
        local ok, found = pcall(redis.call, 'HGETALL', parked_key(prefix, key))
        if ok and #found > 0 then fields = found else broken = 'bad-parked-task' end
      end
      -- Anything else is a task no longer waiting here (a replaced or cancelled one
      -- left its entry behind): its entry just goes.
      if broken and not bury then break end
      redis.call('ZREM', backlog, key)
      if broken then
        bury(key, value, broken)
      elseif fields then
        -- Released onto the stream, or, for a priority other than 5, its lane
        -- (_lanes.lua): fairness chose the task, priority orders it among the rest.
        local priority = message_priority(fields)
        if priority == 5 then
          local id = redis.call('XADD', stream, '*', unpack(fields))
          redis.call('DEL', parked_key(prefix, key))
          redis.call('HSET', runs, 'stream_id', id, 'fairq', '0')
        else
          lane_place(prefix, key, fields, priority, tonumber(first[2]) or 0)
          redis.call('HSET', runs, 'lane', tostring(priority), 'fairq', '0')
        end
        redis.call('ZADD', out, tonumber(record[4]) or 0, key)
        released = released + 1
        waiting = waiting + 1
        vt = start
        if weighted == nil then
          weighted = redis.call('EXISTS', prefix .. ':fair:weights') == 1
        end
        -- Its next start; a value whose backlog this emptied leaves the active
        -- set at once (nothing else would take it out while the window stays
        -- full), its next start kept in P:fair:owed for when it comes back.
        local next_start = start + 1 / fair_weight(prefix, task, value, weighted)
        if first[3] then
          redis.call('ZADD', active, next_start, value)
        else
          redis.call('ZREM', active, value)
          redis.call('DEL', backlog)  -- gone already on Redis; the embedded engine keeps it
          redis.call('ZADD', fair_key(prefix, 'owed', task), next_start, value)
          owing = true
        end
      end
    end
  end
  fair_retire(prefix, task)
  if released > 0 then
    redis.call('HSET', meta, 'vt', tostring(vt))
    redis.call('EXPIRE', out, FAIR_TTL)
    redis.call('EXPIRE', meta, FAIR_TTL)
    if owing then
      -- A next start the virtual time has reached is owed no more (a value
      -- joins at vt anyway); one left behind by an earlier release only wastes
      -- a member until this trims it or the key expires.
      local owed = fair_key(prefix, 'owed', task)
      redis.call('ZREMRANGEBYSCORE', owed, '-inf', vt)
      if redis.call('ZCARD', owed) == 0 then
        redis.call('DEL', owed)  -- the embedded engine keeps empty keys
      else
        redis.call('EXPIRE', owed, FAIR_TTL)
      end
    end
  end
  return released
end
