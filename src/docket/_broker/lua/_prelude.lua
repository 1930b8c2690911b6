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

-- Batches arrive as one argument: records separated by \30, fields by \31 (task keys
-- cannot contain control characters, and error texts are cleaned by the caller).
-- One argument instead of thousands keeps the client's command encoding cheap.
local function split(text, separator)
  local out, start = {}, 1
  while true do
    local i = string.find(text, separator, start, true)
    if not i then
      out[#out + 1] = string.sub(text, start)
      return out
    end
    out[#out + 1] = string.sub(text, start, i - 1)
    start = i + 1
  end
end

local function records(text)
  local out = {}
  if text == '' then return out end
  for _, record in ipairs(split(text, '\30')) do out[#out + 1] = split(record, '\31') end
  return out
end
