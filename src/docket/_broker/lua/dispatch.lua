-- dispatch: move the best tasks waiting on the priority lanes into the stream, each
-- delivered at once to the worker that asks (it is in that consumer's pending list,
-- like a message it read).
--
-- KEYS[1] stream P:stream   KEYS[2] P:lanes (the lanes that hold a task)
-- ARGV[1] prefix   ARGV[2] consumer group   ARGV[3] consumer   ARGV[4] how many
-- ARGV[5] aging: seconds of waiting worth one priority level
-- ARGV[6] when the oldest priority-5 task waiting in the stream became due (epoch
--         seconds), or '' when the stream has none waiting
--
-- Order: a task's effective priority is its priority plus one level per ARGV[5]
-- seconds it has waited since it became due, so tasks go by (due time - priority x
-- aging), smallest first; equal ranks by due time. A lane task goes before the
-- stream's oldest waiting task only when it ranks before it (that task counting as
-- priority 5); tasks that rank after wait for the stream to empty.
-- Each dispatched message is added to the stream with one more field, `dispatched`,
-- and claimed for the consumer (XCLAIM FORCE): readers of new messages (XREADGROUP
-- '>') that later pass it leave it alone, since it already has its worker; a sweep
-- of an abandoned one takes it up like any other. The run record keeps `queued` and
-- gets the stream id (so cancel and replace withdraw it as any queued task).
-- Race prevented: many workers dispatch at once; each lane task is taken by one.
-- Returns {{id, fields}..., how many tasks still wait on lanes}; -1 for the count
-- when the stream has no consumer group yet (nothing moved: create it, ask again).

local stream, lanes = KEYS[1], KEYS[2]
local prefix, group, consumer = ARGV[1], ARGV[2], ARGV[3]
local count, aging, head = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])

-- The doorbell (_lanes.lua) has done its work once anyone dispatches.
local bell = redis.call('GET', prefix .. ':doorbell')
if bell then
  pcall(redis.call, 'XACK', stream, group, bell)
  pcall(redis.call, 'XDEL', stream, bell)
  redis.call('DEL', prefix .. ':doorbell')
end

-- Each lane is already in order (by due time, then key), so the best task overall is
-- the best of the lanes' heads: a merge, not a sort of every candidate. A lane is
-- read a chunk at a time, as far as the merge goes (often only its head, when it
-- ranks after the stream's oldest waiting task). Nothing leaves a lane before the
-- end, so the offsets hold.
local CHUNK = math.max(math.min(count, 16), 1)
local heads = {}
local names = redis.call('SMEMBERS', lanes)
for _, lane in ipairs(names) do
  local lk = lane_key(prefix, lane)
  local entries = redis.call('ZRANGE', lk, 0, CHUNK - 1, 'WITHSCORES')
  if #entries > 0 then
    heads[#heads + 1] = {entries, 1, (tonumber(lane) or 5) * aging, lane, lk, CHUNK}
  end
end

-- A lane's next task, reading its next chunk when the one in hand is used up.
local function peek(lane)
  local entries, at = lane[1], lane[2]
  if at > #entries and #entries == 2 * CHUNK and lane[6] < count then
    entries = redis.call('ZRANGE', lane[5], lane[6], lane[6] + CHUNK - 1, 'WITHSCORES')
    lane[1], lane[2], lane[6], at = entries, 1, lane[6] + CHUNK, 1
  end
  if at < #entries then return entries[at], tonumber(entries[at + 1]) end
end

-- The lane whose next task ranks first (rank, then due time, then key), and its rank.
local function best()
  local pick, rank, due, key
  for _, lane in ipairs(heads) do
    local k, d = peek(lane)
    if k then
      local r = d - lane[3]
      if not pick or r < rank or (r == rank and (d < due or (d == due and k < key))) then
        pick, rank, due, key = lane, r, d, k
      end
    end
  end
  return pick, rank
end

local bar = head and (head - 5 * aging) or nil
local out, ids, taken = {}, {}, {}
local probed = false
while #out < count do
  local next_lane, rank = best()
  if not next_lane or (bar and rank >= bar) then break end
  -- No consumer group yet: nothing is moved (a script is not rolled back, so this
  -- is asked before the first move; an id that does not exist is ignored by XCLAIM
  -- when the group does).
  if not probed then
    if not pcall(redis.call, 'XCLAIM', stream, group, consumer, 0, '0-1', 'JUSTID') then
      return {{}, -1}
    end
    probed = true
  end
  local key, lane = next_lane[1][next_lane[2]], next_lane[4]
  next_lane[2] = next_lane[2] + 2
  taken[lane] = taken[lane] or {}
  taken[lane][#taken[lane] + 1] = key
  local parked = parked_key(prefix, key)
  local ok, fields = pcall(redis.call, 'HGETALL', parked)
  if ok and #fields > 0 then
    fields[#fields + 1] = 'dispatched'
    fields[#fields + 1] = '1'
    local id = redis.call('XADD', stream, '*', unpack(fields))
    redis.call('DEL', parked)
    pcall(redis.call, 'HSET', prefix .. ':runs:' .. key, 'stream_id', id, 'lane', '')
    ids[#ids + 1] = id
    out[#out + 1] = {id, fields}
  end
end
for lane, keys in pairs(taken) do redis.call('ZREM', lane_key(prefix, lane), unpack(keys)) end
if #ids > 0 then  -- (ids last but the options: unpack() only spreads at the end)
  local claim = {stream, group, consumer, 0}
  for _, id in ipairs(ids) do claim[#claim + 1] = id end
  claim[#claim + 1] = 'FORCE'
  claim[#claim + 1] = 'JUSTID'
  redis.call('XCLAIM', unpack(claim))
end

local left = 0
for _, lane in ipairs(names) do left = left + lane_left(prefix, lane) end
return {out, left}
