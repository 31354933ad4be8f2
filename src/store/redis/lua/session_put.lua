-- session_put: records a session, or refreshes the record of the same
-- incarnation.
--
-- KEYS[1]  P events
-- KEYS[2]  P stats               the metrics counters (common.lua: count)
-- KEYS[3]  P session:ID
-- KEYS[4]  P session_claims:ID
-- ARGV[1]  the session's JSON record (with string "id" and "nonce")
-- ARGV[2]  the TTL in ms (> 0): the key's PEXPIRE
--
-- Returns a JSON string {"status": S}: "created", "refreshed" (the key held
-- the same nonce: record replaced, TTL restarted) or "exists" (another
-- nonce holds the id: nothing changed).

local rec = cjson.decode(ARGV[1])
local ttl = tonumber(ARGV[2])
if type(rec.nonce) ~= 'string' or type(rec.id) ~= 'string' or not ttl or ttl <= 0 then
  fail('session_put: a record with id and nonce and a TTL > 0 are needed')
end
local st = session_state(KEYS[3])
if st ~= false and st ~= rec.nonce then return encode({status = 'exists'}) end
redis.call('SET', KEYS[3], ARGV[1], 'PX', int(ttl))
redis.call('PEXPIRE', KEYS[4], int(ttl))
if st == false then
  local ev = {session = rec.id, pid = rec.pid or 0, host = rec.host or ''}
  if type(rec.worker) == 'string' then
    ev.worker = rec.worker
    ev.restarts = tonumber(rec.restarts) or 0
    if ev.restarts > 0 then
      redis.call('HINCRBY', KEYS[2], 'restarts|' .. bounded_label(KEYS[2], 'worker', rec.worker), 1)
    end
  end
  add_event(KEYS[1], 'session.started', ev, math.floor(now_us() / 1000))
  return encode({status = 'created'})
end
return encode({status = 'refreshed'})
