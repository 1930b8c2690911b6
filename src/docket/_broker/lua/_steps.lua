-- _steps: a run's checkpoint P:steps:K (Checkpoint marks and values, and the
-- suspension points of Suspend), included by the scripts that start, move or end a run.
--
-- The run record says `steps` when the checkpoint may exist, so a task that never
-- uses one costs nothing more than one more field in an HMGET the scripts already
-- make. A run that goes on (a retry, a suspension, a redelivery) keeps it: schedule.lua
-- copies the flag when it moves the key. A run that ends (settle.lua, cancel.lua,
-- end_run in _runs.lua) or is followed by a new one (an add or a replace) drops it in
-- the same step, so the next run of the key never sees it. It carries a TTL of its own.

-- Drop the checkpoint of `key`'s run.
local function steps_drop(prefix, key)
  redis.call('DEL', prefix .. ':steps:' .. key)
end

-- Write the field/value pairs `fields` to the checkpoint of `key` and make it live at
-- least `ttl` seconds from now (a longer expiry it already has stays).
local function steps_write(prefix, key, fields, ttl)
  local steps = prefix .. ':steps:' .. key
  redis.call('HSET', steps, unpack(fields))
  if ttl <= 0 then return end
  -- (the embedded engine's scripts lack TTL: there every write sets the expiry)
  local ok, left = pcall(redis.call, 'TTL', steps)
  if not ok or left < ttl then redis.call('EXPIRE', steps, ttl) end
end
