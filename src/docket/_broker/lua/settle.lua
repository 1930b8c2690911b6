-- settle: record the final state of a batch of finished executions and acknowledge them.
--
-- KEYS[1] stream P:stream     KEYS[2] listening flag P:listening
-- KEYS[3] the failed tasks P:failed (a stream)
-- ARGV[1] prefix P   ARGV[2] consumer group   ARGV[3] TTL seconds for terminal records (0 = delete)
-- ARGV[4] completed_at ISO for records that carry none
-- ARGV[5] failed limit (entries; 0 = keep none)
-- ARGV[6] failed age cutoff: entries older than this epoch millisecond go ('' = keep)
-- ARGV[7] throughput and timing counts: records of 3 fields (length-prefixed, see
-- records() in _prelude.lua): the hash (P:stats:<suffix>: a minute's epoch seconds, or
-- window:<epoch> for a ten-minute timing window), the field ("<outcome>:<task>",
-- "runtime.<bucket>:<task>", "wait.<bucket>:<task>"), the count to add
-- ARGV[8] seconds the per-minute hashes live
-- ARGV[9] seconds P:failed lives after its last entry (the failed tasks' retention)
-- ARGV[10..] the batch, 7 arguments per execution: task key, generation, message id
-- ('' if none), state (completed|failed|cancelled), completed_at ISO ('' = ARGV[4]),
-- error text ('' if none), flags: "r" when a result or exception was stored under
-- <key>:<generation>, "p" when the execution wrote progress (so the progress hash exists and must
-- go), "k" when the run received its cancellation and carried on (its own state stands
-- over a "cancelled" record), "a" when 7 more arguments follow for the failed tasks: task name,
-- exception type, message, traceback, attempt, worker, started_at ISO. (Whole
-- arguments: Redis hands them over without parsing, far cheaper than splitting one
-- packed string, and any byte is fine.)
--
-- Cost: a successful execution costs what it did before (the counts and timings arrive
-- at most once a second, already summed, from the worker). A failed one to keep
-- reads its record with HMGET instead of HGET and adds one XADD (trimmed to the limit);
-- its traceback also stays on the record (same HSET).
--
-- Race prevented: a run that was replaced while it ran (its record now carries a
-- newer generation) must not overwrite its successor's record or delete its
-- successor's progress; it publishes no terminal event (a caller waiting on the key
-- waits for the replacement) and acknowledges its own message. A run cancelled while it ran keeps
-- its `cancelled` state whatever it reports. Finished records keep `args`/`kwargs` empty
-- (read for the failed tasks first, with the signature fields that verify them). A run
-- record that is not a hash (someone else wrote that key) is left as it is, and
-- counted with the superseded: the message is still acknowledged and the terminal
-- event published, so one bad key never holds the batch back.
-- Returns the number of executions that were superseded (or whose record was bad).

local stream, prefix, group, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local failed_key, limit = KEYS[3], tonumber(ARGV[5]) or 0
local listening = redis.call('EXISTS', KEYS[2]) == 1
local acks, superseded = {}, 0

-- XADD trimmed to the limit; engines without XADD options add, then trim by hand.
-- Every entry renews P:failed's expiry: a stream nobody writes to again goes when
-- its newest entry is as old as the retention (older entries are trimmed anyway).
local function keep_failed(fields)
  local ok = pcall(redis.call, 'XADD', failed_key, 'MAXLEN', limit, '*', unpack(fields))
  redis.call('EXPIRE', failed_key, tonumber(ARGV[9]))
  if ok then return end
  redis.call('XADD', failed_key, '*', unpack(fields))
  redis.call('EXPIRE', failed_key, tonumber(ARGV[9]))
  local excess = redis.call('XLEN', failed_key) - limit
  if excess > 0 then
    local ids = {}
    for _, entry in ipairs(redis.call('XRANGE', failed_key, '-', '+', 'COUNT', excess)) do
      ids[#ids + 1] = entry[1]
    end
    redis.call('XDEL', failed_key, unpack(ids))
  end
end

local i = 10
while i <= #ARGV do
  local key, generation_text, id = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local state, completed_at, err, flags = ARGV[i + 3], ARGV[i + 4], ARGV[i + 5], ARGV[i + 6]
  local generation = tonumber(generation_text)
  local r = nil  -- the failed fields, r[8]..r[14], when flags has "a"
  if string.find(flags, 'a', 1, true) then
    r = {}
    for j = 8, 14 do r[j] = ARGV[i + j - 1] end
    i = i + 14
  else
    i = i + 7
  end
  if completed_at == '' then completed_at = ARGV[4] end
  local runs = prefix .. ':runs:' .. key
  local progress = prefix .. ':progress:' .. key
  local kept = state == 'failed' and r ~= nil and limit > 0
  local record, flags_at
  if kept then
    record = hash_fields(runs, 'generation', 'state', 'function', 'args', 'kwargs',
      'when', 'serializer', 'signature', 'message_when', 'attempt', 'waiters', 'gate',
      'held', 'steps', 'fair', 'priority')
    flags_at = 11
  else
    record = hash_fields(runs, 'generation', 'state', 'waiters', 'gate', 'held', 'steps')
    flags_at = 3
  end
  -- A record that is not a hash (someone else wrote the key) is left alone.
  local bad = not record
  record = record or {}
  -- A run cancelled while it ran (its cancel signal lost) stays cancelled; one that
  -- received the cancellation and carried on (flag "k") ends as its body did.
  if record[2] == 'cancelled' and not string.find(flags, 'k', 1, true) then
    state = 'cancelled'
    kept = false
  end
  local current = tonumber(record[1])
  local stale = bad or (generation > 0 and (current == nil or current > generation))

  -- Workflows (_gates.lua): the record has followers waiting, or a gate of its own,
  -- or followers holding it (read in the same HMGET: a plain task pays nothing).
  local waiters, gated = record[flags_at], record[flags_at + 1]
  local held = (tonumber(record[flags_at + 2]) or 0) > 0

  if stale then
    superseded = superseded + 1
    if string.find(flags, 'p', 1, true) then
      local tag = tonumber((hash_fields(progress, 'generation') or {})[1])
      if tag == nil or tag <= generation then redis.call('DEL', progress) end
    end
  else
    if ttl > 0 then
      local extra = {}
      if err ~= '' then extra[#extra + 1] = 'error'; extra[#extra + 1] = err end
      -- A failure's traceback stays on the record (for the task's page), in the
      -- same HSET.
      if r ~= nil and state == 'failed' then
        extra[#extra + 1] = 'traceback'; extra[#extra + 1] = r[11]
      end
      if string.find(flags, 'r', 1, true) then
        -- Each run's result has its own key, K:<generation>, so a run that a
        -- replace superseded can never overwrite its successor's result.
        extra[#extra + 1] = 'result_key'; extra[#extra + 1] = key .. ':' .. generation_text
      end
      -- The arguments were for running it: a finished record keeps them empty
      -- (blanked in the same HSET, so dropping them costs no extra command). The
      -- signature fields schedule.lua copied stay: with no arguments left they
      -- verify nothing, and removing them would cost a command per task.
      redis.call('HSET', runs, 'state', state, 'completed_at', completed_at,
        'args', '', 'kwargs', '', unpack(extra))
      if waiters or gated then
        held = gate_ended(prefix, key, state, completed_at, ttl, listening, waiters, gated)
      end
      if not held then redis.call('EXPIRE', runs, ttl) end
    elseif waiters or gated or held then
      redis.call('HSET', runs, 'state', state, 'completed_at', completed_at,
        'args', '', 'kwargs', '')
      if waiters or gated then
        held = gate_ended(prefix, key, state, completed_at, ttl, listening, waiters, gated)
      end
      if not held then redis.call('DEL', runs) end
    else
      redis.call('DEL', runs)
    end
    if string.find(flags, 'p', 1, true) then redis.call('DEL', progress) end
    -- The run is over: its checkpoint goes with it (_steps.lua).
    if record[flags_at + 3] then steps_drop(prefix, key) end
    if kept then
      local entry = {'key', key, 'function', record[3] or r[8], 'args', record[4] or '',
        'kwargs', record[5] or '', 'when', record[6] or '', 'generation', generation_text,
        'error_type', r[9], 'message', r[10], 'traceback', r[11], 'attempt', r[12],
        'worker', r[13], 'started_at', r[14] or '', 'failed_at', completed_at}
      -- A signed (or non-pickle) message's signature and the exact fields it covers,
      -- so the kept arguments verify (and a replay can be signed again).
      local signed = {'serializer', 'signature', 'message_when', 'message_attempt'}
      for n, name in ipairs(signed) do
        if record[6 + n] then
          entry[#entry + 1] = name
          entry[#entry + 1] = record[6 + n]
        end
      end
      -- A FairShare task's value: a replay waits in that value's backlog again.
      if record[15] then
        entry[#entry + 1] = 'fair'
        entry[#entry + 1] = record[15]
      end
      -- A priority other than 5: a replay goes back to its priority's lane.
      if record[16] then
        entry[#entry + 1] = 'priority'
        entry[#entry + 1] = record[16]
      end
      keep_failed(entry)
    end
  end

  -- A run a replace superseded ends without a state event: a caller waiting on the
  -- key waits for the replacement, not for this run's ending.
  local replaced = not bad and current ~= nil and generation > 0 and current > generation
  if listening and not replaced then
    local event = '{"type":"state","key":' .. json_string(key) .. ',"state":"' .. state
      .. '","completed_at":"' .. completed_at .. '"'
    if err ~= '' then event = event .. ',"error":' .. json_string(err) end
    emit(prefix .. ':state:' .. key, event .. '}')
  end
  if id ~= '' then acks[#acks + 1] = id end
end

if #acks > 0 then
  redis.call('XACK', stream, group, unpack(acks))
  redis.call('XDEL', stream, unpack(acks))
end

if ARGV[6] ~= '' then
  local ok = pcall(redis.call, 'XTRIM', failed_key, 'MINID', ARGV[6])
  if not ok then
    local last = tostring(tonumber(ARGV[6]) - 1)
    while true do
      local ids = {}
      for _, entry in ipairs(redis.call('XRANGE', failed_key, '-', last, 'COUNT', 100)) do
        ids[#ids + 1] = entry[1]
      end
      if #ids > 0 then redis.call('XDEL', failed_key, unpack(ids)) end
      if #ids < 100 then break end
    end
  end
end

if ARGV[7] ~= '' then
  local touched, seen = {}, {}
  for _, s in ipairs(records(ARGV[7], 3)) do
    local hash = prefix .. ':stats:' .. s[1]
    redis.call('HINCRBY', hash, s[2], tonumber(s[3]))
    if not seen[hash] then seen[hash] = true; touched[#touched + 1] = hash end
  end
  for _, hash in ipairs(touched) do redis.call('EXPIRE', hash, tonumber(ARGV[8])) end
end
return superseded
