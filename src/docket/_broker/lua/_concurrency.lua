-- _concurrency: helpers shared by the concurrency scripts (included at the top of
-- their body, after the prelude). The including script fills C before calling them:
--   C.prefix (P), C.stream (P:stream), C.queue (P:queue), C.slot (slot sorted set),
--   C.waiters (its waiter stream), C.listening (bool), C.now (epoch seconds, text),
--   C.ttl (slot key TTL in ms).
-- A slot key is a sorted set: member = task key, score = time acquired or renewed.
-- A woken waiter gets its slot reserved at once (member added, and its run record
-- marked slot_reserved=<generation>), so newcomers cannot overtake it.
local C = {}

local function field(fields, name)
  for i = 1, #fields, 2 do
    if fields[i] == name then return fields[i + 1] end
  end
  return nil
end

local function set_field(fields, name, value)
  for i = 1, #fields, 2 do
    if fields[i] == name then fields[i + 1] = value; return end
  end
  fields[#fields + 1] = name
  fields[#fields + 1] = value
end

-- Withdraw the safeguard task of key K (``__safeguard__:K``) unless it is running.
local function drop_safeguard(key)
  local safeguard = '__safeguard__:' .. key
  redis.call('ZREM', C.queue, safeguard)
  redis.call('DEL', parked_key(C.prefix, safeguard))
  local runs = C.prefix .. ':runs:' .. safeguard
  local record = hmget(runs, 'state', 'stream_id')
  if record[1] == 'running' then return end
  if record[2] and record[2] ~= '' then redis.call('XDEL', C.stream, record[2]) end
  redis.call('DEL', runs)
end

local function take(key)
  redis.call('ZADD', C.slot, C.now, key)
  redis.call('PEXPIRE', C.slot, C.ttl)
end

-- Evict holders that stopped renewing (score below stale, oldest first), then holders
-- whose run record is gone or terminal (a crash between the terminal write and the
-- release, or a woken waiter that was cancelled before it started). At most
-- ``limit`` members go (nil: every such member).
local function evict(stale, limit)
  local left = limit or math.huge
  if limit == nil then
    redis.call('ZREMRANGEBYSCORE', C.slot, '-inf', '(' .. stale)
  else
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', C.slot, '-inf', '(' .. stale)) do
      if left <= 0 then return end
      redis.call('ZREM', C.slot, member)
      left = left - 1
    end
  end
  for _, member in ipairs(redis.call('ZRANGE', C.slot, 0, -1)) do
    if left <= 0 then return end
    local state = redis.call('HGET', C.prefix .. ':runs:' .. member, 'state')
    if not state or state == 'completed' or state == 'failed' or state == 'cancelled' then
      redis.call('ZREM', C.slot, member)
      left = left - 1
    end
  end
end

-- Forward the oldest waiters onto the main stream, first in first out, up to the
-- free capacity. A waiter runs only if its record is still parked at that very
-- entry (state scheduled, same waiter_entry_id): cancelled, replaced, finished or
-- expired waiters are discarded. Every consumed entry's safeguard is withdrawn.
-- Returns the number woken; deletes the waiter stream once it is empty.
local function wake(max)
  local woken = 0
  local free = max - redis.call('ZCARD', C.slot)
  while free > 0 do
    local entries = redis.call('XRANGE', C.waiters, '-', '+', 'COUNT', free)
    if #entries == 0 then break end
    for _, entry in ipairs(entries) do
      if free <= 0 then break end
      local id, fields = entry[1], entry[2]
      redis.call('XDEL', C.waiters, id)
      local key = field(fields, 'key') or ''
      local runs = C.prefix .. ':runs:' .. key
      local record = hmget(runs, 'state', 'generation', 'waiter_entry_id')
      drop_safeguard(key)
      if record[1] == 'scheduled' and record[3] == id then
        local generation = tostring((tonumber(record[2]) or 0) + 1)
        set_field(fields, 'generation', generation)
        -- Where its priority says (_lanes.lua): the stream for 5, else its lane.
        local priority = message_priority(fields)
        local stream_id = lane_place(C.prefix, key, fields, priority, tonumber(C.now))
        redis.call('HSET', runs, 'state', 'queued', 'generation', generation,
          'stream_id', stream_id, 'slot_reserved', generation,
          'lane', priority == 5 and '' or tostring(priority))
        redis.call('HDEL', runs, 'waiter_stream', 'waiter_entry_id')
        take(key)
        if C.listening then
          emit(C.prefix .. ':state:' .. key,
            '{"type":"state","key":' .. json_string(key) .. ',"state":"queued"}')
        end
        woken = woken + 1
        free = free - 1
      end
    end
  end
  if redis.call('XLEN', C.waiters) == 0 then redis.call('DEL', C.waiters) end
  return woken
end
