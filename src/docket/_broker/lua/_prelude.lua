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
