-- _runs: ending a run record from outside its run (included at the top of the body,
-- after the prelude, so it can publish with emit).

-- End the run record of `key` in `state` at `completed_at`: with `err` (or nil) and
-- the `extra` field/value pairs, kept `ttl` seconds, or deleted when `ttl` is 0. The
-- state event (with the error) goes out when anyone listens.
local function end_run(prefix, key, state, completed_at, ttl, listening, err, extra)
  local runs = prefix .. ':runs:' .. key
  local flags = hash_fields(runs, 'waiters', 'gate', 'held', 'steps') or {}
  if flags[4] then steps_drop(prefix, key) end  -- its checkpoint (_steps.lua)
  local gated = flags[1] or flags[2] or flags[3]  -- workflows (_gates.lua)
  if gated or ttl > 0 then
    local fields = {'state', state, 'completed_at', completed_at}
    if err then
      fields[#fields + 1] = 'error'
      fields[#fields + 1] = err
    end
    for _, value in ipairs(extra or {}) do fields[#fields + 1] = value end
    redis.call('HSET', runs, unpack(fields))
  end
  if gated then
    local held = (tonumber(flags[3]) or 0) > 0
    if flags[1] or flags[2] then
      held = gate_ended(prefix, key, state, completed_at, ttl, listening, flags[1], flags[2])
    end
    if not held then gate_expire(runs, ttl) end
  elseif ttl > 0 then
    redis.call('EXPIRE', runs, ttl)
  else
    redis.call('DEL', runs)
  end
  if listening then
    local event = '{"type":"state","key":' .. json_string(key) .. ',"state":"' .. state
      .. '","completed_at":"' .. completed_at .. '"'
    if err then event = event .. ',"error":' .. json_string(err) end
    emit(prefix .. ':state:' .. key, event .. '}')
  end
end
