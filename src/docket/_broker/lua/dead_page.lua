-- dead_page: one page of the dead-letter stream, newest first.
--
-- KEYS[1] dead letters P:dead
-- ARGV[1] "+" for the newest entries, or "(<entry id>" for those older than it
-- ARGV[2] how many entries at most
--
-- A script only because XREVRANGE is not offered as a client method by every
-- engine; it reads one key and changes nothing, so there is no race to prevent.
-- Returns XREVRANGE's reply: {{entry id, {field, value, ...}}, ...}.

return redis.call('XREVRANGE', KEYS[1], ARGV[1], '-', 'COUNT', tonumber(ARGV[2]))
