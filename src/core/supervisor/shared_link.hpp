// A supervisor's calls to a shared backend (Redis), through the outage
// policy of core/outage.hpp, so that a server that does not answer costs
// the event loop one timed-out call per backoff, not one per call:
//   - the workers' sessions (WorkerSessions, which this decorates): while
//     backed off a call fails at once with Error(Failure), never done in
//     part; the supervisor holds what it could not do (a dead worker's
//     release is retried, a start waits) and never takes it as done;
//   - events forwarded to the backend's stream: queued while it does not
//     answer, sent in order when it does;
//   - the metrics re-render: skipped while backed off.
// The first failure of an outage is logged once with the backend's words
// (HOST:PORT and the reason, never a password), its end once.
#pragma once

#include "core/sessions/worker_sessions.hpp"
#include "core/supervisor/outage.hpp"

#include <functional>
#include <optional>
#include <string>

namespace loop {

class SharedLink : public WorkerSessions {
  public:
    struct Hooks {
        WorkerSessions* workers = nullptr;
        // Writes one event to the backend's stream; throws Error on failure.
        std::function<void(const std::string&, const nlohmann::json&)> record_event;
        // Renders the metrics from the backend; throws Error on failure.
        std::function<std::string(bool)> render;
        // Drops the connection, so that the next call connects anew.
        std::function<void()> reconnect;
        // Milliseconds of a monotonic clock (default: os::monotonic_ms).
        std::function<int64_t()> clock;
    };
    explicit SharedLink(Hooks hooks);

    // WorkerSessions, each a call through the policy.
    void put(const SessionRecord& s) override;
    std::vector<std::string> release(const std::string& id, const std::string& event) override;
    void drop(const std::string& id) override;
    std::vector<std::pair<SessionRecord, Verdict>> list(std::vector<std::string>* errors) override;
    bool reaps_here() const override { return hooks_.workers->reaps_here(); }
    std::string id_suffix() const override { return hooks_.workers->id_suffix(); }

    // Forwards an event (the wall time it happened is kept in ts_ms): sent
    // now while the backend answers and nothing waits before it, else queued.
    void forward(const std::string& event, const nlohmann::json& fields);
    // Sends queued events while the backend answers. False when some are left.
    bool flush_events();
    size_t queued_events() const { return queue_.size(); }
    uint64_t dropped_events() const { return queue_.dropped(); }
    // The metrics, or nullopt while backed off or when rendering failed.
    std::optional<std::string> render(bool supervisor_up);

    bool down() const { return outage_.down(); }
    // Whether a call would be tried now (up, or the backoff has passed).
    bool may_try() const { return outage_.may_try(now()); }
    // While down: milliseconds until the next try (0: due).
    int64_t retry_in_ms() const;

  private:
    int64_t now() const;
    // Runs one call of the backend through the policy.
    template <class F> auto call(F&& f) -> decltype(f());
    void on_failure(const std::string& why);
    void on_success();

    Hooks hooks_;
    Outage outage_;
    EventQueue queue_;
    std::string last_failure_;
};

} // namespace loop
