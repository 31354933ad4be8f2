// What a supervisor does while a shared backend (Redis) does not answer:
// after a failed call, the work that can wait (the metrics re-render, the
// forwarding of events) is tried again only after a backoff, from
// kFirstRetryMs doubling to kMaxRetryMs and reset by the first call that
// succeeds; events to forward wait in a bounded queue, the oldest dropped
// first. The policy knows nothing of the engine or of the clock's source:
// times are given in milliseconds of a monotonic clock.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

namespace loop {

class Outage {
  public:
    static constexpr int64_t kFirstRetryMs = 1000;
    static constexpr int64_t kMaxRetryMs = 30'000;

    explicit Outage(int64_t first_ms = kFirstRetryMs, int64_t max_ms = kMaxRetryMs)
        : first_ms_(first_ms), max_ms_(max_ms) {}

    // A call failed at `now`. True when this failure starts an outage (the
    // one to log); the next try is a backoff later, doubled per failure.
    bool failed(int64_t now);
    // A call succeeded. True when this ends an outage (the one to log).
    bool succeeded();

    bool down() const { return down_; }
    // Whether a call may be made at `now`: always while up; once the
    // backoff has passed while down.
    bool may_try(int64_t now) const { return !down_ || now >= next_try_; }
    // While down: when the next try is due, and how long the outage lasts.
    int64_t next_try() const { return next_try_; }
    int64_t since() const { return since_; }
    int64_t delay() const { return delay_; }

  private:
    int64_t first_ms_, max_ms_;
    bool down_ = false;
    int64_t since_ = 0, next_try_ = 0, delay_ = 0;
};

// Events waiting for the backend to answer, at most `capacity`: a push on
// a full queue drops the oldest, counted until take_dropped().
class EventQueue {
  public:
    struct Event {
        std::string name;
        nlohmann::json fields;
    };
    static constexpr size_t kCapacity = 1000;

    explicit EventQueue(size_t capacity = kCapacity) : capacity_(capacity) {}

    void push(Event e);
    bool empty() const { return events_.empty(); }
    size_t size() const { return events_.size(); }
    const Event& front() const { return events_.front(); }
    void pop() { events_.pop_front(); }
    // How many were dropped since the last call; resets the count.
    uint64_t take_dropped();
    uint64_t dropped() const { return dropped_; }

  private:
    size_t capacity_;
    std::deque<Event> events_;
    uint64_t dropped_ = 0;
};

} // namespace loop
