-- scheduled_search: the future tasks a dashboard search matches, without reading
-- a payload: each member of the queue is a task key; a hit is a key containing
-- the needle, or a parked task whose task name is exactly the needle.
--
-- KEYS[1] the queue P:queue (members are task keys, scores when they are due)
-- ARGV[1] the docket prefix P (a parked task lives at P:<key>)
-- ARGV[2] the position of the first member to examine
-- ARGV[3] how many members to examine at most
-- ARGV[4] the needle (bytes of the search text)
-- ARGV[5] how many hits at most
--
-- Reads only: one ZRANGE and one HGET of the 'function' field per member whose
-- key does not match (a parked key holding another type is no hit).
-- Returns {examined, {key, score, key, score, ...}}: examining stops at the
-- last hit wanted.

local first = tonumber(ARGV[2])
local members = redis.call('ZRANGE', KEYS[1], first, first + tonumber(ARGV[3]) - 1,
  'WITHSCORES')
local needle, wanted = ARGV[4], tonumber(ARGV[5])
local hits, found, examined = {}, 0, 0
for i = 1, #members, 2 do
  examined = examined + 1
  local key = members[i]
  local hit = string.find(key, needle, 1, true) ~= nil
  if not hit then
    local ok, name = pcall(redis.call, 'HGET', ARGV[1] .. ':' .. key, 'function')
    hit = ok and name == needle
  end
  if hit then
    hits[#hits + 1] = key
    hits[#hits + 1] = members[i + 1]
    found = found + 1
    if found >= wanted then break end
  end
end
return {examined, hits}
