-- reap: removes the holders of one name that are no longer valid.
--
-- KEYS[1]  P events
-- KEYS[2]  P stats               the metrics counters (common.lua: count)
-- KEYS[3]  P claim:NAME
-- KEYS[4]  P wake:NAME
-- then any number of P session:HID: the holders' session keys, as the
--          caller read them (a holder whose key is not given is kept)
-- ARGV[1]  JSON {prefix, name, dead: [session ids the caller verified dead
--          on its own host]}
--
-- A holder is removed when its session is in `dead`, its claim TTL has
-- passed by the server's clock, or its session key is gone or holds another
-- nonce; an unreadable session record keeps it (held). Each removal is a
-- claim.reaped (claim.expired for a TTL) event, and wakes the name's waiters.
-- Returns a JSON string {"removed": [{session, fence, why, expired}]}.

local req = cjson.decode(ARGV[1])
local now_ms = math.floor(now_us() / 1000)
local rec = read_claim(KEYS[3])
if not rec then return encode({removed = {}}) end
local supplied, dead = {}, {}
for i = 5, #KEYS do supplied[KEYS[i]] = true end
for _, id in ipairs(req.dead or {}) do dead[id] = true end

local keep, removed, top = {}, {}, 0
for _, h in ipairs(rec.holders) do
  local why
  if dead[h.session] then
    why = 'its session died on its host'
  elseif expired(h, now_ms) then
    why = 'ttl expired'
  else
    local skey = req.prefix .. 'session:' .. h.session
    if supplied[skey] then
      local st = session_state(skey)
      if st == false then why = 'its session ended or expired'
      elseif st ~= true and st ~= h.nonce then why = 'its session was replaced' end
    end
  end
  if why then
    removed[#removed + 1] = {session = h.session, fence = h.fence, why = why,
                             expired = why == 'ttl expired'}
    if h.fence > top then top = h.fence end
    local ev = why == 'ttl expired' and 'claim.expired' or 'claim.reaped'
    add_event(KEYS[1], ev, {name = req.name, session = h.session, fence = h.fence,
                            reason = why}, now_ms)
    count(KEYS[2], why == 'ttl expired' and 'reaped_ttl' or 'reaped_dead', req.name, h.session)
  else
    keep[#keep + 1] = h
  end
end
if #removed > 0 then
  write_claim(KEYS[3], req.name, rec.mode, keep)
  wake(KEYS[4], 'reaped', top)
end
return encode({removed = removed})
