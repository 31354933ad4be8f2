// Session policy: creating, resolving, heartbeating and ending sessions.
#pragma once

#include "core/events.hpp"
#include "core/liveness.hpp"
#include "core/store.hpp"

#include <optional>
#include <string>

namespace loop {

struct StartOptions {
    std::optional<int> pid; // anchor; default: the calling process
    int64_t ttl_ms = 0;     // heartbeat TTL; with no --pid, the session has no anchor
    std::string label;
    std::string id_prefix = "s";
};

class Sessions {
  public:
    Sessions(SessionRegistry& registry, EventLog& events, ProcessProbe probe)
        : registry_(registry), events_(events), probe_(std::move(probe)) {}

    // A new explicit session (loop _ session start).
    SessionRecord start(const StartOptions& opts, int caller_pid);

    // The implicit session of process `pid` (pid plus start time): reused
    // while that process lives, created on first use.
    SessionRecord process_session(int pid, const std::string& kind = "process");

    // The session a claim made now belongs to: `id` when given (it must be
    // known and alive: otherwise Error(Usage)), else the implicit session
    // of `implicit_pid`.
    SessionRecord resolve_live(const std::string& id, int implicit_pid);

    // The record of `id`, or nullopt (no creation). Throws when unreadable.
    std::optional<SessionRecord> find(const std::string& id) { return registry_.read(id); }

    Verdict verdict(const SessionRecord& s) const;

    // Refreshes the heartbeat. Error(Busy) when the session is dead or gone.
    void heartbeat(const std::string& id);

    // Removes the session record; its claims are dead from this moment.
    // Returns the removed record, nullopt when there was none.
    std::optional<SessionRecord> end(const std::string& id);

    // Writes a supervisor-made record (worker sessions), replacing any.
    void put(const SessionRecord& s);

    const ProcessProbe& probe() const { return probe_; }
    SessionRegistry& registry() { return registry_; }

    static std::string process_session_id(int pid, uint64_t start_ticks);

  private:
    SessionRegistry& registry_;
    EventLog& events_;
    ProcessProbe probe_;
};

std::string new_nonce();

} // namespace loop
