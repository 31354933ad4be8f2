// Prometheus text exposition of loop's state. Counters are derived from
// durable state (the event log), so they survive restarts of the
// supervisor; gauges are read from the claim and session records.
#pragma once

#include "core/core.hpp"

#include <array>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>

namespace loop {

// Counts events in events.jsonl, incrementally: update() reads only what
// was appended since the last call.
class EventCounters {
  public:
    static constexpr std::array<double, 11> kWaitBuckets = {0.005, 0.01, 0.05, 0.1, 0.5, 1,
                                                            5,     10,   30,   60,  300};

    // At most this many distinct `type` label values; later ones are "other".
    static constexpr size_t kMaxTypes = 50;
    static constexpr size_t kMaxWorkers = 50;

    // The labels of a claim series: {type, worker}.
    using Labels = std::pair<std::string, std::string>;
    using Series = std::map<Labels, uint64_t>;

    void update(const std::string& events_path);
    // One event line (exposed for tests).
    void count(const std::string& line);

    // The `type` label of a claim name: the part before the first ':',
    // "none" without one, "other" once kMaxTypes values are taken.
    std::string type_of(const std::string& name);
    // The `worker` label of a session id: <worker> for a supervised
    // worker's session (<worker>.<n>), "none" for any other, "other" once
    // kMaxWorkers values are taken.
    std::string worker_of(const std::string& session);

    Series acquisitions;
    Series releases;
    Series contentions;
    Series timeouts;
    Series reaped_dead;
    Series reaped_ttl;
    Series forced;
    // Contention tries counted where no event logged them yet (the file
    // backend's contention notes, core/claims/contention.hpp): set by whoever reads
    // the counters, added to `contentions` when rendered.
    Series unlogged_contentions;
    std::map<std::string, uint64_t> restarts; // by worker
    // By claim name: the greatest epoch of a contention note whose tries
    // a claim.contended event logged (its `flushes`, core/claims/contention.hpp).
    std::map<std::string, uint64_t> flushed;
    std::array<uint64_t, kWaitBuckets.size()> wait_buckets{};
    uint64_t wait_count = 0;
    double wait_sum = 0;

  private:
    Labels labels_of(const nlohmann::json& event, const char* name_field);

    std::set<std::string> types_;
    std::set<std::string> workers_;
    long long offset_ = 0;
    std::string partial_;
};

// The gauges, read now.
struct MetricGauges {
    EventCounters::Series exclusive, shared; // claims held by live sessions
    uint64_t sessions_alive = 0;
    bool supervisor_up = false;
};
// Adds a holder (one that is not dead) to the active claims.
void count_active(EventCounters& c, MetricGauges& g, const HolderView& v);
// The Prometheus text of counters and gauges (the same on every backend).
std::string render_exposition(const EventCounters& c, const MetricGauges& g);

// The file backend's counters: its event log, read from where the last
// call stopped, and the contention notes no event logged yet.
void read_file_counters(Core& core, EventCounters& c);
// Whether a supervisor runs for the home (its supervisor.lock).
bool supervisor_running(Core& core);

// The whole exposition of the file backend: counters plus gauges read now.
// `supervisor_up` overrides what supervisor.lock says (the supervisor itself
// knows better).
std::string render_metrics(Core& core, EventCounters& counters,
                           std::optional<bool> supervisor_up = std::nullopt);

} // namespace loop
