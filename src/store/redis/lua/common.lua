-- Helpers of the Redis backend's scripts, prepended to each of them at build
-- time (CMakeLists.txt). Definitions only: nothing runs until a script calls
-- them. Key names are built by the caller and passed in KEYS; a script only
-- compares names it derives (P session:ID) against KEYS, so every key it
-- touches is declared.

-- The server's clock in microseconds (exact in a Lua number until 2255).
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

-- An integer as decimal digits (tostring and cjson keep only 14 digits).
local function int(n)
  return string.format('%d', n)
end

-- JSON of nested tables of strings, booleans and numbers, integers exact,
-- the slow way: a Lua step per value. A table with elements 1..n is an
-- array; any other, even empty, an object (keys sorted).
local function encode_exact(v)
  local t = type(v)
  if t == 'number' then
    if v == math.floor(v) and v > -9007199254740992 and v < 9007199254740992 then
      return int(v)
    end
    return cjson.encode(v)
  elseif t == 'table' then
    if #v > 0 then
      local parts = {}
      for i = 1, #v do parts[i] = encode_exact(v[i]) end
      return '[' .. table.concat(parts, ',') .. ']'
    end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do
      parts[#parts + 1] = cjson.encode(k) .. ':' .. encode_exact(v[k])
    end
    return '{' .. table.concat(parts, ',') .. '}'
  end
  return cjson.encode(v)
end

-- cjson keeps 14 significant digits, and fences (the server's time in
-- microseconds) have 16. Before cjson.encode, every integer it would round
-- is swapped in place for the string "\1DIGITS" and recorded in `undo`
-- (flat: table, key, value), for the caller to put back.
local function swap_big_integers(v, undo)
  for k, x in pairs(v) do
    local t = type(x)
    if t == 'table' then
      swap_big_integers(x, undo)
    elseif t == 'number' and (x >= 1e14 or x <= -1e14) and x == math.floor(x) and
        x > -9007199254740992 and x < 9007199254740992 then
      local n = #undo
      undo[n + 1], undo[n + 2], undo[n + 3] = v, k, x
      v[k] = '\1' .. int(x)
    end
  end
end

-- `text` (cjson's) with each of the `count` swapped integers
-- (swap_big_integers), written "\u0001DIGITS" in quotes, as its digits; nil
-- when another number of such strings is found.
local function unswap_big_integers(text, count)
  local parts, from, found = {}, 1, 0
  while true do
    local at = string.find(text, '"\\u0001', from, true)
    if not at then break end
    local close = string.find(text, '"', at + 7, true)
    local digits = close and string.sub(text, at + 7, close - 1)
    if not digits or not string.find(digits, '^%-?%d+$') then return nil end
    parts[#parts + 1] = string.sub(text, from, at - 1)
    parts[#parts + 1] = digits
    from = close + 1
    found = found + 1
  end
  if found ~= count then return nil end
  parts[#parts + 1] = string.sub(text, from)
  return table.concat(parts)
end

-- JSON of nested tables of strings, booleans and numbers, integers exact
-- (the text of encode_exact but for the order of object keys) in one
-- cjson.encode, half of encode_exact's instructions for a claim record.
-- When more strings look swapped than were (a string of the caller's own
-- that starts with "\1"), encode_exact does the work. A table whose keys
-- are 1..n is an array, any other, even empty, an object.
local function encode(v)
  if type(v) ~= 'table' then return encode_exact(v) end
  local undo = {}
  swap_big_integers(v, undo)
  local ok, out = pcall(cjson.encode, v)
  for i = #undo - 2, 1, -3 do undo[i][undo[i + 1]] = undo[i + 2] end
  if not ok then error(out) end
  if #undo == 0 then return out end
  return unswap_big_integers(out, #undo / 3) or encode_exact(v)
end

local function fail(message)
  error({err = 'ERR ' .. message})
end

-- The nonce in the session record at `key`: false when there is no such
-- key, true when the record cannot be read (its liveness cannot be decided
-- here: held). Then the record's text and, when it was read, its table.
local function session_state(key)
  local raw = redis.call('GET', key)
  if not raw then return false end
  local ok, rec = pcall(cjson.decode, raw)
  if not ok or type(rec) ~= 'table' or type(rec.nonce) ~= 'string' then return true, raw end
  return rec.nonce, raw, rec
end

-- The claim record at `key`, or nil. A record that cannot be read stops the
-- script before it writes anything.
local function read_claim(key)
  local raw = redis.call('GET', key)
  if not raw then return nil end
  local ok, rec = pcall(cjson.decode, raw)
  if not ok or type(rec) ~= 'table' or type(rec.holders) ~= 'table' or
      (rec.mode ~= 'exclusive' and rec.mode ~= 'shared') then
    fail('corrupt claim record at ' .. key .. ' (inspect it with GET; DEL drops the claim)')
  end
  for _, h in ipairs(rec.holders) do
    if type(h) ~= 'table' or type(h.session) ~= 'string' or type(h.nonce) ~= 'string' or
        type(h.fence) ~= 'number' or type(h.expires_ms) ~= 'number' then
      fail('corrupt holder in the claim record at ' .. key ..
           ' (inspect it with GET; DEL drops the claim)')
    end
  end
  return rec
end

local function write_claim(key, name, mode, holders)
  if #holders == 0 then
    redis.call('DEL', key)
  else
    redis.call('SET', key, encode({name = name, mode = mode, holders = holders}))
  end
end

local function expired(h, now_ms)
  return h.expires_ms > 0 and now_ms >= h.expires_ms
end

-- Appends {"event": name, "data": {ts_ms, ...fields}} to the capped event stream.
local function add_event(key, name, fields, now_ms)
  fields.ts_ms = now_ms
  redis.call('XADD', key, 'MAXLEN', '~', '10000', '*', 'event', name, 'data', encode(fields))
end

-- The oldest ticket of queue `qkey` (lua/acquire.lua) refreshed within the
-- last 15 s, or nil. A waiter refreshes its ticket at least every 5 s
-- (redis_acquire.cpp: kMaxBlockMs), so an older one is likely gone.
local function queue_head(qkey, now_ms)
  local raw = redis.call('HGETALL', qkey)
  local head = nil
  for j = 1, #raw, 2 do
    local ok, t = pcall(cjson.decode, raw[j + 1])
    if ok and type(t) == 'table' and type(t.seq) == 'number' and
        now_ms - (tonumber(t.seen_ms) or 0) <= 15000 and (not head or t.seq < head.seq) then
      t.id = raw[j]
      head = t
    end
  end
  return head
end

-- Wakes whoever waits on a name: one entry on its wake stream (see the key
-- layout in redis_client.hpp). With the name's queue `qkey`, the entry names
-- the waiter that goes first (its ticket id, mode, pid, start_ticks and
-- host): the others wait for it instead of all trying at once.
local function wake(key, why, fence, qkey, now_ms)
  local entry = {'XADD', key, 'MAXLEN', '~', '100', '*', 'why', why, 'fence', int(fence)}
  local head = qkey and queue_head(qkey, now_ms)
  if head then
    for _, f in ipairs({'next', head.id, 'next_mode', tostring(head.mode),
                        'next_pid', int(tonumber(head.pid) or 0),
                        'next_start_ticks', int(tonumber(head.start_ticks) or 0),
                        'next_host', tostring(head.host or '')}) do
      entry[#entry + 1] = f
    end
  end
  redis.call(unpack(entry))
  redis.call('PEXPIRE', key, 60000)
end

-- Counters for `loop metrics`, in the hash P stats: a field per counter and
-- label pair, "COUNTER|TYPE|WORKER" (redis_metrics.cpp reads them). The
-- label values are bounded as on the file backend: at most 50 types and 50
-- workers are named, later ones count as "other".
local function bounded_label(stats, kind, value)
  if redis.call('HEXISTS', stats, kind .. ':' .. value) == 1 then return value end
  if tonumber(redis.call('HGET', stats, kind .. 's') or '0') >= 50 then return 'other' end
  redis.call('HSET', stats, kind .. ':' .. value, '1')
  redis.call('HINCRBY', stats, kind .. 's', 1)
  return value
end

-- `type`: the part of a claim name before its first ':' ("none" without).
local function type_label(stats, name)
  local colon = string.find(name, ':', 1, true)
  if not colon or colon == 1 then return 'none' end
  return bounded_label(stats, 'type', string.sub(name, 1, colon - 1))
end

-- `worker`: the worker of a supervised worker's session (WORKER.N.HOST),
-- "none" for any other session.
local function worker_label(stats, session)
  local w = string.match(session or '', '^([%w_-]+)%.%d+%.%x+$')
  if not w then return 'none' end
  return bounded_label(stats, 'worker', w)
end

local function count(stats, counter, name, session, n)
  local field = counter .. '|' .. type_label(stats, name) .. '|' .. worker_label(stats, session)
  redis.call('HINCRBY', stats, field, n or 1)
end
