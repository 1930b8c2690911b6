-- signal: deliver a signal, or take a kept one (see _mailbox.lua).
--
-- KEYS[1] waiters P:mailbox:waiters:N   KEYS[2] kept P:mailbox:kept:N
-- KEYS[3] listening flag P:listening
-- ARGV[1] prefix P   ARGV[2] mode: "send" | "take"   ARGV[3] signal name N
-- ARGV[4] now (epoch seconds, the sender's clock)
-- ARGV[5] payload (send)   ARGV[6] lookback seconds a signal nobody waits for is
--         kept (send; 0 = not kept)
--
-- Race prevented: two senders of N at once, or a sender racing a task's add (which
-- consumes a kept N in schedule.lua) or its timeout (stream_due.lua): each step
-- reads and changes the waiters, the kept list and the gate together, so a signal
-- is received by one waiter, once, and a waiter receives one signal.
-- Returns, for "send", 1 when a waiting task received it (0: kept or dropped);
-- for "take", the oldest kept payload (consumed) or false.

local prefix, mode, name, now = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
if mode == 'take' then
  return mailbox_take(prefix, name, now) or false
end
local listening = redis.call('EXISTS', KEYS[3]) == 1
if mailbox_deliver(prefix, name, ARGV[5], now, tonumber(ARGV[6]), listening) then
  return 1
end
return 0
