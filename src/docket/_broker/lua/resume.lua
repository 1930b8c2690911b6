-- resume: release the work held for a paused task type, a chunk at a time.
--
-- KEYS[1] queue P:queue   KEYS[2] paused P:paused
-- ARGV[1] prefix P   ARGV[2] task name   ARGV[3] most keys to move in this call
-- ARGV[4] "begin" to start the resume at ARGV[5] (ISO), "" to go on with one
-- ARGV[6] the pause channel   ARGV[7] the scheduler's wake channel
--
-- Beginning marks the task "r:<time>" (no longer paused: workers claim its work as
-- usual and pause_park.lua parks no more of it) and tells the workers. Each call
-- moves up to ARGV[3] held keys from P:paused:<task> into P:queue with their due
-- time, so the scheduler moves them into the stream at once (oldest first), and
-- wakes it. A held key is moved only while its record still says it is held at that
-- generation (state "scheduled", paused == generation): a key replaced, cancelled
-- or expired meanwhile is only taken out of the set. When the set is empty the mark
-- is deleted. Going on stops, moving nothing, when the task was paused again.
-- Any worker may go on with a resume whose caller went away (the mark says "r:").
-- Returns {keys moved, 1 when nothing is left held, else 0}.

local queue, paused, prefix, task = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local held = prefix .. ':paused:' .. task
local mark = redis.call('HGET', paused, task)

if ARGV[4] == 'begin' then
  if mark then
    redis.call('HSET', paused, task, 'r:' .. ARGV[5])
    emit(ARGV[6], task)
  end
elseif mark and string.sub(mark, 1, 2) == 'p:' then
  return {0, 0}
end

local members = redis.call('ZRANGE', held, 0, tonumber(ARGV[3]) - 1, 'WITHSCORES')
local moved = 0
for i = 1, #members, 2 do
  local key, score = members[i], members[i + 1]
  local runs = prefix .. ':runs:' .. key
  local record = hash_fields(runs, 'state', 'paused', 'generation')
  if record and record[1] == 'scheduled' and record[2] and record[2] == record[3] then
    redis.call('ZADD', queue, score, key)
    redis.call('HDEL', runs, 'paused')
    moved = moved + 1
  end
  redis.call('ZREM', held, key)
end

local done = redis.call('EXISTS', held) == 0
if done and redis.call('HEXISTS', paused, task) == 1 then
  redis.call('HDEL', paused, task)
  emit(ARGV[6], task)
end
if moved > 0 then emit(ARGV[7], '0') end
return {moved, done and 1 or 0}
