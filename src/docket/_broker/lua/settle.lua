-- settle: record the final state of a batch of finished executions and acknowledge them.
--
-- KEYS[1] stream P:stream     KEYS[2] listening flag P:listening
-- ARGV[1] prefix P   ARGV[2] consumer group   ARGV[3] TTL seconds for terminal records (0 = delete)
-- ARGV[4] completed_at ISO for records that carry none   ARGV[5] the batch: one record
-- per execution with 7 fields: task key, generation, message id ('' if none),
-- state (completed|failed|cancelled), completed_at ISO ('' = ARGV[4]), error text
-- ('' if none), flags: "r" when a result or exception was stored under the key, "p"
-- when the execution wrote progress (so the progress hash exists and must go).
--
-- Race prevented: a run that was replaced while it ran (its record now carries a
-- newer generation) must not overwrite its successor's record or delete its
-- successor's progress; it still publishes its terminal event (so waiters are
-- released) and acknowledges its own message. A run cancelled while it ran keeps
-- its `cancelled` state whatever it reports. Finished records drop `args`/`kwargs`.
-- Returns the number of executions that were superseded.

local stream, prefix, group, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local listening = redis.call('EXISTS', KEYS[2]) == 1
local acks, superseded = {}, 0

for _, r in ipairs(records(ARGV[5], 7)) do
  local key, generation, id = r[1], tonumber(r[2]), r[3]
  local state, completed_at, err, flags = r[4], r[5], r[6], r[7]
  if completed_at == '' then completed_at = ARGV[4] end
  local runs = prefix .. ':runs:' .. key
  local progress = prefix .. ':progress:' .. key
  local record = hmget(runs, 'generation', 'state')
  local current = tonumber(record[1])
  local stale = generation > 0 and (current == nil or current > generation)
  -- A run cancelled while it ran (its cancel signal lost) stays cancelled.
  if record[2] == 'cancelled' then state = 'cancelled' end

  if stale then
    superseded = superseded + 1
    if string.find(flags, 'p', 1, true) then
      local tag = tonumber(redis.call('HGET', progress, 'generation'))
      if tag == nil or tag <= generation then redis.call('DEL', progress) end
    end
  else
    if ttl > 0 then
      local extra = {}
      if err ~= '' then extra[#extra + 1] = 'error'; extra[#extra + 1] = err end
      if string.find(flags, 'r', 1, true) then
        extra[#extra + 1] = 'result_key'; extra[#extra + 1] = key
      end
      redis.call('HSET', runs, 'state', state, 'completed_at', completed_at, unpack(extra))
      -- The arguments were for running it; a finished record need not keep them.
      redis.call('HDEL', runs, 'args', 'kwargs')
      redis.call('EXPIRE', runs, ttl)
    else
      redis.call('DEL', runs)
    end
    if string.find(flags, 'p', 1, true) then redis.call('DEL', progress) end
  end

  if listening then
    local event = '{"type":"state","key":' .. json_string(key) .. ',"state":"' .. state
      .. '","completed_at":"' .. completed_at .. '"'
    if err ~= '' then event = event .. ',"error":' .. json_string(err) end
    emit(prefix .. ':state:' .. key, event .. '}')
  end
  if id ~= '' then acks[#acks + 1] = id end
end

if #acks > 0 then
  redis.call('XACK', stream, group, unpack(acks))
  redis.call('XDEL', stream, unpack(acks))
end
return superseded
