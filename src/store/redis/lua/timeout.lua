-- timeout: records that a claim with --wait gave up before it got its names.
--
-- KEYS[1]  P events
-- KEYS[2]  P stats               the metrics counters (common.lua: count)
-- ARGV[1]  JSON {names, session, waited_ms, name, holder}: the names asked
--          for, the caller's session, how long it waited, the busy name and
--          its holder's session
--
-- Logs claim.timeout and counts it for the busy name. Returns "ok".

local req = cjson.decode(ARGV[1])
add_event(KEYS[1], 'claim.timeout', {names = req.names, session = req.session,
                                     waited_ms = req.waited_ms, name = req.name,
                                     holder = req.holder}, math.floor(now_us() / 1000))
count(KEYS[2], 'timeout', req.name or '', req.session)
return 'ok'
