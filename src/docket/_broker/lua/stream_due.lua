-- stream_due: move future tasks whose time has come from the queue into the stream.
--
-- KEYS[1] queue P:queue   KEYS[2] stream P:stream   KEYS[3] listening flag
-- ARGV[1] prefix P   ARGV[2] now (epoch seconds, the worker's clock)   ARGV[3] batch limit
--
-- Race prevented: many workers run this at once; each due task is moved by exactly
-- one of them because reading, moving and removing it happen in one step. The new
-- stream id is recorded on the run record so that cancel and replace can still
-- withdraw the task before a worker claims it.
-- Returns {moved count, score of the earliest remaining task or ""}.

local queue, stream, prefix, now = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local listening = redis.call('EXISTS', KEYS[3]) == 1
local due = redis.call('ZRANGEBYSCORE', queue, '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))

for _, key in ipairs(due) do
  local parked = prefix .. ':' .. key
  local fields = redis.call('HGETALL', parked)
  if #fields > 0 then
    local id = redis.call('XADD', stream, '*', unpack(fields))
    redis.call('DEL', parked)
    local runs = prefix .. ':runs:' .. key
    redis.call('HSET', runs, 'state', 'queued', 'stream_id', id)
    if listening then
      local when = ''
      for i = 1, #fields, 2 do
        if fields[i] == 'when' then when = fields[i + 1] end
      end
      emit(prefix .. ':state:' .. key, '{"type":"state","key":'
        .. json_string(key) .. ',"state":"queued","when":"' .. when .. '"}')
    end
  end
  redis.call('ZREM', queue, key)
end

local first = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
return {#due, first[2] or ''}
