-- Shared helpers, prepended to every script of this folder when it is loaded.

-- JSON string literal for s: escapes backslash, quote and the control characters
-- Docket allows in task keys and worker names (\n, \r, \t). No cjson: the embedded
-- engine does not offer it.
local function json_string(s)
  s = string.gsub(s, '\\', '\\\\')
  s = string.gsub(s, '"', '\\"')
  s = string.gsub(s, '\n', '\\n')
  s = string.gsub(s, '\r', '\\r')
  s = string.gsub(s, '\t', '\\t')
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
