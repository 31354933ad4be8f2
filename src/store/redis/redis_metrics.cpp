// The counters of `loop metrics` on Redis: the hash P stats that the
// scripts keep (the key layout in redis_client.hpp). Unlike the capped
// event stream it is never trimmed, so the counters only grow.
#include "store/redis/redis_backend.hpp"

#include <cstdlib>

namespace loop::redis {

namespace {

// "COUNTER|TYPE|WORKER" split in three (false for any other field).
bool split_field(const std::string& f, std::string& counter, EventCounters::Labels& labels) {
    auto a = f.find('|');
    if (a == std::string::npos) return false;
    auto b = f.find('|', a + 1);
    if (b == std::string::npos) return false;
    counter = f.substr(0, a);
    labels = {f.substr(a + 1, b - a - 1), f.substr(b + 1)};
    return true;
}

EventCounters::Series* series_of(EventCounters& c, const std::string& counter) {
    if (counter == "acquisition") return &c.acquisitions;
    if (counter == "release") return &c.releases;
    if (counter == "contention") return &c.contentions;
    if (counter == "timeout") return &c.timeouts;
    if (counter == "reaped_dead") return &c.reaped_dead;
    if (counter == "reaped_ttl") return &c.reaped_ttl;
    if (counter == "forced") return &c.forced;
    return nullptr;
}

void take(EventCounters& c, const std::string& field, uint64_t n) {
    std::string counter;
    EventCounters::Labels labels;
    if (field.rfind("restarts|", 0) == 0) {
        c.restarts[field.substr(9)] = n;
    } else if (field.rfind("wait|", 0) == 0) {
        // Bucket I counts waits in (le[I-1], le[I]]: the exposition's are cumulative.
        const size_t i = std::strtoul(field.c_str() + 5, nullptr, 10);
        for (size_t j = i; j < c.wait_buckets.size(); ++j)
            c.wait_buckets[j] += n;
    } else if (field == "wait_count") {
        c.wait_count = n;
    } else if (field == "wait_sum_ms") {
        c.wait_sum = static_cast<double>(n) / 1000.0;
    } else if (split_field(field, counter, labels)) {
        if (auto* s = series_of(c, counter)) (*s)[labels] = n;
    }
}

} // namespace

void RedisBackend::read_counters(EventCounters& c) {
    Value all = client().command({"HGETALL", keys_.stats()});
    c = EventCounters();
    for (size_t i = 0; i + 1 < all.elements.size(); i += 2) {
        const Value& v = all.elements[i + 1];
        const uint64_t n = std::strtoull(v.str.c_str(), nullptr, 10);
        take(c, all.elements[i].str, n);
    }
}

} // namespace loop::redis
