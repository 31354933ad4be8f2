// Prometheus text exposition of loop's state. Counters are derived from
// durable state (the event log), so they survive restarts of the
// supervisor; gauges are read from the claim and session records.
#pragma once

#include "core/core.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace loop {

// Counts events in events.jsonl, incrementally: update() reads only what
// was appended since the last call.
class EventCounters {
  public:
    static constexpr std::array<double, 11> kWaitBuckets = {0.005, 0.01, 0.05, 0.1, 0.5, 1,
                                                            5,     10,   30,   60,  300};

    void update(const std::string& events_path);
    // One event line (exposed for tests).
    void count(const std::string& line);

    uint64_t acquisitions = 0;
    uint64_t contentions = 0;
    uint64_t reaped_dead = 0;
    uint64_t reaped_ttl = 0;
    uint64_t forced = 0;
    std::map<std::string, uint64_t> restarts; // by worker
    std::array<uint64_t, kWaitBuckets.size()> wait_buckets{};
    uint64_t wait_count = 0;
    double wait_sum = 0;

  private:
    long long offset_ = 0;
    std::string partial_;
};

// The whole exposition: counters plus gauges read now. `supervisor_up`
// overrides what supervisor.lock says (the supervisor itself knows better).
std::string render_metrics(Core& core, EventCounters& counters,
                           std::optional<bool> supervisor_up = std::nullopt);

} // namespace loop
