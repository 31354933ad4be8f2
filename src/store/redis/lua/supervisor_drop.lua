-- supervisor_drop: a supervisor stopped cleanly; its record goes at once and
-- the index keeps when it stopped.
--
-- KEYS[1]  P supervisor:ID
-- KEYS[2]  P supervisors        sorted set: ID -> its last heartbeat (ms)
-- KEYS[3]  P supervisors_last   hash: ID -> its summary (JSON)
-- ARGV[1]  ID
-- ARGV[2]  the summary (JSON object); stopped_ms is set here
--
-- Returns a JSON string {"stopped_ms": N} (the server's clock).

local now = math.floor(now_us() / 1000)
local ok, summary = pcall(cjson.decode, ARGV[2])
if not ok or type(summary) ~= 'table' then fail('supervisor_drop: the summary is not JSON') end
summary.stopped_ms = now
redis.call('DEL', KEYS[1])
redis.call('ZADD', KEYS[2], int(now), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], encode(summary))
return encode({stopped_ms = now})
