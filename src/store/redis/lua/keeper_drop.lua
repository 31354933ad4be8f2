-- keeper_drop: a host's keeper stops looking after a session that holds
-- nothing, atomically with any claim it takes (acquire adds it back).
--
-- KEYS[1]  P host:HOST
-- KEYS[2]  P session_claims:ID
-- then P claim:NAME for each name of ARGV[2]
-- ARGV[1]  the session id
-- ARGV[2]  JSON [names]: the claim index as the caller read it
--
-- A name of the index whose claim record does not list the session (it was
-- forced away, taken over, reaped) leaves the index first; a record that
-- cannot be read keeps it. Returns a JSON string {"dropped": true|false}.

local names = cjson.decode(ARGV[2])
for i, name in ipairs(names) do
  local raw = redis.call('GET', KEYS[i + 2])
  local holds = false
  if raw then
    local ok, rec = pcall(cjson.decode, raw)
    if not ok or type(rec) ~= 'table' or type(rec.holders) ~= 'table' then
      holds = true
    else
      for _, h in ipairs(rec.holders) do
        if type(h) ~= 'table' or h.session == ARGV[1] then holds = true end
      end
    end
  end
  if not holds then redis.call('SREM', KEYS[2], name) end
end
if redis.call('SCARD', KEYS[2]) > 0 then return encode({dropped = false}) end
redis.call('SREM', KEYS[1], ARGV[1])
return encode({dropped = true})
