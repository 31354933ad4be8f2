-- renew: restarts the TTL of names the caller holds.
--
-- KEYS[1]  P events
-- KEYS[2]  P session:ID   the caller's session (must hold req.nonce)
-- then for name i = 1..n: KEYS[2+i] P claim:NAME
-- ARGV[1]  JSON {session, nonce, ttl_ms (0: the holder's own ttl_ms), names}
--
-- Returns a JSON string {"status":"ok"|"no_session","results":[{name,
-- result, expires_ms}]} in the order of names, result one of "renewed"
-- (expires_ms: the new expiry, 0 for none), "expired" (the caller's hold
-- ran out; not revived), "not_held" (no record), "held_by_other" (a record
-- without the caller). With "no_session" (the caller's session key is gone
-- or holds another nonce) nothing is renewed.

local req = cjson.decode(ARGV[1])
local now_ms = math.floor(now_us() / 1000)
if session_state(KEYS[2]) ~= req.nonce then
  return encode({status = 'no_session', results = {}})
end
local recs = {}
for i = 1, #req.names do recs[i] = read_claim(KEYS[2 + i]) or false end

local results = {}
for i, name in ipairs(req.names) do
  local rec = recs[i]
  local r = {name = name, result = 'not_held', expires_ms = 0}
  if rec then
    local mine
    for _, h in ipairs(rec.holders) do
      if h.session == req.session and h.nonce == req.nonce then mine = h end
    end
    if not mine then
      r.result = 'held_by_other'
    elseif expired(mine, now_ms) then
      r.result = 'expired'
      r.expires_ms = mine.expires_ms
    else
      local ttl = (req.ttl_ms or 0) > 0 and req.ttl_ms or (mine.ttl_ms or 0)
      if ttl > 0 then
        mine.ttl_ms = ttl
        mine.expires_ms = now_ms + ttl
        write_claim(KEYS[2 + i], name, rec.mode, rec.holders)
        add_event(KEYS[1], 'claim.renewed', {name = name, session = req.session,
                                             fence = mine.fence, expires_ms = mine.expires_ms},
                  now_ms)
      end
      r.result = 'renewed'
      r.expires_ms = mine.expires_ms
    end
  end
  results[i] = r
end
return encode({status = 'ok', results = results})
