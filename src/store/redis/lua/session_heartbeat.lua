-- session_heartbeat: keeps a session alive for another TTL, only while its
-- key holds the caller's nonce.
--
-- KEYS[1]  P session:ID
-- KEYS[2]  P session_claims:ID
-- ARGV[1]  nonce
-- ARGV[2]  the TTL in ms (> 0)
--
-- Returns a JSON string {"status":"ok"} or {"status":"gone"} (no key, or
-- another nonce: nothing changed; the session's claims are no longer valid).

local ttl = tonumber(ARGV[2])
if not ttl or ttl <= 0 then fail('session_heartbeat: a TTL > 0 is needed') end
if session_state(KEYS[1]) ~= ARGV[1] then return encode({status = 'gone'}) end
redis.call('PEXPIRE', KEYS[1], int(ttl))
redis.call('PEXPIRE', KEYS[2], int(ttl))
return encode({status = 'ok'})
