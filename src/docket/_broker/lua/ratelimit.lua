-- ratelimit: sliding-window log admission for one execution.
--
-- KEYS[1] <C>:ratelimit:<function> or <C>:ratelimit:<argument>:<value> (sorted set)
-- ARGV[1] member "<K>:<start ms>" (the execution's start: every limit on one key that
-- one execution passes records the same member, so it counts once)
-- ARGV[2] now (ms, worker clock)   ARGV[3] window (ms)   ARGV[4] limit
--
-- Race prevented: workers admitting executions of one limit at once each count the
-- starts the others recorded; pruning, counting and recording are one step, so no
-- more than limit starts land in any window. The execution's own member (recorded by
-- another limit on the same key) is not counted against it.
-- Returns {1, 0} when admitted (member recorded, key expires after 2 x window), or
-- {2, retry_after_ms}: the ms until the oldest start leaves the window (at least 1).

local key, member, now, per = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])

redis.call('ZREMRANGEBYSCORE', key, '-inf', tostring(now - per))
local count = redis.call('ZCARD', key)
if redis.call('ZSCORE', key, member) then count = count - 1 end
if count < tonumber(ARGV[4]) then
  redis.call('ZADD', key, ARGV[2], member)
  redis.call('PEXPIRE', key, tostring(2 * per))
  return {1, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
local retry = math.floor(tonumber(oldest[2]) + per - now)
if retry < 1 then retry = 1 end
return {2, retry}
