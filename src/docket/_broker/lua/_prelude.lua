-- Shared helpers, prepended to every script of this folder when it is loaded.

-- JSON string literal for s: escapes backslash, quote and every control character
-- (error texts may hold anything, ANSI colours included). No cjson: the embedded
-- engine does not offer it.
local function json_string(s)
  s = string.gsub(s, '\\', '\\\\')
  s = string.gsub(s, '"', '\\"')
  s = string.gsub(s, '%c', function(c) return string.format('\\u%04x', string.byte(c)) end)
  return '"' .. s .. '"'
end

-- HMGET, with a field-by-field fallback for engines whose scripts lack it
-- (the embedded memory:// engine). On Redis this is one command.
local function hmget(key, ...)
  local ok, values = pcall(redis.call, 'HMGET', key, ...)
  if ok then return values end
  local out = {}
  for i, field in ipairs({...}) do out[i] = redis.call('HGET', key, field) end
  return out
end

-- Small side batches (dead letters, throughput counts) arrive as one argument: every
-- field written as <byte length>:<bytes>, `width` fields per record (see pack() in
-- runs.py), so any byte is fine. Splitting costs a few microseconds of Redis CPU per
-- record, so the per-task batches of claim and settle come as whole arguments instead.
local function records(text, width)
  local out, record, pos, last = {}, {}, 1, #text
  while pos <= last do
    local colon = string.find(text, ':', pos, true)
    local size = tonumber(string.sub(text, pos, colon - 1))
    record[#record + 1] = string.sub(text, colon + 1, colon + size)
    pos = colon + size + 1
    if #record == width then
      out[#out + 1] = record
      record = {}
    end
  end
  return out
end

-- Where a future task waits: P:K, or P:parked:K when K is one of the docket's own
-- key names or starts with one of its key families (OWN_NAMES / OWN_FAMILIES in
-- _keys.py: the lists must match). So no task key lands on a docket key, and every
-- other key keeps P:K.
local OWN_NAMES = {
  ['queue'] = true, ['stream'] = true, ['strikes'] = true, ['workers'] = true,
  ['listening'] = true, ['dead'] = true, ['failed'] = true, ['results'] = true,
  ['worker-capacity'] = true, ['paused'] = true, ['waiting'] = true, ['lanes'] = true, ['doorbell'] = true,
}
local OWN_FAMILIES = {
  'runs:', 'progress:', 'results:', 'known:', 'stream-id:', 'worker-tasks:',
  'task-workers:', 'cancel:', 'state:', 'stats:', 'leases:', 'paused:', 'perpetual:',
  'parked:', 'gate:', 'waiters:', 'steps:', 'mailbox:', 'lane:', 'queued:',
  'concurrency:', 'debounce:', 'ratelimit:', 'cooldown:', 'fair:',
}
local function parked_key(prefix, key)
  if OWN_NAMES[key] then return prefix .. ':parked:' .. key end
  if string.find(key, ':', 1, true) then
    for _, family in ipairs(OWN_FAMILIES) do
      if string.sub(key, 1, #family) == family then return prefix .. ':parked:' .. key end
    end
  end
  return prefix .. ':' .. key
end

-- The fields of a hash (a run record, a parked task), or false when the key holds
-- another type: written there by someone else, it must fail only its own task, never
-- the whole batch a script works through.
local function hash_fields(key, ...)
  local ok, values = pcall(hmget, key, ...)
  if ok then return values end
  return false
end

-- Add an entry to the dead-letter stream: `fields` (a flat name/value list, changed
-- in place) with the dead_* fields after them.
local function to_dead(dead, fields, category, detail, worker, now, id)
  local n = #fields
  fields[n + 1] = 'dead_reason'; fields[n + 2] = category
  fields[n + 3] = 'dead_detail'; fields[n + 4] = detail
  fields[n + 5] = 'dead_worker'; fields[n + 6] = worker
  fields[n + 7] = 'dead_at'; fields[n + 8] = now
  fields[n + 9] = 'dead_message_id'; fields[n + 10] = id
  redis.call('XADD', dead, '*', unpack(fields))
end

-- Move stream entry `id` to the dead-letter stream (its original fields, then the
-- dead_* ones), acknowledge and delete it. Returns its key and generation fields
-- (nil when missing).
local function bury(stream, dead, group, id, category, detail, worker, now)
  local entries = redis.call('XRANGE', stream, id, id)
  local fields, key, generation = {}, nil, nil
  if entries[1] then
    local original = entries[1][2]
    for i = 1, #original, 2 do
      fields[#fields + 1] = original[i]
      fields[#fields + 1] = original[i + 1]
      if original[i] == 'key' then key = original[i + 1] end
      if original[i] == 'generation' then generation = tonumber(original[i + 1]) end
    end
  end
  to_dead(dead, fields, category, detail, worker, now, id)
  redis.call('XACK', stream, group, id)
  redis.call('XDEL', stream, id)
  return key, generation
end

-- Keep the dead-letter stream to `limit` entries, deleting the oldest (XTRIM is not
-- available to scripts on every engine), and renew its expiry: it lives `ttl` seconds
-- (the failed tasks' retention) after its last entry, so a stream nobody writes to again
-- goes when its newest entry would have been too old to keep.
local function trim_dead(dead, limit, ttl)
  redis.call('EXPIRE', dead, ttl)
  local excess = redis.call('XLEN', dead) - limit
  if excess > 0 then
    local oldest = redis.call('XRANGE', dead, '-', '+', 'COUNT', excess)
    for _, entry in ipairs(oldest) do redis.call('XDEL', dead, entry[1]) end
  end
end
