-- dead_letter: move messages that must never run to the dead-letter stream P:dead.
--
-- KEYS[1] stream P:stream   KEYS[2] dead letters P:dead   KEYS[3] listening flag
-- ARGV[1] prefix P   ARGV[2] consumer group   ARGV[3] most entries P:dead keeps
-- ARGV[4] worker name   ARGV[5] now, ISO   ARGV[6] TTL seconds of terminal records
-- (0 = delete)   ARGV[7] the batch: one record per message with 3 fields: message id,
-- reason category, reason text (length-prefixed, see records() in _prelude.lua)
-- ARGV[8] seconds P:dead lives after its last entry
--
-- Each message's original fields are copied from the stream, with `dead_reason`,
-- `dead_detail`, `dead_worker`, `dead_at` and `dead_message_id` added, then the message
-- is acknowledged and deleted. When the message's key and generation are readable and
-- still match the run record, the record ends `failed` (so waiters are released and
-- the key can be added again) and a state event is published; a run record that is
-- not a hash (written by someone else) is left as it is.
-- Race prevented: copying, acknowledging and failing the record in one step, a
-- message is never both dead-lettered and redelivered, nor lost between the two.
-- P:dead is capped by deleting its oldest entries (trim_dead, _prelude.lua).
-- Returns the number of messages dead-lettered.

local stream, dead, prefix, group = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local limit, worker, now, ttl = tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6])
local listening = redis.call('EXISTS', KEYS[3]) == 1
local moved = 0

for _, r in ipairs(records(ARGV[7], 3)) do
  local id, category, detail = r[1], r[2], r[3]
  local key, generation = bury(stream, dead, group, id, category, detail, worker, now)
  moved = moved + 1

  if key and key ~= '' then
    local record = hash_fields(prefix .. ':runs:' .. key, 'generation', 'state') or {}
    local current = tonumber(record[1])
    local live = record[2] == 'queued' or record[2] == 'running' or record[2] == 'scheduled'
    if current ~= nil and current == (generation or 0) and live then
      end_run(prefix, key, 'failed', now, ttl, listening,
        'dead-lettered (' .. category .. '): ' .. detail, {'args', '', 'kwargs', ''})
    end
  end
end

trim_dead(dead, limit, tonumber(ARGV[8]))
return moved
