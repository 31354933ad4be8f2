// Session policy: creating, resolving, heartbeating and ending sessions.
#pragma once

#include "core/events.hpp"
#include "core/sessions/liveness.hpp"
#include "core/store.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace loop {

// A session as a user names it: `ID`, or `ID@INCARNATION` (the value of
// LOOP_SESSION_ID in a supervised worker), which names one incarnation of
// the id: a later incarnation is another session.
struct SessionRef {
    std::string id;
    std::optional<std::string> nonce;
};
// Throws Error(Usage) for a malformed reference.
SessionRef parse_session_ref(std::string_view text);
// "ID@NONCE".
std::string pinned_ref(const SessionRecord& s);

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
    // while that process lives, created on first use; with `pgid`, one that
    // also lives while a member of that process group lives (set_group).
    SessionRecord process_session(int pid, const std::string& kind = "process",
                                  std::optional<int> pgid = std::nullopt);
    // The same for the anchor just read (anchor_of).
    SessionRecord process_session(const Anchor& a, const std::string& kind = "process",
                                  std::optional<int> pgid = std::nullopt);

    // The session a claim made now belongs to: `ref` when given (it must be
    // known, the same incarnation, and alive: otherwise Error(Usage)), else
    // the implicit session of `implicit_pid`.
    SessionRecord resolve_live(const std::string& ref, int implicit_pid);

    // Is `me` still the live incarnation it was? Reads its record again:
    // a session that ended, was replaced or died while its caller waited
    // gets Error(Usage), and nothing may be granted to it.
    void check_still_alive(const SessionRecord& me);

    // The process an implicit session of `pid`'s caller is anchored to:
    // `pid`, or, when `pid` is a forked copy of its parent (bash's subshell
    // for `$(loop _ claim x 2>&1)`), the first ancestor that is not.
    int implicit_anchor(int pid) const;

    // The record of `id`, or nullopt (no creation). Throws when unreadable.
    std::optional<SessionRecord> find(const std::string& id) { return registry_.read(id); }

    Verdict verdict(const SessionRecord& s) const;

    // Refreshes the heartbeat. Error(Busy) when the session is dead or gone
    // (or `ref` names an earlier incarnation).
    void heartbeat(const std::string& ref);

    // Removes the session record; its claims are dead from this moment.
    // Returns the removed record, nullopt when there was none. A `ref` that
    // names an earlier incarnation ends nothing (Error(Usage)).
    std::optional<SessionRecord> end(const std::string& ref);

    // Records that `me` owns process group `pgid` (the command of a `with`):
    // from now on the session lives while a member of that group lives.
    // Error(Usage) when `me` ended or was replaced.
    void set_group(const SessionRecord& me, int pgid);

    // Writes a supervisor-made record (worker sessions), replacing any.
    void put(const SessionRecord& s);

    const ProcessProbe& probe() const { return probe_; }
    SessionRegistry& registry() { return registry_; }

    static std::string process_session_id(int pid, uint64_t start_ticks);

  private:
    // process_session's record, as found or created (with `pgid` when new).
    SessionRecord process_record(const Anchor& a, const std::string& kind, std::optional<int> pgid);

    SessionRegistry& registry_;
    EventLog& events_;
    ProcessProbe probe_;
};

std::string new_nonce();

// Sessions::implicit_anchor with another probe (any engine's implicit session).
int implicit_anchor_of(int pid, const ProcessProbe& probe);
// The same as an Anchor (anchor_of), /proc read once for it.
Anchor implicit_anchor_now(int pid, const ProcessProbe& probe);

} // namespace loop
