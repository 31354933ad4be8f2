-- release: gives up names, by their owner or by force.
--
-- KEYS[1]  P events
-- KEYS[2]  P stats               the metrics counters (common.lua: count)
-- KEYS[3]  P session_claims:ID   the caller's claim index
-- then for name i = 1..n: KEYS[3i+1] P claim:NAME, KEYS[3i+2] P wake:NAME,
--          KEYS[3i+3] P queue:NAME
-- ARGV[1]  JSON {session, nonce, force: bool, names: [...]}
--          By owner: removes the holder with this session and nonce.
--          force: removes every holder (recorded as claim.forced, by session).
--          strict (without force): changes nothing when a name has a record
--          the caller is no holder of, and returns {"refused": NAME}; the
--          caller judges that name's holders and calls again without it.
--
-- Returns a JSON string {"results":[{name, result, sessions}]} in the order
-- of names, result one of "released" (sessions: the holders removed),
-- "not_held" (no record), "held_by_other" (a record without the caller as a
-- holder; not changed). Each release adds an entry to P wake:NAME that
-- names the first waiter of P queue:NAME (common.lua: wake).

local req = cjson.decode(ARGV[1])
local now_ms = math.floor(now_us() / 1000)
local recs = {}
for i = 1, #req.names do recs[i] = read_claim(KEYS[3 * i + 1]) or false end

if req.strict and not req.force then
  for i, name in ipairs(req.names) do
    local mine = not recs[i]
    for _, h in ipairs(recs[i] and recs[i].holders or {}) do
      if h.session == req.session and h.nonce == req.nonce then mine = true end
    end
    if not mine then return encode({refused = name}) end
  end
end

local results = {}
for i, name in ipairs(req.names) do
  local ckey, wkey, qkey, rec = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3], recs[i]
  local r = {name = name, result = 'not_held', sessions = {}}
  if rec then
    local keep, removed, top = {}, {}, 0
    for _, h in ipairs(rec.holders) do
      if req.force or (h.session == req.session and h.nonce == req.nonce) then
        removed[#removed + 1] = h.session
        if h.fence > top then top = h.fence end
      else
        keep[#keep + 1] = h
      end
    end
    if #removed == 0 then
      r.result = 'held_by_other'
    else
      write_claim(ckey, name, rec.mode, keep)
      wake(wkey, req.force and 'forced' or 'released', top, qkey, now_ms)
      if req.force then
        add_event(KEYS[1], 'claim.forced', {name = name, by = req.session, holders = removed},
                  now_ms)
        count(KEYS[2], 'forced', name, '')
      else
        add_event(KEYS[1], 'claim.released', {name = name, session = req.session, fence = top},
                  now_ms)
        count(KEYS[2], 'release', name, req.session)
        redis.call('SREM', KEYS[3], name)
      end
      r.result = 'released'
      r.sessions = removed
    end
  end
  results[i] = r
end
return encode({results = results})
