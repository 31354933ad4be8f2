#include "core/sessions/liveness.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <cstring>
#include <limits>

namespace loop {

int64_t sat_add(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
    return r;
}

int64_t sat_sub(int64_t a, int64_t b) {
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
    return r;
}

ProcessProbe ProcessProbe::system() {
    ProcessProbe p;
    p.boot_id = os::boot_id();
    p.machine_id = os::machine_id();
    p.pid_ns = os::pid_namespace();
    return p;
}

namespace {

bool differ(const std::string& a, const std::string& b) {
    return !a.empty() && !b.empty() && a != b;
}

std::string short_id(const std::string& id) {
    return printable(id.substr(0, 8));
}

// Why `a` cannot be judged from this host and namespace (nullopt: it can).
// Sets *earlier_boot when it is a process of an earlier boot of this machine.
std::optional<std::string> foreign(const Anchor& a, const ProcessProbe& probe, bool* earlier_boot) {
    const std::string pid = "pid " + std::to_string(a.pid);
    *earlier_boot = false;
    if (differ(a.machine_id, probe.machine_id))
        return pid + " runs on another machine (machine id " + short_id(a.machine_id) + ")";
    if (differ(a.boot_id, probe.boot_id)) {
        if (!a.machine_id.empty() && a.machine_id == probe.machine_id) {
            *earlier_boot = true;
            return pid + " belonged to an earlier boot";
        }
        return pid + " runs under another boot (boot id " + short_id(a.boot_id) +
               ") of a machine that cannot be identified";
    }
    if (differ(a.pid_ns, probe.pid_ns))
        return pid + " is in another pid namespace (" + printable(a.pid_ns) + ")";
    return std::nullopt;
}

} // namespace

Verdict anchor_verdict(const Anchor& a, const ProcessProbe& probe) {
    const std::string pid = "pid " + std::to_string(a.pid);
    bool earlier_boot = false;
    if (auto why = foreign(a, probe, &earlier_boot))
        return {earlier_boot ? Life::Dead : Life::Unknown, *why};
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

namespace {

// The anchor's verdict, kept alive by a surviving member of the session's
// process group (judged only where the anchor itself could be).
Verdict anchor_or_group(const SessionRecord& s, const ProcessProbe& probe) {
    Verdict v = anchor_verdict(*s.anchor, probe);
    if (v.life != Life::Dead || !s.pgid) return v;
    bool earlier_boot = false;
    if (foreign(*s.anchor, probe, &earlier_boot)) return v;
    if (probe.group_exists(*s.pgid))
        return {Life::Alive,
                v.why + "; its process group " + std::to_string(*s.pgid) + " still has members"};
    return v;
}

} // namespace

Verdict session_verdict(const SessionRecord& s, int64_t now_ms, const ProcessProbe& probe) {
    Verdict v{Life::Alive, "alive"};
    if (s.anchor) {
        v = anchor_or_group(s, probe);
        if (v.life == Life::Dead) return v;
    }
    if (s.ttl_ms > 0) {
        int64_t since;
        if (!s.boot_id.empty() && s.boot_id == probe.boot_id && s.heartbeat_boot_ms > 0) {
            since = sat_sub(probe.boot_ms(), s.heartbeat_boot_ms);
        } else {
            since = sat_sub(now_ms, s.heartbeat_ms);
        }
        if (since > s.ttl_ms) {
            return {Life::Dead,
                    "last heartbeat " + format_age(since) + " ago, ttl " + format_age(s.ttl_ms)};
        }
        // An anchor that cannot be judged from here: the TTL decides.
        if (v.life == Life::Unknown)
            return {Life::Alive, v.why + "; alive by its heartbeat " + format_age(since) + " ago"};
    } else if (!s.anchor) {
        return {Life::Dead, "session has neither a process nor a ttl"};
    }
    return v;
}

Anchor anchor_of(int pid, const ProcessProbe& probe) {
    return anchor_of(pid, probe.info(pid), probe);
}

Anchor anchor_of(int pid, const os::ProcInfo& info, const ProcessProbe& probe) {
    if (info.state == os::ProcInfo::State::Gone || info.zombie)
        throw Error(Exit::Usage, "pid " + std::to_string(pid) + " is not running");
    if (info.state == os::ProcInfo::State::Unknown)
        throw io_error("cannot read /proc/" + std::to_string(pid) + "/stat", info.err);
    return Anchor{pid, info.start_ticks, probe.boot_id, probe.machine_id, probe.pid_ns};
}

std::optional<int64_t> claim_ttl_left(const Holder& h, const ProcessProbe& probe) {
    if (h.expires_ms <= 0 && h.expires_boot_ms <= 0) return std::nullopt;
    if (!h.boot_id.empty() && h.boot_id == probe.boot_id && h.expires_boot_ms > 0)
        return sat_sub(h.expires_boot_ms, probe.boot_ms());
    return sat_sub(h.expires_ms, probe.wall_ms());
}

std::optional<int64_t> heartbeat_ttl_left(const SessionRecord& s, const ProcessProbe& probe) {
    if (s.ttl_ms <= 0) return std::nullopt;
    if (!s.boot_id.empty() && s.boot_id == probe.boot_id && s.heartbeat_boot_ms > 0)
        return sat_sub(sat_add(s.heartbeat_boot_ms, s.ttl_ms), probe.boot_ms());
    return sat_sub(sat_add(s.heartbeat_ms, s.ttl_ms), probe.wall_ms());
}

void set_claim_expiry(Holder& h, int64_t ttl_ms, ProcessProbe::Now now,
                      const std::string& boot_id) {
    h.ttl_ms = ttl_ms > 0 ? ttl_ms : 0;
    if (h.ttl_ms == 0) {
        h.expires_ms = 0;
        h.expires_boot_ms = 0;
        h.boot_id.clear();
        return;
    }
    h.expires_ms = sat_add(now.wall, ttl_ms);
    h.expires_boot_ms = sat_add(now.boot, ttl_ms);
    h.boot_id = boot_id;
}

void set_heartbeat(SessionRecord& s, const ProcessProbe& probe) {
    ProcessProbe::Now now = probe.now();
    s.heartbeat_ms = now.wall;
    s.heartbeat_boot_ms = now.boot;
    s.boot_id = probe.boot_id;
}

} // namespace loop
