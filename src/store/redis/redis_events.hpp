// The fleet's event log on the Redis backend: the capped stream P events
// that the scripts append to (one entry per state change, fields `event` and
// `data`), read back as lines of the file backend's events.jsonl shape
// ({"ts": RFC 3339, "event": NAME, ...the event's fields}).
#pragma once

#include "store/redis/redis_client.hpp"
#include "store/redis/redis_scripts.hpp"

#include <string>
#include <vector>

namespace loop::redis {

struct EventBatch {
    std::vector<std::string> lines;
    std::string last_id; // pass it back to read on from here
};

// Entries after `after_id` ("0-0": from the oldest kept), at most 1000.
// With `block_ms` > 0 and nothing newer, waits up to that long for one.
EventBatch read_events(RedisClient& c, const Keys& k, const std::string& after_id,
                       int64_t block_ms);

} // namespace loop::redis
