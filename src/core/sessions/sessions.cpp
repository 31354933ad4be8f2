#include "core/sessions/sessions.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"

#include <cstdio>

namespace loop {

std::string new_nonce() {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(os::random_u64()));
    return buf;
}

SessionRef parse_session_ref(std::string_view text) {
    SessionRef ref;
    size_t at = text.rfind('@');
    std::string_view id = text;
    if (at != std::string_view::npos) {
        std::string_view nonce = text.substr(at + 1);
        bool hex = nonce.size() == 16 &&
                   nonce.find_first_not_of("0123456789abcdef") == std::string_view::npos;
        if (hex) {
            id = text.substr(0, at);
            ref.nonce = std::string(nonce);
        }
    }
    check_session_id(id);
    ref.id = std::string(id);
    return ref;
}

std::string pinned_ref(const SessionRecord& s) {
    return s.id + "@" + s.nonce;
}

namespace {

[[noreturn]] void replaced(const SessionRef& ref) {
    throw Error(Exit::Usage, "session " + ref.id + "@" + *ref.nonce +
                                 " is dead: a later incarnation of " + ref.id +
                                 " replaced it (a process left over from an earlier run)");
}

} // namespace

std::string Sessions::process_session_id(int pid, uint64_t start_ticks) {
    return "p" + std::to_string(pid) + "-" + std::to_string(start_ticks);
}

Verdict Sessions::verdict(const SessionRecord& s) const {
    return session_verdict(s, probe_.wall_ms(), probe_);
}

namespace {

// The anchor's pid, and what was read of it (nullopt: not read yet).
std::pair<int, std::optional<os::ProcInfo>> find_implicit_anchor(int pid,
                                                                 const ProcessProbe& probe) {
    // A forked copy shares its parent's program and command line and is not
    // the leader of a process group of its own (a job is).
    for (int depth = 0; depth < 16; ++depth) {
        os::ProcInfo info = probe.info(pid);
        if (info.state != os::ProcInfo::State::Running || info.pgid == pid || info.ppid <= 1 ||
            !os::same_program(pid, info.ppid))
            return {pid, info};
        pid = info.ppid;
    }
    return {pid, std::nullopt};
}

} // namespace

int implicit_anchor_of(int pid, const ProcessProbe& probe) {
    return find_implicit_anchor(pid, probe).first;
}

Anchor implicit_anchor_now(int pid, const ProcessProbe& probe) {
    auto [anchor, info] = find_implicit_anchor(pid, probe);
    return info ? anchor_of(anchor, *info, probe) : anchor_of(anchor, probe);
}

int Sessions::implicit_anchor(int pid) const {
    return implicit_anchor_of(pid, probe_);
}

SessionRecord Sessions::start(const StartOptions& opts, int caller_pid) {
    SessionRecord s;
    s.kind = "explicit";
    s.nonce = new_nonce();
    s.host = os::host_name();
    s.label = opts.label;
    s.ttl_ms = opts.ttl_ms;
    s.started_ms = probe_.wall_ms();
    set_heartbeat(s, probe_);
    if (opts.pid) {
        s.anchor = anchor_of(*opts.pid, probe_);
    } else if (opts.ttl_ms <= 0) {
        s.anchor = anchor_of(caller_pid, probe_);
    }
    for (int attempt = 0; attempt < 8; ++attempt) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(os::random_u64()));
        s.id = opts.id_prefix + "-" + buf;
        if (registry_.create(s)) {
            nlohmann::json ev = {{"session", s.id}, {"kind", s.kind}};
            if (s.anchor) ev["pid"] = s.anchor->pid;
            if (s.ttl_ms > 0) ev["ttl_ms"] = s.ttl_ms;
            if (!s.label.empty()) ev["label"] = s.label;
            events_.append("session.started", std::move(ev));
            return s;
        }
    }
    throw Error(Exit::Failure, "cannot allocate a session id (8 collisions)");
}

SessionRecord Sessions::process_session(int pid, const std::string& kind, std::optional<int> pgid) {
    return process_session(anchor_of(pid, probe_), kind, pgid);
}

SessionRecord Sessions::process_session(const Anchor& a, const std::string& kind,
                                        std::optional<int> pgid) {
    SessionRecord s = process_record(a, kind, pgid);
    if (pgid && s.pgid != pgid) { // recorded before, without it
        set_group(s, *pgid);
        s.pgid = pgid;
    }
    return s;
}

SessionRecord Sessions::process_record(const Anchor& a, const std::string& kind,
                                       std::optional<int> pgid) {
    const int pid = a.pid;
    std::string id = process_session_id(pid, a.start_ticks);
    auto same_process = [&](const SessionRecord& r) {
        return r.anchor && r.anchor->pid == a.pid && r.anchor->start_ticks == a.start_ticks &&
               r.anchor->boot_id == a.boot_id;
    };
    for (int attempt = 0; attempt < 4; ++attempt) {
        // An unreadable record throws: fail closed rather than replace it.
        std::optional<SessionRecord> existing = registry_.read(id);
        if (existing && same_process(*existing)) return *existing;
        SessionRecord s;
        s.id = id;
        s.kind = kind;
        s.nonce = new_nonce();
        s.anchor = a;
        s.pgid = pgid;
        s.host = os::host_name();
        s.started_ms = probe_.wall_ms();
        set_heartbeat(s, probe_);
        if (!existing) {
            if (registry_.create(s)) {
                events_.append("session.started",
                               {{"session", s.id}, {"kind", kind}, {"pid", pid}});
                return s;
            }
            continue; // a concurrent call created it: read it again
        }
        // Same id from an earlier boot: replace it (its claims die with the
        // old nonce) -- unless a concurrent first use already did.
        auto guard = registry_.lock();
        if (auto again = registry_.read(id); again && same_process(*again)) return *again;
        registry_.write(s);
        events_.append("session.started", {{"session", s.id}, {"kind", kind}, {"pid", pid}});
        return s;
    }
    throw Error(Exit::Failure, "cannot record session " + id);
}

SessionRecord Sessions::resolve_live(const std::string& text, int implicit_pid) {
    if (text.empty()) return process_session(implicit_anchor_now(implicit_pid, probe_));
    SessionRef ref = parse_session_ref(text);
    const std::string& id = ref.id;
    std::optional<SessionRecord> s = registry_.read(id);
    if (!s)
        throw Error(Exit::Usage,
                    "session " + id + " is unknown: start one with 'loop _ session start'");
    if (ref.nonce && *ref.nonce != s->nonce) replaced(ref);
    Verdict v = verdict(*s);
    if (v.life == Life::Dead)
        throw Error(Exit::Usage, "session " + id + " is dead (" + v.why + "): start a new one");
    if (v.life == Life::Unknown)
        throw Error(Exit::Failure,
                    "session " + id + ": cannot tell whether it is alive (" + v.why + ")");
    return *s;
}

void Sessions::check_still_alive(const SessionRecord& me) {
    std::optional<SessionRecord> now = registry_.read(me.id);
    if (!now)
        throw Error(Exit::Usage, "session " + me.id + " ended while waiting; nothing was taken");
    if (now->nonce != me.nonce)
        throw Error(Exit::Usage,
                    "session " + me.id + " was replaced while waiting; nothing was taken");
    // The calling process's own session (with's) lives: this process runs.
    if (now->ttl_ms <= 0 && now->anchor && me.anchor && now->anchor->pid == os::self_pid() &&
        now->anchor->start_ticks == me.anchor->start_ticks &&
        now->anchor->boot_id == probe_.boot_id)
        return;
    Verdict v = verdict(*now);
    if (v.life == Life::Dead)
        throw Error(Exit::Usage,
                    "session " + me.id + " died while waiting (" + v.why + "); nothing was taken");
}

void Sessions::heartbeat(const std::string& text) {
    SessionRef ref = parse_session_ref(text);
    const std::string& id = ref.id;
    auto guard = registry_.lock();
    std::optional<SessionRecord> s = registry_.read(id);
    if (!s) throw Error(Exit::Busy, "session " + id + " is unknown or has ended");
    if (ref.nonce && *ref.nonce != s->nonce)
        throw Error(Exit::Busy, "session " + text + " is dead: a later incarnation replaced it");
    Verdict v = verdict(*s);
    if (v.life == Life::Dead)
        throw Error(Exit::Busy, "session " + id + " is dead (" + v.why +
                                    "); its claims may be taken: start a new session");
    set_heartbeat(*s, probe_);
    registry_.write(*s);
}

std::optional<SessionRecord> Sessions::end(const std::string& text) {
    SessionRef ref = parse_session_ref(text);
    const std::string& id = ref.id;
    auto guard = registry_.lock();
    std::optional<SessionRecord> s;
    try {
        s = registry_.read(id);
    } catch (const Error&) {
        // Unreadable record: ending it is still what the user asked for.
    }
    if (ref.nonce && s && *ref.nonce != s->nonce) replaced(ref);
    registry_.erase(id);
    if (s) events_.append("session.ended", {{"session", id}});
    return s;
}

void Sessions::set_group(const SessionRecord& me, int pgid) {
    auto guard = registry_.lock();
    std::optional<SessionRecord> s = registry_.read(me.id);
    if (!s || s->nonce != me.nonce)
        throw Error(Exit::Usage, "session " + me.id + " ended or was replaced");
    s->pgid = pgid;
    registry_.write(*s);
}

void Sessions::put(const SessionRecord& s) {
    auto guard = registry_.lock();
    registry_.write(s);
}

} // namespace loop
