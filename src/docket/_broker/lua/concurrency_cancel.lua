-- concurrency_cancel: clean up after a parked waiter was cancelled, or drop a safeguard.
--
-- KEYS[1] P:stream   KEYS[2] P:queue   KEYS[3] P:runs:K   KEYS[4] P:progress:K
-- ARGV[1] prefix P   ARGV[2] task key K
-- ARGV[3] mode: "cancelled" (K was cancelled) | "safeguard" (withdraw K's safeguard
--         unless K is still parked at waiter entry ARGV[4])
--
-- Race prevented: the waiter entry, the progress hash, the waiter fields and the
-- safeguard task go together, so a wake running at the same time either forwarded the
-- waiter (it then refuses to run: claim sees "cancelled") or finds nothing. In
-- "safeguard" mode a parked task whose wake raced the scheduling of its safeguard gets
-- that safeguard withdrawn, while a still-parked one keeps it.
-- Returns 1 when something was cleaned up, else 0.

C.prefix, C.stream, C.queue = ARGV[1], KEYS[1], KEYS[2]
local runs, key = KEYS[3], ARGV[2]
local record = hmget(runs, 'state', 'waiter_stream', 'waiter_entry_id')

if ARGV[3] == 'safeguard' then
  if record[1] == 'scheduled' and record[3] == ARGV[4] then return 0 end
  drop_safeguard(key)
  return 1
end

if record[1] ~= 'cancelled' or not record[2] or record[2] == '' then return 0 end
redis.call('XDEL', record[2], record[3])
if redis.call('XLEN', record[2]) == 0 then redis.call('DEL', record[2]) end
redis.call('DEL', KEYS[4])
redis.call('HDEL', runs, 'waiter_stream', 'waiter_entry_id')
drop_safeguard(key)
return 1
