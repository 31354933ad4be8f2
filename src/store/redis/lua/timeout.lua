-- timeout: a claim with --wait gave up before it got its names: logs
-- claim.timeout, counts it, and takes its tickets out of the names' queues.
--
-- KEYS[1]  P events
-- KEYS[2]  P stats               the metrics counters (common.lua: count)
-- then for name i = 1..n: KEYS[2i+1] P queue:NAME, KEYS[2i+2] P wake:NAME
-- ARGV[1]  JSON {names, session, waited_ms, name, holder, ticket, log}: the
--          names asked for, the caller's session, how long it waited, the
--          busy name and its holder's session, the caller's ticket id; log:
--          false to leave the queues only (a wait that ended otherwise)
--
-- A queue the ticket leaves wakes its waiters (one behind it may be free
-- to go now). Returns "ok".

local req = cjson.decode(ARGV[1])
if req.log then
  add_event(KEYS[1], 'claim.timeout', {names = req.names, session = req.session,
                                       waited_ms = req.waited_ms, name = req.name,
                                       holder = req.holder}, math.floor(now_us() / 1000))
  count(KEYS[2], 'timeout', req.name or '', req.session)
end
if type(req.ticket) == 'string' and req.ticket ~= '' then
  local now_ms = math.floor(now_us() / 1000)
  for i = 1, #req.names do
    if redis.call('HDEL', KEYS[2 * i + 1], req.ticket) == 1 then
      wake(KEYS[2 * i + 2], 'left', 0, KEYS[2 * i + 1], now_ms)
    end
  end
end
return 'ok'
