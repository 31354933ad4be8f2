// The append-only event log (events.jsonl): one JSON object per line,
// each written with a single O_APPEND write so lines never interleave.
#pragma once

#include "core/home.hpp"

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

namespace loop {

// What is wrong with one line of the event log, or nullopt when it is a
// well-formed event: a JSON object with string `ts` and `event`, and the
// fields loop counts (`restarts`, `waited_ms`, `replica`, `pid`, `fence`,
// `code`, `signal`) numbers when present. Readers skip a bad event.
std::optional<std::string> event_problem(const nlohmann::json& j);
std::optional<std::string> event_line_problem(const std::string& line);

// For each (worker, replica), the `restarts` of its last session.started
// in the event log at `path` (missing or unreadable: empty).
std::map<std::pair<std::string, int>, int> last_restart_counts(const std::string& path);

class EventLog {
  public:
    explicit EventLog(Home& home) : home_(home) {}

    // Appends {"ts":..., "event": name, ...fields}. An event that cannot be
    // written is reported on stderr once; it never fails the operation that
    // already happened. A forward set gets each appended event too.
    void append(const std::string& event, nlohmann::json fields);

    // Where events also go (a shared backend's event stream, for a
    // supervisor on it); it must not throw.
    using Forward = std::function<void(const std::string& event, const nlohmann::json& fields)>;
    void set_forward(Forward f) { forward_ = std::move(f); }

    // Appends whole lines (each "\n"-terminated) with one write.
    void append_lines(const std::string& lines);

    // The line append() writes.
    static std::string line_of(const std::string& event, nlohmann::json fields);

    std::string path() const { return home_.path() + "/events.jsonl"; }

  private:
    Home& home_;
    std::atomic<bool> warned_{false};
    Forward forward_;
};

// The events of one pass over many names, appended together: one write per
// kFlushBytes of whole lines instead of one per event. Each line is still a
// complete event, never split between two writes. Written by flush(), when
// the batch is full, and when it goes away.
class EventBatch {
  public:
    explicit EventBatch(EventLog& log) : log_(log) {}
    EventBatch(const EventBatch&) = delete;
    EventBatch& operator=(const EventBatch&) = delete;
    ~EventBatch() { flush(); }

    static constexpr size_t kFlushBytes = 64 * 1024;

    void add(const std::string& event, nlohmann::json fields);
    void flush();

  private:
    EventLog& log_;
    std::string lines_;
};

} // namespace loop
