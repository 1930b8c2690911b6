-- cooldown: leading-edge window ("run the first, drop the rest") for one execution.
--
-- KEYS[1] <C>:cooldown:<function> or <C>:cooldown:<argument>:<value>
-- ARGV[1] mode: "acquire" | "release"   ARGV[2] token "<generation>:<K>"
-- ARGV[3] window (ms)
--
-- Race prevented: of the executions checked at once, exactly one opens the window
-- (SET NX PX). The token makes a redelivery of the execution that opened it (same
-- generation) pass again, and lets release (used when another control blocked the
-- admitted execution) delete the window only if this execution opened it.
-- Returns 1 when admitted (acquire) or released (release), else 0.

local key, token = KEYS[1], ARGV[2]
if ARGV[1] == 'release' then
  if redis.call('GET', key) == token then
    redis.call('DEL', key)
    return 1
  end
  return 0
end
if redis.call('SET', key, token, 'NX', 'PX', ARGV[3]) then return 1 end
if redis.call('GET', key) == token then return 1 end
return 0
