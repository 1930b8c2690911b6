-- concurrency_renew: refresh a held slot's score and the slot key's TTL.
--
-- KEYS[1] slot key
-- ARGV[1] member (task key)   ARGV[2] now (epoch seconds)   ARGV[3] slot key TTL (ms)
--
-- Race prevented: a holder that was evicted as stale (its worker stalled) must not
-- re-add itself behind the back of the one that took its place; checking membership
-- and refreshing the score happen in one step.
-- Returns 1 when renewed, 0 when the member no longer holds a slot.

if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
