-- fair_release: release FairShare backlogs into the stream (see _fair.lua), for the
-- tasks named; workers that serve them call it now and then, so that a window held
-- shut by tasks that left the stream unclaimed opens again without a new add or claim.
--
-- KEYS[1] stream P:stream
-- ARGV[1] prefix P   ARGV[2] window ('' = keep the stored one)   ARGV[3..] task names
-- Returns how many tasks were released.

local released = 0
for i = 3, #ARGV do
  if ARGV[2] ~= '' then
    local meta = fair_key(ARGV[1], 'meta', ARGV[i])
    redis.call('HSET', meta, 'window', ARGV[2])
    redis.call('EXPIRE', meta, FAIR_TTL)
  end
  released = released + fair_release(ARGV[1], ARGV[i], KEYS[1], true)
end
return released
