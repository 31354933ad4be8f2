-- session_end: ends a session and releases its claims.
--
-- KEYS[1]  P events
-- KEYS[2]  P stats               the metrics counters (common.lua: count)
-- KEYS[3]  P session:ID
-- KEYS[4]  P session_claims:ID
-- KEYS[5]  P host:HOST           the set of a host's keeper (with drop_host)
-- then for name i = 1..n: KEYS[3i+3] P claim:NAME, KEYS[3i+4] P wake:NAME,
--          KEYS[3i+5] P queue:NAME
--          (the names of the claim index, as the caller read them, or the
--          names it knows it holds)
-- ARGV[1]  JSON {session, nonce, names, drop_host: true to take the session
--          out of KEYS[5], quiet_gone: true to log no session.ended for a
--          key that is gone when nothing was released}
--
-- Deletes the session key when it holds the nonce (from then on none of the
-- session's holders is valid anywhere, whatever is left behind), removes the
-- holders of this session and nonce from the names given and wakes their
-- waiters.
-- Returns a JSON string {"status": S, "released": [names], "remaining":
-- [names]}: S is "ended", "gone" (no key: claims released anyway) or
-- "other_incarnation" (another nonce holds the id: key kept); "remaining"
-- lists names of the index not given (taken meanwhile): call again with them.

local req = cjson.decode(ARGV[1])
local now_ms = math.floor(now_us() / 1000)
local st = session_state(KEYS[3])
local status = 'ended'
if st == false then status = 'gone' elseif st ~= req.nonce then status = 'other_incarnation' end
local recs, given = {}, {}
for i, name in ipairs(req.names) do
  recs[i] = read_claim(KEYS[3 * i + 3]) or false
  given[name] = true
end

if status == 'ended' then redis.call('DEL', KEYS[3]) end
local released = {}
for i, name in ipairs(req.names) do
  local rec = recs[i]
  if rec then
    local keep, top = {}, nil
    for _, h in ipairs(rec.holders) do
      if h.session == req.session and h.nonce == req.nonce then
        if not top or h.fence > top then top = h.fence end
      else
        keep[#keep + 1] = h
      end
    end
    if top then
      write_claim(KEYS[3 * i + 3], name, rec.mode, keep)
      wake(KEYS[3 * i + 4], 'released', top, KEYS[3 * i + 5], now_ms)
      add_event(KEYS[1], 'claim.released', {name = name, session = req.session, fence = top},
                now_ms)
      count(KEYS[2], 'release', name, req.session)
      released[#released + 1] = name
    end
  end
  redis.call('SREM', KEYS[4], name)
end
local remaining = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[4])) do
  if not given[name] then remaining[#remaining + 1] = name end
end
if #remaining == 0 and status ~= 'other_incarnation' then redis.call('DEL', KEYS[4]) end
if status ~= 'other_incarnation' then
  if req.drop_host then redis.call('SREM', KEYS[5], req.session) end
  if not (req.quiet_gone and status == 'gone' and #released == 0) then
    add_event(KEYS[1], 'session.ended', {session = req.session}, now_ms)
  end
end
return encode({status = status, released = released, remaining = remaining})
