-- debounce: trailing-edge "settle, then run once" decision for one execution.
--
-- KEYS[1] <C>:debounce:<tag>:{<tag>}:winner   KEYS[2] <C>:debounce:<tag>:{<tag>}:last_seen
-- ARGV[1] mode: "check" | "restore"   ARGV[2] task key K   ARGV[3] now (ms, worker clock)
-- ARGV[4] settle (ms)   ARGV[5] key TTL (ms, 10 x settle)
-- ARGV[6] lost (ms): a winner that has not come back for this long is replaced
--
-- The winner key holds "<ms of the winner's last check>:<K>"; last_seen holds the ms
-- of the latest submission. Both share the {tag} hash slot.
-- Race prevented: submissions of one tag checked by several workers at once agree on
-- exactly one winner, and the winner's "quiet long enough?" test sees every later
-- submission's time; reading and writing both keys is one step.
-- check: no winner (or a lost one) -> this one wins, last_seen = now, {2, settle};
--   the winner coming back -> quiet for settle: delete both keys, {1, 0}; else
--   {2, remaining ms}; another winner -> last_seen = now, {3, 0} (drop this one).
-- restore: the winner was admitted but another control blocked it; make it the winner
--   again (unless another took over) with last_seen = now - settle, so that it runs as
--   soon as it comes back unless new submissions arrive. Returns {0, 0}.
-- Returns {action, ms}: 1 = proceed, 2 = reschedule after ms, 3 = drop.

local winner, last_seen = KEYS[1], KEYS[2]
local key, now = ARGV[2], tonumber(ARGV[3])
local settle, ttl, lost = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])

if ARGV[1] == 'restore' then
  if redis.call('SET', winner, ARGV[3] .. ':' .. key, 'NX', 'PX', ttl) then
    redis.call('SET', last_seen, tostring(now - settle), 'PX', ttl)
  end
  return {0, 0}
end

local current = redis.call('GET', winner)
if current then
  local checked, who = string.match(current, '^(%d+):(.*)$')
  if who == key then
    local quiet = now - (tonumber(redis.call('GET', last_seen)) or 0)
    if quiet >= settle then
      redis.call('DEL', winner, last_seen)
      return {1, 0}
    end
    redis.call('SET', winner, ARGV[3] .. ':' .. key, 'PX', ttl)
    redis.call('PEXPIRE', last_seen, ttl)
    return {2, settle - quiet}
  end
  if checked and now - tonumber(checked) <= lost then
    redis.call('SET', last_seen, ARGV[3], 'PX', ttl)
    redis.call('PEXPIRE', winner, ttl)
    return {3, 0}
  end
end

redis.call('SET', winner, ARGV[3] .. ':' .. key, 'PX', ttl)
redis.call('SET', last_seen, ARGV[3], 'PX', ttl)
return {2, settle}
