-- concurrency_acquire: take a concurrency slot for a claimed execution, or park it.
--
-- KEYS[1] slot key   KEYS[2] waiter stream (<slot key>:waiters)   KEYS[3] P:stream
-- KEYS[4] P:queue    KEYS[5] P:runs:K   KEYS[6] listening flag
-- ARGV[1] prefix P   ARGV[2] consumer group   ARGV[3] task key K
-- ARGV[4] message generation   ARGV[5] message id   ARGV[6] redelivered "1"/"0"
-- ARGV[7] now (epoch seconds, the worker's clock)   ARGV[8] stale = now - redelivery_timeout
-- ARGV[9] takeover = now - redelivery_timeout / 2   ARGV[10] max_concurrent
-- ARGV[11] slot key TTL (ms)   ARGV[12..] the message's field/value pairs
--
-- Race prevented: workers admitting executions of one slot key at once each see the
-- holders the others wrote, so at most max_concurrent members with fresh scores exist;
-- a full slot parks the execution in the same step (acknowledge + delete the stream
-- message, append it to the waiter stream with a new generation, record state
-- "scheduled"), so a release running concurrently either sees the waiter or happened
-- before it and left a free slot this script took. "scheduled" keeps the key live, so
-- an add of a parked key is deduplicated; replace and cancel make the entry stale.
-- Order: a key that already holds a slot takes it when the slot was reserved for this
-- generation by a wake, or when this is a redelivery and the slot stopped renewing
-- (older than takeover); otherwise it parks (an older generation still runs). A free
-- slot is taken; a full one first evicts one stale or finished holder (only what one
-- more execution needs) and wakes waiters (they come first), then takes what is left,
-- else parks.
-- Returns {1} when acquired, {0, waiter entry id, new generation} when parked.

C.prefix, C.stream, C.queue = ARGV[1], KEYS[3], KEYS[4]
C.slot, C.waiters, C.now, C.ttl = KEYS[1], KEYS[2], ARGV[7], ARGV[11]
C.listening = redis.call('EXISTS', KEYS[6]) == 1
local key, generation, runs = ARGV[3], ARGV[4], KEYS[5]
local max = tonumber(ARGV[10])

local held = redis.call('ZSCORE', C.slot, key)
if held then
  local reserved = redis.call('HGET', runs, 'slot_reserved')
  if reserved == generation
    or (ARGV[6] == '1' and tonumber(held) < tonumber(ARGV[9])) then
    take(key)
    redis.call('HDEL', runs, 'slot_reserved')
    return {1}
  end
else
  local holders = redis.call('ZCARD', C.slot)
  if holders >= max then evict(ARGV[8], holders - max + 1) end
  if redis.call('XLEN', C.waiters) > 0 then wake(max) end
  if redis.call('ZCARD', C.slot) < max then
    take(key)
    return {1}
  end
end

if ARGV[5] ~= '' then
  redis.call('XACK', C.stream, ARGV[2], ARGV[5])
  redis.call('XDEL', C.stream, ARGV[5])
end
local parked = tostring((tonumber(redis.call('HGET', runs, 'generation')) or 0) + 1)
local fields = {}
for i = 12, #ARGV do fields[#fields + 1] = ARGV[i] end
set_field(fields, 'generation', parked)
local id = redis.call('XADD', C.waiters, '*', unpack(fields))
redis.call('HSET', runs, 'state', 'scheduled', 'generation', parked,
  'waiter_stream', C.waiters, 'waiter_entry_id', id)
redis.call('HDEL', runs, 'worker', 'started_at', 'stream_id', 'slot_reserved')
if C.listening then
  emit(C.prefix .. ':state:' .. key,
    '{"type":"state","key":' .. json_string(key) .. ',"state":"scheduled"}')
end
return {0, id, parked}
