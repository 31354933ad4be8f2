// Deciding whether a session is alive. Three answers, because a locking
// tool must fail closed: when liveness cannot be decided (an unreadable
// /proc entry, a corrupt record), the holder is treated as alive and the
// reason is reported.
#pragma once

#include "core/records.hpp"
#include "os/proc.hpp"

#include <functional>
#include <string>

namespace loop {

enum class Life { Alive, Dead, Unknown };

struct Verdict {
    Life life = Life::Unknown;
    std::string why; // "pid 4121 exited", "heartbeat 40s ago, ttl 30s", ...
    bool alive_or_unknown() const { return life != Life::Dead; }
};

// Where process facts come from; tests substitute their own.
struct ProcessProbe {
    std::function<os::ProcInfo(int)> info = os::proc_info;
    std::string boot_id; // this boot's id
    static ProcessProbe system();
};

// Is the process that `anchor` names still the same, running process?
Verdict anchor_verdict(const Anchor& anchor, const ProcessProbe& probe);

// A session is alive while its anchor lives (if it has one) and, with a TTL,
// while its last heartbeat is within the TTL.
Verdict session_verdict(const SessionRecord& s, int64_t now_ms, const ProcessProbe& probe);

// The anchor of a live process now (for recording a new session).
// Throws Error(Usage) when the pid does not exist.
Anchor anchor_of(int pid, const ProcessProbe& probe);

} // namespace loop
