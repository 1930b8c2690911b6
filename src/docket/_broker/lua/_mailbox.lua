-- _mailbox: tasks that wait for a signal, and signals kept for waiters still to come.
-- Included after _gates by schedule (a wait opens at add, or when a running task
-- parks again), stream_due (timeouts) and signal (delivery): a signal is one more
-- thing a gate waits for, counted in its "~pending" like a parent, so a task waiting
-- on parents and a signal is released by whichever comes last, in that step.
--
-- Keys (all under the docket's prefix P, so they share its hash tag on a cluster):
--   P:mailbox:kept:N     list, signals named N sent while nobody waited, oldest first,
--                        each "<expiry, epoch seconds>|<payload>"; the list expires
--                        with its newest entry (the lookback of the last send).
--   P:mailbox:waiters:N  sorted set, the keys of the tasks waiting for N, by when
--                        their wait started: a signal goes to the oldest.
--   P:mailbox:deadlines  sorted set, the waiting tasks that have a timeout, by their
--                        earliest deadline: the scheduler's move (stream_due) reads it.
-- Both sorted sets hold only tasks waiting now (they leave when released, timed
-- out, cancelled, replaced or cleared: gate_drop), like P:waiting.
-- Fields of the gate P:gate:K of a task waiting for N (see _gates.lua):
--   "s:N" "w" while waiting, "r" once received, "t" once timed out
--   "v:N" the payload received      "d:N" the deadline (epoch seconds), if any
--   "a:N" when the wait started (epoch seconds)

-- Take `key` out of the sorted set `set`, deleting the set once empty (the
-- embedded memory:// engine keeps an emptied sorted set; Redis deletes it).
local function mailbox_forget(set, key)
  redis.call('ZREM', set, key)
  if redis.call('ZCARD', set) == 0 then redis.call('DEL', set) end
end

local function mailbox_waiters(prefix, name) return prefix .. ':mailbox:waiters:' .. name end
local function mailbox_kept(prefix, name) return prefix .. ':mailbox:kept:' .. name end
local function mailbox_deadlines(prefix) return prefix .. ':mailbox:deadlines' end

-- The oldest kept signal N still within its lookback at `now`, taken off the list
-- (expired ones are dropped on the way); nil when there is none.
local function mailbox_take(prefix, name, now)
  local kept = mailbox_kept(prefix, name)
  while true do
    local entry = redis.call('LPOP', kept)
    if not entry then return nil end
    local bar = string.find(entry, '|', 1, true)
    local expiry = bar and tonumber(string.sub(entry, 1, bar - 1))
    if expiry and expiry > now then return string.sub(entry, bar + 1) end
  end
end

-- Keep signal N for `lookback` seconds from `now` (the list lives as long as its
-- newest entry).
local function mailbox_keep(prefix, name, payload, now, lookback)
  local kept = mailbox_kept(prefix, name)
  redis.call('RPUSH', kept, string.format('%.3f', now + lookback) .. '|' .. payload)
  local seconds = math.ceil(lookback)
  -- (engines without TTL in scripts, like the embedded memory:// one, take the
  -- lookback of this send)
  local ok, left = pcall(redis.call, 'TTL', kept)
  if not ok or left < seconds then redis.call('EXPIRE', kept, seconds) end
end

-- `key` now waits until `deadline` at the latest (its entry in the deadlines keeps
-- the earliest); the scheduler is woken when it is the earliest of all.
local function mailbox_deadline(prefix, key, deadline)
  local deadlines = mailbox_deadlines(prefix)
  local current = tonumber(redis.call('ZSCORE', deadlines, key))
  if current and current <= deadline then return end
  redis.call('ZADD', deadlines, deadline, key)
  local first = redis.call('ZRANGE', deadlines, 0, 0)
  if first[1] == key then emit(prefix .. ':cancel:wake', tostring(deadline)) end
end

-- Open the signal waits of `key` in its gate: `signals` is a list of
-- {name, deadline or nil, fresh}. A wait already received in this run is kept (a
-- retry runs with the same payload) unless `fresh`; a kept signal is consumed at
-- once; otherwise `key` joins the waiters of N (and the deadlines). Returns how many
-- signals it still waits for (added to the gate's "~pending").
local function mailbox_open(prefix, key, signals, now, immediate)
  local gate = gate_key(prefix, key)
  local pending, fields = 0, {'~immediate', immediate and '1' or '0'}
  for _, wait in ipairs(signals) do
    local name, deadline, fresh = wait[1], wait[2], wait[3]
    if fresh or redis.call('HGET', gate, 's:' .. name) ~= 'r' then
      local payload = mailbox_take(prefix, name, now)
      fields[#fields + 1] = 'a:' .. name; fields[#fields + 1] = tostring(now)
      if payload then
        fields[#fields + 1] = 's:' .. name; fields[#fields + 1] = 'r'
        fields[#fields + 1] = 'v:' .. name; fields[#fields + 1] = payload
      else
        fields[#fields + 1] = 's:' .. name; fields[#fields + 1] = 'w'
        redis.call('ZADD', mailbox_waiters(prefix, name), now, key)
        pending = pending + 1
        if deadline then
          fields[#fields + 1] = 'd:' .. name; fields[#fields + 1] = tostring(deadline)
          mailbox_deadline(prefix, key, deadline)
        end
      end
    end
  end
  redis.call('HSET', gate, unpack(fields))
  redis.call('HINCRBY', gate, '~pending', pending)
  return pending
end

-- `count` waits of `key` ended (received or timed out): a gate with nothing left
-- to wait for releases its task, while its record still says it waits.
local function mailbox_settled(prefix, key, count, listening)
  local left = redis.call('HINCRBY', gate_key(prefix, key), '~pending', -count)
  if left > 0 then return end
  mailbox_forget(mailbox_deadlines(prefix), key)
  if redis.call('HGET', prefix .. ':runs:' .. key, 'state') == 'waiting' then
    gate_release(prefix, key, listening)
  end
end

-- Deliver signal N with `payload`: the task that has waited longest for it receives
-- it (and is released when it waits for nothing else); with nobody waiting it is
-- kept `lookback` seconds (0: dropped). Returns true when a waiter received it.
local function mailbox_deliver(prefix, name, payload, now, lookback, listening)
  local waiters = mailbox_waiters(prefix, name)
  while true do
    local first = redis.call('ZRANGE', waiters, 0, 0)
    local key = first[1]
    if not key then
      if lookback > 0 then mailbox_keep(prefix, name, payload, now, lookback) end
      return false
    end
    mailbox_forget(waiters, key)
    local gate = gate_key(prefix, key)
    if redis.call('HGET', gate, 's:' .. name) == 'w' then
      redis.call('HSET', gate, 's:' .. name, 'r', 'v:' .. name, payload)
      mailbox_settled(prefix, key, 1, listening)
      return true
    end
  end
end

-- Signal waits whose deadline passed by `now` time out ("t"); a task left with
-- nothing to wait for is released (it runs with the parameter's default, or fails).
-- At most `limit` tasks a call. Returns the earliest deadline still ahead, or nil.
local function mailbox_expire(prefix, now, limit, listening)
  local deadlines = mailbox_deadlines(prefix)
  local due = redis.call('ZRANGEBYSCORE', deadlines, '-inf', now, 'LIMIT', 0, limit)
  for _, key in ipairs(due) do
    mailbox_forget(deadlines, key)
    local gate = gate_key(prefix, key)
    local fields = redis.call('HGETALL', gate)
    local marks, times, dropped = {}, {}, false
    for i = 1, #fields, 2 do
      local kind, name = string.sub(fields[i], 1, 2), string.sub(fields[i], 3)
      if kind == 's:' then marks[name] = fields[i + 1]
      elseif kind == 'd:' then times[name] = tonumber(fields[i + 1])
      elseif fields[i] == '~dropped' then dropped = true end
    end
    if not dropped then
      local expired, later = 0, nil
      for name, mark in pairs(marks) do
        local deadline = times[name]
        if mark == 'w' and deadline then
          if deadline <= now then
            redis.call('HSET', gate, 's:' .. name, 't')
            mailbox_forget(mailbox_waiters(prefix, name), key)
            expired = expired + 1
          elseif not later or deadline < later then
            later = deadline
          end
        end
      end
      if later then redis.call('ZADD', deadlines, later, key) end
      if expired > 0 then mailbox_settled(prefix, key, expired, listening) end
    end
  end
  local first = redis.call('ZRANGE', deadlines, 0, 0, 'WITHSCORES')
  return tonumber(first[2])
end
