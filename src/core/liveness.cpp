#include "core/liveness.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <cstring>

namespace loop {

ProcessProbe ProcessProbe::system() {
    ProcessProbe p;
    p.boot_id = os::boot_id();
    return p;
}

Verdict anchor_verdict(const Anchor& a, const ProcessProbe& probe) {
    const std::string pid = "pid " + std::to_string(a.pid);
    if (!a.boot_id.empty() && !probe.boot_id.empty() && a.boot_id != probe.boot_id)
        return {Life::Dead, pid + " belonged to an earlier boot"};
    os::ProcInfo info = probe.info(a.pid);
    switch (info.state) {
    case os::ProcInfo::State::Gone:
        return {Life::Dead, pid + " exited"};
    case os::ProcInfo::State::Unknown:
        return {Life::Unknown,
                "cannot read /proc/" + std::to_string(a.pid) + "/stat: " + std::strerror(info.err)};
    case os::ProcInfo::State::Running:
        break;
    }
    if (info.start_ticks != a.start_ticks) return {Life::Dead, pid + " exited (pid reused)"};
    if (info.zombie) return {Life::Dead, pid + " exited"};
    return {Life::Alive, pid + " running"};
}

Verdict session_verdict(const SessionRecord& s, int64_t now_ms, const ProcessProbe& probe) {
    Verdict v{Life::Alive, "alive"};
    if (s.anchor) {
        v = anchor_verdict(*s.anchor, probe);
        if (v.life == Life::Dead) return v;
    }
    if (s.ttl_ms > 0) {
        int64_t since = now_ms - s.heartbeat_ms;
        if (since > s.ttl_ms) {
            return {Life::Dead,
                    "last heartbeat " + format_age(since) + " ago, ttl " + format_age(s.ttl_ms)};
        }
    } else if (!s.anchor) {
        return {Life::Dead, "session has neither a process nor a ttl"};
    }
    return v;
}

Anchor anchor_of(int pid, const ProcessProbe& probe) {
    os::ProcInfo info = probe.info(pid);
    if (info.state == os::ProcInfo::State::Gone || info.zombie)
        throw Error(Exit::Usage, "pid " + std::to_string(pid) + " is not running");
    if (info.state == os::ProcInfo::State::Unknown)
        throw io_error("cannot read /proc/" + std::to_string(pid) + "/stat", info.err);
    return Anchor{pid, info.start_ticks, probe.boot_id};
}

} // namespace loop
