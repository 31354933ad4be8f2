-- acquire: takes one or more names for one session, all or nothing.
--
-- KEYS[1]  P events
-- KEYS[2]  P stats               the metrics counters (common.lua: count)
-- KEYS[3]  P session:ID          the caller's session (must hold req.nonce)
-- KEYS[4]  P session_claims:ID   the caller's claim index
-- KEYS[5]  P host:HOST           the sessions a host's keeper looks after
-- KEYS[6]  P keeper:HOST         that keeper's "PID NONCE", while it runs
-- then for name i = 1..n (in the order of req.names):
--   KEYS[4i+3] P claim:NAME, KEYS[4i+4] P fence:NAME, KEYS[4i+5] P wake:NAME,
--   KEYS[4i+6] P queue:NAME
-- then any number of P session:HID: the holders' session keys the caller
--   supplies (asked for by need_sessions).
-- ARGV[1]  JSON {prefix, session, nonce, mode: "exclusive"|"shared" (of every
--          name but those in shared_names: [...], asked for shared), ttl_ms,
--          pid, host, reason, meta: {}, names: [...], dead: [session ids the
--          caller verified dead on its own host], create: the caller's
--          session record (JSON text) to store when its key is missing,
--          create_ttl_ms: that key's PEXPIRE, keep: true to add the session
--          to P host:HOST, contend: true to count (and log, once per
--          holder) a busy answer as a contention, waited_ms and wait_bucket:
--          how long a call that waits has waited, and the histogram bucket
--          of that (absent: the call does not wait), ticket: {id, pid,
--          start_ticks, host} of a call that waits (it joins the queue of
--          the name it finds busy), dead_tickets: ticket ids the caller
--          verified dead on its own host, adopt: true when the caller names
--          its session without having read it (nonce "" : whichever the
--          record holds; pid: the record's), every answer then carries the
--          record as "session" (JSON text, absent when the key is missing);
--          here: {boot_id, machine_id, pid_ns} of the caller's host, whose
--          keeper keeps the session when it is anchored there (as keep)}
--
-- Fair waiting, as on the file backend (core/claims/wait_queue.hpp): a request is
-- served only when no holder conflicts with it and no live waiter of the
-- other mode is queued ahead of it (ahead of its own ticket, or anywhere
-- when it has none). P queue:NAME is a hash: ticket id -> JSON {seq (the
-- server's time in µs when queued), mode, session, pid, start_ticks, host,
-- seen_ms}; a ticket not refreshed for kTicketStaleMs is dropped, the hash
-- expires with it. A grant removes the caller's tickets.
--
-- A holder is valid iff its session is not in `dead`, its session key
-- exists and holds the holder's nonce (or cannot be read: held), and its
-- claim TTL has not passed by the server's clock. Invalid holders are
-- dropped (taken over). Re-claiming by the same session and nonce keeps
-- the fence (a TTL given restarts the expiry). Holding a name exclusively
-- covers a shared request; a shared holder asking for exclusive gets it
-- (with a new fence) only when no one else holds the name.
--
-- A grant returns a flat array, no JSON (the common answer, decoded with no
-- parser; integers go back as integer replies, exact to 2^53):
--   {"acquired", SESSION, CREATED, ADDED, KEEPER, then for each name in the
--    order of names: NAME, FENCE, ALREADY_HELD, MODE, ACQUIRED_MS,
--    EXPIRES_MS}
-- SESSION: the caller's session record as stored (with adopt; false
-- without, or when its key is missing); CREATED: 1 when the session key was
-- created; ADDED: 1 when the session is new in P host:HOST; KEEPER: the
-- value of P keeper:HOST or ""; ALREADY_HELD 1 or 0.
-- Any other answer is {JSON, SESSION, HOLDER_SESSION}: SESSION as above,
-- the busy holder's record (false unless busy by a holder whose key
-- exists), and JSON:
--   {"status":"busy","name":N,"mode":M,"holder":{...} or "waiter":{ticket
--     fields, id} (a waiter queued ahead),"holder_pttl_ms":n,
--     "ttl_left_ms":n, "wake_id":ID}   the first busy name, a valid holder
--     of it and its session key's PTTL, the time until that holder lapses
--     by a TTL (its session key's or its claim's; -1: none), and the last
--     id of P wake:NAME ("0-0")
--   {"status":"no_session"}   the caller's session key is missing or holds
--     another nonce
--   {"status":"need_sessions","sessions":[ids]}   call again with these
--     holders' session keys added to KEYS
-- No claim changes unless the status is "acquired" (a busy answer with
-- `contend` counts, logs claim.contended for a holder not logged yet, and
-- marks that holder "contended").

local req = cjson.decode(ARGV[1])
local n = #req.names
local ttl_ms = req.ttl_ms or 0
local supplied = {}
for i = 4 * n + 7, #KEYS do supplied[KEYS[i]] = true end
local dead = {}
for _, id in ipairs(req.dead or {}) do dead[id] = true end
local shared_names = {}
for _, name in ipairs(req.shared_names or {}) do shared_names[name] = true end
-- The mode a name is asked for in.
local function mode_of(name)
  if req.mode == 'shared' or shared_names[name] then return 'shared' end
  return 'exclusive'
end

local now = now_us()
local now_ms = math.floor(now / 1000)

local ticket = req.ticket
local dead_tickets = {}
for _, id in ipairs(req.dead_tickets or {}) do dead_tickets[id] = true end
local TICKET_STALE_MS = 60000

-- The live tickets of queue `qkey`, oldest first; stale and dead ones are
-- dropped from the hash.
local function live_queue(qkey)
  local raw = redis.call('HGETALL', qkey)
  local q = {}
  for j = 1, #raw, 2 do
    local ok, t = pcall(cjson.decode, raw[j + 1])
    local id = raw[j]
    local ours = ticket and id == ticket.id
    if not ok or type(t) ~= 'table' or type(t.seq) ~= 'number' or dead_tickets[id] or
        (not ours and now_ms - (tonumber(t.seen_ms) or 0) > TICKET_STALE_MS) then
      redis.call('HDEL', qkey, id)
    else
      t.id = id
      q[#q + 1] = t
    end
  end
  table.sort(q, function(a, b) return a.seq < b.seq end)
  return q
end

-- The first live ticket ahead of ours (of all when we have none) whose mode
-- is not `mode`, or nil.
local function conflicting_ahead(q, mode)
  for _, t in ipairs(q) do
    if ticket and t.id == ticket.id then return nil end
    if t.mode ~= mode then return t end
  end
  return nil
end

-- Adds or refreshes our ticket in queue `qkey`.
local function enqueue(qkey, name, q)
  if not ticket then return end
  local seq = now
  for _, t in ipairs(q) do
    if t.id == ticket.id then seq = t.seq end
  end
  redis.call('HSET', qkey, ticket.id, encode({seq = seq, mode = mode_of(name), session = req.session,
                                              pid = ticket.pid or 0,
                                              start_ticks = ticket.start_ticks or 0,
                                              host = ticket.host or '', seen_ms = now_ms}))
  redis.call('PEXPIRE', qkey, TICKET_STALE_MS)
end

local own, own_text, own_rec = session_state(KEYS[3])
-- A caller that names its session without reading it first (adopt) takes
-- the nonce (any, or the one it gave) and the anchor's pid from the record,
-- and gets the record back to judge its anchor.
local own_raw = nil
if req.adopt then
  own_raw = own_text
  if type(own) == 'string' and (req.nonce == '' or req.nonce == own) then
    req.nonce = own
    req.pid = tonumber(own_rec.pid) or 0
    -- Kept by this host's keeper when anchored here without a TTL (the
    -- caller's rule, core anchored_here, applied to the record it did not read).
    local here = req.here or {}
    req.keep = req.pid > 0 and (tonumber(own_rec.ttl_ms) or 0) == 0 and
               own_rec.boot_id == here.boot_id and
               (own_rec.machine_id or '') == (here.machine_id or '') and
               (own_rec.pid_ns or '') == (here.pid_ns or '')
  end
end
-- Every answer but a grant: {JSON of `t`, the caller's session record (when
-- adopting) or false, the busy holder's session record or false}. Records go back as
-- the text they are stored as, not escaped into the JSON.
local function answer(t, holder_text)
  return {encode(t), own_raw or false, holder_text or false}
end

local create = own == false and type(req.create) == 'string'
if own ~= req.nonce and not create then
  return answer({status = 'no_session'})
end

local need, asked = {}, {}

-- The last fence given for a name (0 when none).
local function last_fence(fkey)
  local prev = redis.call('GET', fkey)
  if not prev then return 0 end
  local last = tonumber(prev)
  if not last or last ~= math.floor(last) then
    fail('corrupt fence counter at ' .. fkey .. ' (SET it to the last fence given)')
  end
  return last
end

-- Sorts the holders of name i into mine, others (valid) and stale; adds to
-- `need` the sessions whose keys were not supplied.
local function plan(i, name)
  local ckey, fkey = KEYS[4 * i + 3], KEYS[4 * i + 4]
  local rec = read_claim(ckey)
  local p = {name = name, ckey = ckey, fkey = fkey, last = last_fence(fkey), others = {},
             stale = {}, mode = rec and rec.mode or mode_of(name),
             all = rec and rec.holders or {}}
  for _, h in ipairs(rec and rec.holders or {}) do
    if h.session == req.session then
      -- Ours: valid while not expired (another nonce is an earlier incarnation).
      if h.nonce == req.nonce and not expired(h, now_ms) then p.mine = h
      else p.stale[#p.stale + 1] = h.session end
    elseif dead[h.session] or expired(h, now_ms) then
      p.stale[#p.stale + 1] = h.session
    else
      local skey = req.prefix .. 'session:' .. h.session
      if not supplied[skey] then
        if not asked[h.session] then
          asked[h.session] = true
          need[#need + 1] = h.session
        end
      else
        local st = session_state(skey)
        if st == true or st == h.nonce then
          p.others[#p.others + 1] = h
          p.holder_key = p.holder_key or skey
        else
          p.stale[#p.stale + 1] = h.session
        end
      end
    end
  end
  return p
end

-- Logs claim.contended for the first busy try of a call that waits, and
-- for a try of one that does not (a loop of --wait 0) only when `blocker`
-- (a holder or a ticket) was not logged yet; marks it logged. Every busy
-- first try is counted.
local function contended(p, blocker, mark)
  count(KEYS[2], 'contention', p.name, req.session)
  if blocker.contended and not ticket then return end
  add_event(KEYS[1], 'claim.contended', {names = req.names, session = req.session,
                                         holder = blocker.session, name = p.name, tries = 1},
            now_ms)
  if not blocker.contended then mark() end
end

-- The busy answer for name i, blocked by a holder (p.others[1]) or by a
-- waiter queued ahead (`waiter`); joins the name's queue when it waits.
local function busy_reply(i, p, waiter)
  local last_wake = redis.call('XREVRANGE', KEYS[4 * i + 5], '+', '-', 'COUNT', 1)
  local wake_id = last_wake[1] and last_wake[1][1] or '0-0'
  local qkey = KEYS[4 * i + 6]
  enqueue(qkey, p.name, p.queue)
  if waiter then
    if req.contend then
      contended(p, waiter, function()
        local raw = redis.call('HGET', qkey, waiter.id)
        if not raw then return end
        local t = cjson.decode(raw)
        t.contended = true
        redis.call('HSET', qkey, waiter.id, encode(t))
      end)
    end
    return answer({status = 'busy', name = p.name, mode = waiter.mode, waiter = waiter,
                   holder_pttl_ms = -2, ttl_left_ms = -1, wake_id = wake_id})
  end
  local h = p.others[1]
  if req.contend then
    contended(p, h, function()
      h.contended = true
      write_claim(p.ckey, p.name, p.mode, p.all)
    end)
    h.contended = nil
  end
  local pttl = redis.call('PTTL', p.holder_key)
  local holder_session = redis.call('GET', p.holder_key)
  local left = pttl >= 0 and pttl or -1
  if h.expires_ms > 0 then
    local claim_left = math.max(h.expires_ms - now_ms, 0)
    if left < 0 or claim_left < left then left = claim_left end
  end
  return answer({status = 'busy', name = p.name, mode = p.mode, holder = h, holder_pttl_ms = pttl,
                 ttl_left_ms = left, wake_id = wake_id}, holder_session)
end

-- Writes the grant of one planned name and returns it.
local function grant(p)
  if p.kind == 'again' then
    local holders = p.others
    if ttl_ms > 0 then
      p.mine.ttl_ms = ttl_ms
      p.mine.expires_ms = now_ms + ttl_ms
    end
    if ttl_ms > 0 or #p.stale > 0 then
      holders[#holders + 1] = p.mine
      write_claim(p.ckey, p.name, p.mode, holders)
    end
    return {name = p.name, fence = p.mine.fence, already_held = true, mode = p.mode,
            acquired_ms = p.mine.acquired_ms, expires_ms = p.mine.expires_ms}
  end
  local fence = math.max(p.last + 1, now)
  redis.call('SET', p.fkey, int(fence))
  local h = {session = req.session, nonce = req.nonce, pid = req.pid or 0, host = req.host or '',
             fence = fence, acquired_ms = now_ms, expires_ms = 0, ttl_ms = ttl_ms,
             reason = req.reason or '', meta = req.meta or {}}
  if ttl_ms > 0 then h.expires_ms = now_ms + ttl_ms end
  local holders = {}
  local mode = mode_of(p.name)
  if mode == 'shared' then holders = p.others end
  holders[#holders + 1] = h
  write_claim(p.ckey, p.name, mode, holders)
  local ev = {name = p.name, session = req.session, fence = fence, mode = mode}
  if #p.stale > 0 then ev.took_over = p.stale end
  if req.waited_ms then
    ev.waited_ms = req.waited_ms
    redis.call('HINCRBY', KEYS[2], 'wait|' .. int(req.wait_bucket), 1)
    redis.call('HINCRBY', KEYS[2], 'wait_count', 1)
    redis.call('HINCRBY', KEYS[2], 'wait_sum_ms', req.waited_ms)
  end
  add_event(KEYS[1], 'claim.acquired', ev, now_ms)
  count(KEYS[2], 'acquisition', p.name, req.session)
  return {name = p.name, fence = fence, already_held = false, mode = mode,
          acquired_ms = now_ms, expires_ms = h.expires_ms}
end

-- Decide every name first: nothing is written unless all can be taken.
local plans = {}
for i, name in ipairs(req.names) do
  local p = plan(i, name)
  if #need == 0 then
    p.queue = live_queue(KEYS[4 * i + 6])
    if p.mine and (p.mode == mode_of(name) or p.mode == 'exclusive') then
      p.kind = 'again'
    elseif #p.others > 0 and (mode_of(name) == 'exclusive' or p.mode == 'exclusive') then
      return busy_reply(i, p)
    else
      -- A holder of the name is never queued behind waiters (changing its
      -- mode would wait for itself).
      local ahead = not p.mine and conflicting_ahead(p.queue, mode_of(name))
      if ahead then return busy_reply(i, p, ahead) end
      p.kind = 'new'
    end
  end
  plans[i] = p
end
if #need > 0 then return answer({status = 'need_sessions', sessions = need}) end

if create then
  local ttl = tonumber(req.create_ttl_ms)
  if not ttl or ttl <= 0 then fail('acquire: create_ttl_ms must be > 0') end
  redis.call('SET', KEYS[3], req.create, 'PX', int(ttl))
  local rec = cjson.decode(req.create)
  add_event(KEYS[1], 'session.started', {session = req.session, pid = req.pid or 0,
                                         host = rec.host or ''}, now_ms)
end
local added = false
if req.keep then added = redis.call('SADD', KEYS[5], req.session) == 1 end

local granted = {}
for i, p in ipairs(plans) do
  granted[i] = grant(p)
  if ticket then redis.call('HDEL', KEYS[4 * i + 6], ticket.id) end
  redis.call('SADD', KEYS[4], p.name)
end
local pttl = redis.call('PTTL', KEYS[3])
if pttl > 0 then redis.call('PEXPIRE', KEYS[4], pttl) end
local out = {'acquired', own_raw or false, create and 1 or 0, added and 1 or 0,
             redis.call('GET', KEYS[6]) or ''}
for _, g in ipairs(granted) do
  for _, v in ipairs({g.name, g.fence, g.already_held and 1 or 0, g.mode, g.acquired_ms,
                      g.expires_ms}) do
    out[#out + 1] = v
  end
end
return out
