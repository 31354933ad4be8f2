-- keeper_leave: a host's keeper ends when it looks after no session,
-- atomically with a claim that would add one (acquire then finds no keeper
-- and starts one).
--
-- KEYS[1]  P host:HOST
-- KEYS[2]  P keeper:HOST
-- ARGV[1]  the keeper's value ("PID NONCE")
--
-- Returns a JSON string {"left": true|false}.

if redis.call('SCARD', KEYS[1]) > 0 then return encode({left = false}) end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return encode({left = true})
