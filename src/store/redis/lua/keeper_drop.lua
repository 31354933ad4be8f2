-- keeper_drop: a host's keeper stops looking after a session that holds
-- nothing, atomically with any claim it takes (acquire adds it back).
--
-- KEYS[1]  P host:HOST
-- KEYS[2]  P session_claims:ID
-- ARGV[1]  the session id
--
-- Returns a JSON string {"dropped": true|false}.

if redis.call('SCARD', KEYS[2]) > 0 then return encode({dropped = false}) end
redis.call('SREM', KEYS[1], ARGV[1])
return encode({dropped = true})
