-- failed_scan: page through the failed tasks (P:failed) newest first,
-- keeping the entries whose fields match, or deleting them.
--
-- KEYS[1] the stream
-- ARGV[1] where to start: '+' (the newest) or '(<id>' (just older than a cursor)
-- ARGV[2] the oldest id to look at: '-' or '<epoch ms>' (entries older are past retention)
-- ARGV[3] most matches to return   ARGV[4] most entries to examine in this call
-- ARGV[5] mode: "find" returns the matches, "purge" deletes them (XDEL)
-- ARGV[6..] filter pairs: field name, value (every pair must match: exactly, or,
--           for a name written '~name', the value is part of the field's)
--
-- One call reads the stream in chunks inside the server, so a filtered page of an
-- P:failed of 10,000 entries with long tracebacks never crosses the network whole;
-- ARGV[4] bounds the work of one call, and the cursor lets the caller go on.
-- Race prevented: a purge deletes exactly the entries it matched in this call.
-- Returns {matches (find: {id, fields} entries; purge: how many were deleted),
--          the cursor to continue from ('' when the stream is exhausted)}.

local stream, start, stop = KEYS[1], ARGV[1], ARGV[2]
local wanted, budget, purge = tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == 'purge'
local filters = {}
for i = 6, #ARGV, 2 do
  local name, part = ARGV[i], false
  if string.sub(name, 1, 1) == '~' then name, part = string.sub(name, 2), true end
  filters[#filters + 1] = {name, ARGV[i + 1], part}
end

local function matches(fields)
  for _, filter in ipairs(filters) do
    local found = false
    for i = 1, #fields, 2 do
      if fields[i] == filter[1] then
        if filter[3] then
          found = string.find(fields[i + 1], filter[2], 1, true) ~= nil
        else
          found = fields[i + 1] == filter[2]
        end
        break
      end
    end
    if not found then return false end
  end
  return true
end

local out, doomed, examined, cursor = {}, {}, 0, start
while #out < wanted and examined < budget do
  local chunk = math.min(200, budget - examined)
  local entries = redis.call('XREVRANGE', stream, cursor, stop, 'COUNT', chunk)
  local consumed = 0
  for _, entry in ipairs(entries) do
    consumed = consumed + 1
    examined = examined + 1
    cursor = '(' .. entry[1]
    if matches(entry[2]) then
      if purge then doomed[#doomed + 1] = entry[1] else out[#out + 1] = entry end
      if #out >= wanted then break end
    end
  end
  if consumed == #entries and #entries < chunk then cursor = ''; break end
end

if purge then
  for i = 1, #doomed, 500 do
    redis.call('XDEL', stream, unpack(doomed, i, math.min(i + 499, #doomed)))
  end
  return {#doomed, cursor}
end
return {out, cursor}
