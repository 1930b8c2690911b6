-- pause_park: hold the delivered messages of paused task types until a resume.
--
-- KEYS[1] stream P:stream   KEYS[2] paused P:paused   KEYS[3] listening flag
-- ARGV[1] prefix P   ARGV[2] consumer group   ARGV[3] now (epoch seconds, the due
-- time of a message whose record has none)
-- ARGV[4..] the batch, 4 arguments per message: task key, message generation,
-- message id, task name
--
-- A held task waits like a future one: its message becomes its parked hash (P:K, or
-- P:parked:K, see parked_key in _prelude.lua; with a new generation), its key goes
-- into P:paused:<task> scored by its due time, its stream entry is acknowledged and deleted, and its record says "scheduled" with
-- paused=<that generation>. resume.lua moves those keys into P:queue, where the
-- scheduler finds them due at once.
-- Race prevented: the pause mark is read here, in the same step as the move, so a
-- resume that already began (mark "r:...") or ended is never missed: such a message
-- is left to be claimed as usual ("C"). A message whose key was replaced or cancelled
-- meanwhile is acknowledged and dropped ("S"), as claim.lua would; replace and cancel
-- of a held key delete its parked hash like a future task's (resume skips the rest).
-- A record that is not a hash is left to claim.lua, which dead-letters it.
-- Returns one code per message: "P" held, "C" claim it, "S" superseded or cancelled.

local stream, paused, prefix, group = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local listening = redis.call('EXISTS', KEYS[3]) == 1
local codes, stale = {}, {}

for i = 4, #ARGV, 4 do
  local key, generation, id, task = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  local mark = redis.call('HGET', paused, task)
  local runs = prefix .. ':runs:' .. key
  local record = hash_fields(runs, 'generation', 'state', 'when')
  local entry = nil
  if mark and string.sub(mark, 1, 2) == 'p:' and record then
    entry = redis.call('XRANGE', stream, id, id)[1]
  end
  local current = record and tonumber(record[1])
  if not entry then
    codes[#codes + 1] = 'C'
  elseif generation > 0 and (current == nil or current > generation
      or record[2] == 'cancelled') then
    codes[#codes + 1] = 'S'
    stale[#stale + 1] = id
  else
    local held = tostring(math.max(current or 0, generation) + 1)
    local fields, found = {}, false
    for f = 1, #entry[2], 2 do  -- all but a dispatched copy's mark (dispatch.lua)
      local name, value = entry[2][f], entry[2][f + 1]
      if name == 'generation' then value = held; found = true end
      if name ~= 'dispatched' then
        fields[#fields + 1] = name
        fields[#fields + 1] = value
      end
    end
    if not found then
      fields[#fields + 1] = 'generation'
      fields[#fields + 1] = held
    end
    local parked = parked_key(prefix, key)
    redis.call('DEL', parked)
    redis.call('HSET', parked, unpack(fields))
    redis.call('ZADD', prefix .. ':paused:' .. task, tonumber(record[3]) or ARGV[3], key)
    redis.call('XACK', stream, group, id)
    redis.call('XDEL', stream, id)
    redis.call('HSET', runs, 'state', 'scheduled', 'generation', held, 'paused', held)
    redis.call('HDEL', runs, 'stream_id', 'worker', 'started_at')
    if listening then
      emit(prefix .. ':state:' .. key,
        '{"type":"state","key":' .. json_string(key) .. ',"state":"scheduled"}')
    end
    codes[#codes + 1] = 'P'
  end
end

if #stale > 0 then
  redis.call('XACK', stream, group, unpack(stale))
  redis.call('XDEL', stream, unpack(stale))
end
return codes
