-- supervisor_put: a supervisor's heartbeat, its record written whole.
--
-- KEYS[1]  P supervisor:ID      hash: the record, PEXPIRE ARGV[2]
-- KEYS[2]  P supervisors        sorted set: ID -> its last heartbeat (ms)
-- KEYS[3]  P supervisors_last   hash: ID -> its summary (JSON), for status
--                               once the record is gone
-- ARGV[1]  ID
-- ARGV[2]  the record's TTL in ms (> 0)
-- ARGV[3]  how long the index keeps a supervisor after its last heartbeat
-- ARGV[4]  the summary (JSON)
-- ARGV[5..] field, value, ... of the record (heartbeat_ms is set here)
--
-- Returns a JSON string {"heartbeat_ms": N} (the server's clock).

local ttl = tonumber(ARGV[2])
local keep = tonumber(ARGV[3])
if not ttl or ttl <= 0 or not keep or (#ARGV - 4) % 2 ~= 0 then
  fail('supervisor_put: a TTL > 0, a retention and field/value pairs are needed')
end
local now = math.floor(now_us() / 1000)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'heartbeat_ms', int(now), unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], int(ttl))
redis.call('ZADD', KEYS[2], int(now), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])
-- Supervisors not heard of for the retention leave the index.
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. int(now - keep), 'LIMIT', 0, 100)
for _, id in ipairs(old) do
  redis.call('ZREM', KEYS[2], id)
  redis.call('HDEL', KEYS[3], id)
end
return encode({heartbeat_ms = now})
