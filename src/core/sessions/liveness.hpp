// Deciding whether a session is alive. Three answers, because a locking
// tool must fail closed: when liveness cannot be decided (an unreadable
// /proc entry, a process of another host or pid namespace, a corrupt
// record), the holder is treated as alive and the reason is reported.
#pragma once

#include "core/records.hpp"
#include "os/proc.hpp"

#include <functional>
#include <optional>
#include <string>

namespace loop {

enum class Life { Alive, Dead, Unknown };

struct Verdict {
    Life life = Life::Unknown;
    std::string why; // "pid 4121 exited", "heartbeat 40s ago, ttl 30s", ...
    bool alive_or_unknown() const { return life != Life::Dead; }
};

// Where process facts and clocks come from; tests substitute their own.
struct ProcessProbe {
    std::function<os::ProcInfo(int)> info = os::proc_info;
    std::function<bool(int)> group_exists = os::group_exists;
    std::function<int64_t()> wall_ms = os::now_ms;      // display, other hosts
    std::function<int64_t()> boot_ms = os::boottime_ms; // leases on this boot
    std::string boot_id;                                // this boot's id
    std::string machine_id;                             // this machine's id ("" when unknown)
    std::string pid_ns; // the pid namespace pids are read in ("" when unknown)
    static ProcessProbe system();

    // Both clocks at one moment: CLOCK_BOOTTIME is read first, so a lease
    // set from this reading never ends later on it than on the wall clock.
    struct Now {
        int64_t wall = 0, boot = 0;
    };
    Now now() const {
        int64_t b = boot_ms();
        return {wall_ms(), b};
    }
};

// Is the process that `anchor` names still the same, running process?
// A process of another machine, boot or pid namespace is undecidable here,
// except one of an earlier boot of this same machine, which is dead.
Verdict anchor_verdict(const Anchor& anchor, const ProcessProbe& probe);

// A session is alive while its anchor lives (if it has one) or, when it owns
// a process group, while a member of that group lives; with a TTL, only
// while its last heartbeat is within the TTL. An anchor that cannot be
// judged from here leaves the TTL to decide; without one it is undecidable.
Verdict session_verdict(const SessionRecord& s, int64_t now_ms, const ProcessProbe& probe);

// The anchor of a live process now (for recording a new session).
// Throws Error(Usage) when the pid does not exist.
Anchor anchor_of(int pid, const ProcessProbe& probe);
// The same from what was just read of it (probe.info(pid)).
Anchor anchor_of(int pid, const os::ProcInfo& info, const ProcessProbe& probe);

// Milliseconds until a lease runs out (<= 0: it has), nullopt without a
// TTL. Measured on CLOCK_BOOTTIME when the lease was set on this boot, so a
// wall-clock step never moves it; on the wall clock otherwise.
std::optional<int64_t> claim_ttl_left(const Holder& h, const ProcessProbe& probe);
std::optional<int64_t> heartbeat_ttl_left(const SessionRecord& s, const ProcessProbe& probe);

// Sets a claim's expiry `ttl_ms` after `now` (0: no TTL) on both clocks.
void set_claim_expiry(Holder& h, int64_t ttl_ms, ProcessProbe::Now now, const std::string& boot_id);
// Records a heartbeat now on both clocks.
void set_heartbeat(SessionRecord& s, const ProcessProbe& probe);

// a + b and a - b, saturating at the int64 limits (records may hold anything).
int64_t sat_add(int64_t a, int64_t b);
int64_t sat_sub(int64_t a, int64_t b);

} // namespace loop
