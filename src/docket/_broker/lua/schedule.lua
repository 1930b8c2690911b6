-- schedule: place one execution in the stream (due now) or the queue (future).
--
-- KEYS[1] stream   P:stream          KEYS[2] queue      P:queue
-- KEYS[3] runs     P:runs:K          KEYS[4] parked     P:K
-- KEYS[5] listening flag P:listening (checked only when ARGV[10] is "?")
-- ARGV[1] task key           ARGV[2] when (epoch seconds)   ARGV[3] immediate "1"/"0"
-- ARGV[4] mode: "add" | "replace" | "reschedule"            ARGV[5] message id to reschedule from
-- ARGV[6] consumer group     ARGV[7] state channel          ARGV[8] wake channel
-- ARGV[9] state event JSON   ARGV[10] publish the event: "1", "0", or "?" = if listening
-- ARGV[11..] message field/value pairs (must include "generation")
--
-- Race prevented: two producers adding one key at once, or a replace racing a worker's
-- claim, both see one consistent record; the generation counter makes every older copy
-- of the key stale so that a worker holding one skips it (claim.lua).
-- Liveness: a key is live while its record's state is scheduled, queued or running.
-- In reschedule mode a message older than its record (the key was replaced while the
-- run that now retries was going) is only acknowledged: the successor stands.
-- Returns {"OK" when placed, "EXISTS" when mode is add and the key is live, or
--          "SUPERSEDED" (reschedule of a stale message),
--          1/0 whether anyone listens (when ARGV[10] asked, else -1)}.

local stream, queue, runs, parked = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local key, when, immediate, mode = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4]

local record = hmget(runs, 'state', 'generation', 'stream_id')
local state, generation, stream_id = record[1], tonumber(record[2]) or 0, record[3]

if mode == 'reschedule' then
  redis.call('XACK', stream, ARGV[6], ARGV[5])
  redis.call('XDEL', stream, ARGV[5])
  local sent = 0
  for i = 11, #ARGV, 2 do
    if ARGV[i] == 'generation' then sent = tonumber(ARGV[i + 1]) or 0 end
  end
  if sent > 0 and (record[2] == false or generation > sent) then
    return {'SUPERSEDED', -1}
  end
elseif mode == 'replace' then
  if stream_id and stream_id ~= '' then redis.call('XDEL', stream, stream_id) end
  if state == 'scheduled' then
    redis.call('ZREM', queue, key)
    redis.call('DEL', parked)
  end
elseif state == 'scheduled' or state == 'queued' or state == 'running' then
  return {'EXISTS', -1}
end

generation = generation + 1
local fields = {}
local function_name, args, kwargs = '', '', ''
for i = 11, #ARGV, 2 do
  local name, value = ARGV[i], ARGV[i + 1]
  if name == 'generation' then value = tostring(generation) end
  if name == 'function' then function_name = value end
  if name == 'args' then args = value end
  if name == 'kwargs' then kwargs = value end
  fields[#fields + 1] = name
  fields[#fields + 1] = value
end

-- A fresh record: drops the previous run's fields and any terminal TTL.
if state then redis.call('DEL', runs) end

if immediate then
  local id = redis.call('XADD', stream, '*', unpack(fields))
  redis.call('HSET', runs, 'state', 'queued', 'when', when, 'function', function_name,
    'args', args, 'kwargs', kwargs, 'generation', generation, 'stream_id', id)
else
  redis.call('HSET', parked, unpack(fields))
  redis.call('ZADD', queue, when, key)
  redis.call('HSET', runs, 'state', 'scheduled', 'when', when, 'function', function_name,
    'args', args, 'kwargs', kwargs, 'generation', generation)
  local first = redis.call('ZRANGE', queue, 0, 0)
  if first[1] == key then emit(ARGV[8], when) end
end

local listening = -1
if ARGV[10] == '?' then listening = redis.call('EXISTS', KEYS[5]) end
if ARGV[10] == '1' or listening == 1 then emit(ARGV[7], ARGV[9]) end
return {'OK', listening}
