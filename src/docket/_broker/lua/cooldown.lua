-- cooldown: leading-edge window ("run the first, drop the rest") for one execution.
--
-- KEYS[1] <C>:cooldown:<function> or <C>:cooldown:<argument>:<value>
-- ARGV[1] mode: "acquire" | "release"   ARGV[2] token "<generation>:<K>"
-- ARGV[3] window (ms)   ARGV[4] now (ms, worker clock)
--
-- The key holds "<token>@<ms the window ends>" and expires then (PX). The end is
-- also kept as a value so that the worker's clock decides, as it does for rate
-- limits and debounce: a window whose end has passed by that clock is over even
-- while its key lives (a virtual clock in tests moves past it; the TTL cannot be).
-- Race prevented: of the executions checked at once, exactly one opens the window
-- (SET NX PX). The token makes a redelivery of the execution that opened it (same
-- generation) pass again, and lets release (used when another control blocked the
-- admitted execution) delete the window only if this execution opened it.
-- Returns 1 when admitted (acquire) or released (release), else 0.

local key, token = KEYS[1], ARGV[2]
local current = redis.call('GET', key)
local holder, ends = nil, nil
if current then
  holder, ends = string.match(current, '^(.*)@(%d+)$')
  if not holder then holder = current end
end
if ARGV[1] == 'release' then
  if holder == token then
    redis.call('DEL', key)
    return 1
  end
  return 0
end
local now, window = tonumber(ARGV[4]), tonumber(ARGV[3])
if current and holder ~= token and not (ends and tonumber(ends) <= now) then
  return 0
end
if holder == token then return 1 end
redis.call('SET', key, token .. '@' .. string.format('%d', now + window), 'PX', ARGV[3])
return 1
