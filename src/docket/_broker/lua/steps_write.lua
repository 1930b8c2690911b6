-- steps_write: write to the checkpoint of a running task's run (Checkpoint.mark/set,
-- a suspension point satisfied at once).
--
-- KEYS[1] runs P:runs:K   KEYS[2] steps P:steps:K
-- ARGV[1] prefix P   ARGV[2] task key   ARGV[3] the writer's generation (0 = any)
-- ARGV[4] seconds the checkpoint lives at least from now   ARGV[5..] field/value pairs
--
-- Race prevented: an attempt that is no longer the key's current run (the key was
-- replaced, cancelled or finished meanwhile) must not write into the checkpoint of
-- the run that follows it, nor leave one behind a run that already ended: the write
-- happens only while the record holds the writer's generation, live.
-- Returns 1 when written, 0 when the run has moved on (nothing written).

local record = hash_fields(KEYS[1], 'generation', 'state', 'steps')
if not record then return 0 end
local generation, state = tonumber(ARGV[3]), record[2]
if generation > 0 and tonumber(record[1]) ~= generation then return 0 end
if state ~= 'running' and state ~= 'queued' then return 0 end
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
steps_write(ARGV[1], ARGV[2], fields, tonumber(ARGV[4]))
if not record[3] then redis.call('HSET', KEYS[1], 'steps', '1') end
return 1
