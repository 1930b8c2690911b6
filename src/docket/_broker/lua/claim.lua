-- claim: a worker takes a batch of delivered messages before running them.
--
-- KEYS[1] stream P:stream     KEYS[2] listening flag P:listening
-- KEYS[3] dead letters P:dead
-- ARGV[1] prefix P   ARGV[2] consumer group   ARGV[3] worker name   ARGV[4] started_at ISO
-- ARGV[5] "1" to record the running state on the run record, "0" to leave the record
-- as it is (fire-and-forget dockets, execution_ttl=0: the record still says "queued",
-- which keeps the key live for deduplication until the run settles)
-- ARGV[6] most entries P:dead keeps   ARGV[7] seconds P:dead lives after its last entry
-- ARGV[8..] the batch, 4 arguments per message: task key, message generation,
-- message id, redelivered "1"/"0" (whole arguments: any byte is fine, and Redis
-- hands them over without parsing, far cheaper than splitting one packed string)
--
-- Race prevented: a message whose key was replaced (newer generation) or cancelled
-- after it entered the stream must not run; checking and marking running happen in
-- one step so a concurrent replace or cancel either sees "running" or wins outright.
-- A run record that is not a hash (someone else wrote that key) cannot say whether
-- its message is current: that message is dead-lettered (bad-run-record) here, and
-- the rest of the batch goes on.
-- Returns one code per message: "R" claimed (now running), "S" superseded or
-- cancelled (acknowledged and deleted here, must not run), "B" dead-lettered.

local stream, prefix, group, worker, started = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local listening = redis.call('EXISTS', KEYS[2]) == 1
local codes, stale, buried = {}, {}, 0
local fair_tasks = {}  -- FairShare tasks claimed here: release their next (_fair.lua)

for i = 8, #ARGV, 4 do
  local key, generation, id, again = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  local runs = prefix .. ':runs:' .. key
  local record = hash_fields(runs, 'generation', 'state', 'fair', 'function')
  if record and record[3] and record[4] then  -- FairShare: it left the stream
    fair_claimed(prefix, record[4], key)
    fair_tasks[record[4]] = true
  end
  local current = record and tonumber(record[1])
  if not record then
    bury(stream, KEYS[3], group, id, 'bad-run-record',
      'its run record ' .. runs .. ' is not a hash', worker, started)
    buried = buried + 1
    codes[#codes + 1] = 'B'
  elseif generation > 0 and (current == nil or current > generation
      or record[2] == 'cancelled') then
    codes[#codes + 1] = 'S'
    if id ~= '' then stale[#stale + 1] = id end  -- an execution built from fields alone
  else
    if ARGV[5] == '1' then
      -- A redelivery (its worker stopped) says so on the record, in the same HSET.
      if again == '1' then
        redis.call('HSET', runs, 'state', 'running', 'worker', worker, 'started_at',
          started, 'stream_id', '', 'redelivered', '1')
      else
        redis.call('HSET', runs, 'state', 'running', 'worker', worker, 'started_at',
          started, 'stream_id', '')
      end
    end
    if again == '1' then redis.call('DEL', prefix .. ':progress:' .. key) end
    if listening then
      emit(prefix .. ':state:' .. key,
        '{"type":"state","key":' .. json_string(key) .. ',"state":"running","worker":'
        .. json_string(worker) .. ',"started_at":"' .. started .. '"}')
    end
    codes[#codes + 1] = 'R'
  end
end

if #stale > 0 then
  redis.call('XACK', stream, group, unpack(stale))
  redis.call('XDEL', stream, unpack(stale))
end
for task in pairs(fair_tasks) do fair_release(prefix, task, stream) end
if buried > 0 then trim_dead(KEYS[3], tonumber(ARGV[6]), tonumber(ARGV[7])) end
return codes
