-- cancel: withdraw a task wherever it waits and mark its record cancelled.
--
-- KEYS[1] stream P:stream   KEYS[2] queue P:queue   KEYS[3] runs P:runs:K
-- KEYS[4] parked P:K        KEYS[5] progress P:progress:K   KEYS[6] listening flag
-- KEYS[7] legacy marker P:known:K   KEYS[8] legacy stream id P:stream-id:K (written by
--         earlier pydocket releases: the stream id falls back to it; both are deleted)
-- ARGV[1] task key   ARGV[2] completed_at ISO   ARGV[3] TTL seconds (0 = delete record)
-- ARGV[4] state channel   ARGV[5] cancel channel ('' = do not signal workers)
-- ARGV[6] prefix P (a task held while its type is paused leaves P:paused:<task>)
--
-- Race prevented: the task's stream entry is deleted using the id recorded on its
-- record (set by schedule and by the scheduler's move), and a claim that races this
-- script sees state "cancelled" and refuses to run the message (claim.lua).
-- A finished task keeps its final state. Waiters are told: a "cancelled" state
-- event is published whenever the state changes here.
-- Returns "cancelled" when the state changed, otherwise the state kept.

local stream, queue, runs = KEYS[1], KEYS[2], KEYS[3]
local key, completed_at, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])

local record = hmget(runs, 'state', 'stream_id', 'paused', 'function', 'waiters', 'gate',
  'held', 'steps', 'lane', 'fair', 'fairq')
if record[11] == '1' and record[10] and record[4] then  -- waiting in a fair backlog
  fair_leave(ARGV[6], record[4], record[10], key)
end
local state, stream_id = record[1], record[2]
if record[3] and record[4] then
  redis.call('ZREM', ARGV[6] .. ':paused:' .. record[4], key)
end
if not stream_id or stream_id == '' then stream_id = redis.call('GET', KEYS[8]) end
if stream_id and stream_id ~= '' then pcall(redis.call, 'XDEL', stream, stream_id) end
redis.call('ZREM', queue, key)
if (record[9] or '') ~= '' and state == 'queued' then lane_withdraw(ARGV[6], key, record[9]) end
redis.call('DEL', KEYS[4], KEYS[5], KEYS[7], KEYS[8])

local changed = state ~= 'completed' and state ~= 'failed' and state ~= 'cancelled'
if changed then
  redis.call('HSET', runs, 'state', 'cancelled', 'completed_at', completed_at, 'stream_id', '')
end
-- A cancelled run (a suspended one too) leaves no checkpoint behind (_steps.lua).
if record[8] then steps_drop(ARGV[6], key) end
-- Workflows (_gates.lua): a waiting task leaves its gate; the followers of this one
-- count its end; a record followers hold keeps no TTL.
local held = (tonumber(record[7]) or 0) > 0
if changed and (record[5] or record[6]) then
  local listening = redis.call('EXISTS', KEYS[6]) == 1
  held = gate_ended(ARGV[6], key, 'cancelled', completed_at, ttl, listening, record[5],
    record[6])
end
if held then
  -- kept for the followers that hold it
elseif ttl > 0 then redis.call('EXPIRE', runs, ttl) else redis.call('DEL', runs) end

if changed and redis.call('EXISTS', KEYS[6]) == 1 then
  emit(ARGV[4], '{"type":"state","key":' .. json_string(key)
    .. ',"state":"cancelled","completed_at":"' .. completed_at .. '"}')
end
if ARGV[5] ~= '' then emit(ARGV[5], key) end
if changed then return 'cancelled' end
return state or 'missing'
