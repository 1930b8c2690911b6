-- steps_take: a running task's Suspend.for_signal takes a signal kept for it (sent
-- before anyone waited), writing it to its run's checkpoint as that point's payload
-- in the same step, so the signal is never consumed without being kept.
--
-- KEYS[1] runs P:runs:K   KEYS[2] steps P:steps:K   KEYS[3] kept P:mailbox:kept:N
-- ARGV[1] prefix P   ARGV[2] task key   ARGV[3] the taker's generation
-- ARGV[4] seconds the checkpoint lives at least from now
-- ARGV[5] the point's field ("s:<n>")   ARGV[6] its payload field ("p:<n>")
-- ARGV[7] the point's document (written when a signal is taken)
-- ARGV[8] signal name N   ARGV[9] now (epoch seconds)
--
-- Race prevented: a reply lost on the way back (the connection dropped) is asked
-- again: a point that already holds its payload answers with it, instead of taking
-- a second signal. An attempt that is no longer the key's current run takes none.
-- Returns the payload taken (or kept before), or false when none is kept.

local point = hmget(KEYS[2], ARGV[5], ARGV[6])
if point[1] and point[2] then return point[2] end
local record = hash_fields(KEYS[1], 'generation', 'state', 'steps')
if not record then return false end
if tonumber(record[1]) ~= tonumber(ARGV[3]) then return false end
if record[2] ~= 'running' and record[2] ~= 'queued' then return false end
local payload = mailbox_take(ARGV[1], ARGV[8], tonumber(ARGV[9]))
if not payload then return false end
steps_write(ARGV[1], ARGV[2], {ARGV[5], ARGV[7], ARGV[6], payload}, tonumber(ARGV[4]))
if not record[3] then redis.call('HSET', KEYS[1], 'steps', '1') end
return payload
