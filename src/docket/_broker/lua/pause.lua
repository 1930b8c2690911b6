-- pause: mark a task type paused and tell the workers.
--
-- KEYS[1] paused P:paused
-- ARGV[1] task name   ARGV[2] now (ISO)   ARGV[3] the pause channel
--
-- A type already paused keeps its mark (and so the time it was paused since); one
-- being resumed (mark "r:...") is paused again, which stops the resume: the work it
-- has not released yet stays held.
-- Returns 1 when the type was not paused before, else 0.

local mark = redis.call('HGET', KEYS[1], ARGV[1])
if mark and string.sub(mark, 1, 2) == 'p:' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], 'p:' .. ARGV[2])
emit(ARGV[3], ARGV[1])
return 1
