-- concurrency_release: give back a slot and wake waiters; with no member, scavenge.
--
-- KEYS[1] slot key   KEYS[2] waiter stream   KEYS[3] P:stream   KEYS[4] P:queue
-- KEYS[5] listening flag
-- ARGV[1] prefix P   ARGV[2] member to remove ('' = none: the safeguard's scavenge)
-- ARGV[3] now (epoch seconds)   ARGV[4] stale = now - redelivery_timeout
-- ARGV[5] max_concurrent   ARGV[6] slot key TTL (ms)
-- ARGV[7] a parked task key to report on ('' = none)
--
-- Race prevented: removing the holder and handing its capacity to the oldest waiters
-- is one step, so a concurrent admission cannot take the freed slot ahead of them and
-- no waiter is left parked while capacity is free. When waiters exist, holders that
-- stopped renewing (crashed workers) and finished holders are evicted first. The
-- safeguard task calls this without a member: it covers the case where every holder
-- died and nothing else would wake the waiters.
-- Returns {woken count, 1 if ARGV[7] is still parked else 0}.

C.prefix, C.stream, C.queue = ARGV[1], KEYS[3], KEYS[4]
C.slot, C.waiters, C.now, C.ttl = KEYS[1], KEYS[2], ARGV[3], ARGV[6]
C.listening = redis.call('EXISTS', KEYS[5]) == 1

if ARGV[2] ~= '' then redis.call('ZREM', C.slot, ARGV[2]) end
local woken = 0
if redis.call('XLEN', C.waiters) > 0 then
  evict(ARGV[4])
  woken = wake(tonumber(ARGV[5]))
else
  redis.call('DEL', C.waiters)
end
if redis.call('ZCARD', C.slot) == 0 then redis.call('DEL', C.slot) end

local parked = 0
if ARGV[7] ~= '' then
  local record = hmget(C.prefix .. ':runs:' .. ARGV[7], 'state', 'waiter_entry_id')
  if record[1] == 'scheduled' and record[2] then parked = 1 end
end
return {woken, parked}
