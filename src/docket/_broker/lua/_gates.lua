-- _gates: tasks that wait for other tasks (added with after=). Included after the
-- prelude, _lanes.lua and _fair.lua by every script that starts or ends a run
-- (schedule, settle, cancel, and _runs' end_run), so a parent's end is counted in the
-- same atomic step as the end itself.
--
-- Keys (all under the docket's prefix P, so they share its hash tag on a cluster):
--   P:gate:F     hash, what waiting task F still needs: "~pending" (how many things
--                it still waits for), "~policy" ("cancel" | "run"), "~immediate"
--                ("1": it goes to the stream when released, "0": to the queue at
--                its own time), "~total", "~dropped" (set once F ended or was
--                replaced: its holds are given back), and one "p:<parent key>" field
--                per parent: "w" while waited for, then the state it ended in.
--                A signal wait is one more kind of field ("s:<name>", with "v:",
--                "d:", "a:" beside it; see _mailbox.lua) and one more count in
--                "~pending".
--   P:waiters:K  set, the keys of the tasks waiting for K's run to end.
--   P:waiting    sorted set, every task waiting now (by its due time): what
--                snapshots count and list.
-- Fields on a run record P:runs:K: "waiters" = "1" while P:waiters:K may hold keys,
-- "gate" = "1" when the task has a gate, "held" = how many followers still hold the
-- ended record (it has no TTL while they do: Parents() reads it).

local GATE_ENDED = {completed = true, failed = true, cancelled = true}
local GATE_CHUNK = 500

local function gate_key(prefix, key) return prefix .. ':gate:' .. key end
local function gate_waiters(prefix, key) return prefix .. ':waiters:' .. key end

-- The TTL an ended record gets when nothing holds it (0 = it goes now).
local function gate_expire(runs, ttl)
  if ttl > 0 then redis.call('EXPIRE', runs, ttl) else redis.call('DEL', runs) end
end

-- Take the TTL off an ended record that followers now hold (engines without
-- PERSIST, like the embedded memory:// one, write the hash again).
local function gate_persist(runs)
  if pcall(redis.call, 'PERSIST', runs) then return end
  local fields = redis.call('HGETALL', runs)
  if #fields == 0 then return end
  redis.call('DEL', runs)
  redis.call('HSET', runs, unpack(fields))
end

-- A follower lets go of the ended record of `parent`: the last one to let go gives
-- it its TTL. A record that belongs to a new run of the key is left alone.
local function gate_unhold(prefix, parent, ttl)
  local runs = prefix .. ':runs:' .. parent
  local state = redis.call('HGET', runs, 'state')
  if not state then return end
  local left = redis.call('HINCRBY', runs, 'held', -1)
  if left <= 0 then
    redis.call('HDEL', runs, 'held')
    if GATE_ENDED[state] then gate_expire(runs, ttl) end
  end
end

-- The gate of `follower` is done with (it ended, or a replace or cancel withdrew it):
-- it leaves the waiter sets of the parents still running and lets go of the ones that
-- ended. Done once ("~dropped"). `keep` seconds the gate stays readable (0 = delete).
local function gate_drop(prefix, follower, ttl, keep)
  local gate = gate_key(prefix, follower)
  redis.call('ZREM', prefix .. ':waiting', follower)
  local fields = redis.call('HGETALL', gate)
  for i = 1, #fields, 2 do
    if fields[i] == '~dropped' then
      if keep <= 0 then redis.call('DEL', gate) end
      return
    end
  end
  redis.call('HSET', gate, '~dropped', '1')
  for i = 1, #fields, 2 do
    local name = fields[i]
    if string.sub(name, 1, 2) == 'p:' then
      local parent = string.sub(name, 3)
      if fields[i + 1] == 'w' then
        redis.call('SREM', gate_waiters(prefix, parent), follower)
      else
        gate_unhold(prefix, parent, ttl)
      end
    elseif string.sub(name, 1, 2) == 's:' and fields[i + 1] == 'w' then
      -- a signal still awaited (_mailbox.lua): no longer waited for
      for _, set in ipairs({prefix .. ':mailbox:waiters:' .. string.sub(name, 3),
          prefix .. ':mailbox:deadlines'}) do
        redis.call('ZREM', set, follower)
        if redis.call('ZCARD', set) == 0 then redis.call('DEL', set) end
      end
    end
  end
  if keep > 0 and #fields > 2 then redis.call('EXPIRE', gate, keep) else redis.call('DEL', gate) end
end

local function gate_event(prefix, key, body)
  emit(prefix .. ':state:' .. key, '{"type":"state","key":' .. json_string(key) .. body .. '}')
end

-- Every parent of `follower` ended: its parked message goes to the stream (or the
-- queue, at its own time, when it was added for later), or, for a FairShare task,
-- to its value's backlog, released from there like any due task (_fair.lua).
local function gate_release(prefix, follower, listening)
  local runs = prefix .. ':runs:' .. follower
  local parked = parked_key(prefix, follower)
  local immediate = redis.call('HGET', gate_key(prefix, follower), '~immediate')
  redis.call('ZREM', prefix .. ':waiting', follower)
  if immediate == '1' then
    local fields = redis.call('HGETALL', parked)
    if #fields == 0 then return end
    local priority = message_priority(fields)
    local fair, task = fair_of(fields)
    if fair and task then
      redis.call('HSET', runs, 'state', 'queued', 'fair', fair, 'fairq', '1')
      fair_enter(prefix, task, fair, follower, fields,
        tonumber(redis.call('HGET', runs, 'when')) or 0)
      fair_release(prefix, task, prefix .. ':stream')
    elseif priority ~= 5 then  -- its priority's lane (_lanes.lua), still parked
      lane_place(prefix, follower, fields, priority, tonumber(redis.call('HGET', runs,
        'when')) or 0)
      redis.call('HSET', runs, 'state', 'queued', 'lane', tostring(priority))
    else
      local id = redis.call('XADD', prefix .. ':stream', '*', unpack(fields))
      redis.call('DEL', parked)
      redis.call('HSET', runs, 'state', 'queued', 'stream_id', id)
    end
    if listening then gate_event(prefix, follower, ',"state":"queued"') end
  else
    local when = redis.call('HGET', runs, 'when')
    local queue = prefix .. ':queue'
    redis.call('ZADD', queue, when, follower)
    redis.call('HSET', runs, 'state', 'scheduled')
    local first = redis.call('ZRANGE', queue, 0, 0)
    if first[1] == follower then emit(prefix .. ':cancel:wake', when) end
    if listening then gate_event(prefix, follower, ',"state":"scheduled"') end
  end
end

-- A waiting follower is cancelled because `parent` ended `state`.
local function gate_cancel(prefix, follower, parent, state, completed_at, listening)
  local runs = prefix .. ':runs:' .. follower
  local err = 'parent ' .. parent .. ' ended ' .. state
  redis.call('HSET', runs, 'state', 'cancelled', 'completed_at', completed_at,
    'error', err, 'stream_id', '')
  redis.call('DEL', parked_key(prefix, follower))
  if listening then
    gate_event(prefix, follower, ',"state":"cancelled","completed_at":"' .. completed_at
      .. '","error":' .. json_string(err))
  end
end

-- The run of `key` ended in `state` (its record already says so or is about to):
-- count it against every gate waiting on it, releasing or cancelling the followers
-- whose count reaches zero (cancels spread to their own followers, through a work
-- list), and give back the holds of its own gate. `waiters` / `gated` are the record's
-- flags; the caller wrote the ended state first. Returns true when the record of
-- `key` must be kept (followers hold it: the caller gives it no TTL).
local function gate_ended(prefix, key, state, completed_at, ttl, listening, waiters, gated)
  local work = {{key, state, waiters, gated}}
  local n = 1
  while n <= #work do
    local k, s, w, g = work[n][1], work[n][2], work[n][3], work[n][4]
    local runs = prefix .. ':runs:' .. k
    if g then gate_drop(prefix, k, ttl, ttl) end
    local holds = 0
    if w then
      local set = gate_waiters(prefix, k)
      local followers = redis.call('SMEMBERS', set)
      redis.call('DEL', set)
      redis.call('HDEL', runs, 'waiters')
      for _, f in ipairs(followers) do
        local gate = gate_key(prefix, f)
        if redis.call('HGET', gate, 'p:' .. k) == 'w' then
          holds = holds + 1
          redis.call('HSET', gate, 'p:' .. k, s)
          local left = redis.call('HINCRBY', gate, '~pending', -1)
          if s ~= 'completed' and redis.call('HGET', gate, '~policy') ~= 'run' then
            gate_cancel(prefix, f, k, s, completed_at, listening)
            local flag = redis.call('HGET', prefix .. ':runs:' .. f, 'waiters')
            work[#work + 1] = {f, 'cancelled', flag, true}
          elseif left <= 0 then
            gate_release(prefix, f, listening)
          end
        end
      end
    end
    if holds > 0 then
      redis.call('HINCRBY', runs, 'held', holds)
      if n > 1 then gate_persist(runs) end
    elseif n > 1 then
      gate_expire(runs, ttl)  -- a follower cancelled here, held by nobody
    end
    n = n + 1
  end
  return (tonumber(redis.call('HGET', prefix .. ':runs:' .. key, 'held')) or 0) > 0
end

-- Before a gated add writes anything: a parent the docket does not know, or one
-- that (through the gates of waiting tasks) waits for `key` itself, refuses the add.
-- Returns nil and what it read of each parent ({state, has waiters}, for gate_open),
-- or {"UNKNOWN" | "CYCLE", parent}.
local function gate_check(prefix, key, parents)
  local seen_parents = {}
  for n, p in ipairs(parents) do
    if p == key then return {'CYCLE', p} end
    local record = hash_fields(prefix .. ':runs:' .. p, 'state', 'gate', 'waiters')
    if not record or not record[1] then return {'UNKNOWN', p} end
    seen_parents[n] = {record[1], record[3]}
    if record[2] and record[1] == 'waiting' then
      local seen, stack = {[p] = true}, {p}
      while #stack > 0 do
        local node = table.remove(stack)
        local fields = redis.call('HGETALL', gate_key(prefix, node))
        for i = 1, #fields, 2 do
          if fields[i + 1] == 'w' and string.sub(fields[i], 1, 2) == 'p:' then
            local up = string.sub(fields[i], 3)
            if up == key then return {'CYCLE', p} end
            if not seen[up] then
              seen[up] = true
              stack[#stack + 1] = up
            end
          end
        end
      end
    end
  end
  return nil, seen_parents
end

-- Open the gate of `key` on `parents` (checked by gate_check, which read `seen`:
-- each parent's state and waiters flag): parents still to end get `key` in their
-- waiter set; ended ones count now with their outcome (and are held). No earlier
-- gate of `key` is left (a new run drops it first, and a gate expires with its
-- record). Returns what becomes of the task: "released" (nothing left to wait for),
-- "waiting", or "cancelled" plus the parent that ended badly (policy "cancel").
local function gate_open(prefix, key, parents, seen, policy, immediate)
  local gate = gate_key(prefix, key)
  local pending, bad, bad_state = 0, nil, nil
  local fields = {}
  local function flush()
    if #fields > 0 then
      redis.call('HSET', gate, unpack(fields))
      fields = {}
    end
  end
  local named = {}
  for n, p in ipairs(parents) do
    local runs = prefix .. ':runs:' .. p
    local state = seen[n][1]
    if named[p] then
      -- named twice: counted once
    elseif GATE_ENDED[state] then
      redis.call('HINCRBY', runs, 'held', 1)
      gate_persist(runs)
      fields[#fields + 1] = 'p:' .. p
      fields[#fields + 1] = state
      if state ~= 'completed' and not bad then bad, bad_state = p, state end
    else
      redis.call('SADD', gate_waiters(prefix, p), key)
      if not seen[n][2] then redis.call('HSET', runs, 'waiters', '1') end
      fields[#fields + 1] = 'p:' .. p
      fields[#fields + 1] = 'w'
      pending = pending + 1
    end
    named[p] = true
    if #fields >= GATE_CHUNK then flush() end
  end
  fields[#fields + 1] = '~pending'; fields[#fields + 1] = tostring(pending)
  local total = 0
  for _ in pairs(named) do total = total + 1 end
  fields[#fields + 1] = '~total'; fields[#fields + 1] = tostring(total)
  fields[#fields + 1] = '~policy'; fields[#fields + 1] = policy
  fields[#fields + 1] = '~immediate'; fields[#fields + 1] = immediate and '1' or '0'
  flush()
  if bad and policy ~= 'run' then return 'cancelled', bad, bad_state end
  if pending == 0 then return 'released' end
  return 'waiting'
end
