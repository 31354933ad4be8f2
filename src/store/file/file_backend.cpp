#include "store/file/file_backend.hpp"

#include "core/error.hpp"
#include "os/proc.hpp"

#include <algorithm>

namespace loop {

SessionRecord FileBackend::resolve_live(const std::string& ref, int implicit_pid) {
    return core_.sessions.resolve_live(ref, implicit_pid);
}

SessionRecord FileBackend::own_session(int pid, const std::string& kind, int pgid) {
    return core_.sessions.process_session(pid, kind, pgid);
}

std::vector<std::string> FileBackend::watch_paths() {
    return core_.store.watch_paths();
}

SessionRecord FileBackend::start_session(const StartOptions& opts, int caller_pid) {
    return core_.sessions.start(opts, caller_pid);
}

void FileBackend::heartbeat(const std::string& ref) {
    core_.sessions.heartbeat(ref);
}

std::vector<std::string> FileBackend::end_session(const std::string& ref, bool* was_running) {
    SessionRef parsed = parse_session_ref(ref);
    auto ended = core_.sessions.end(ref);
    if (was_running) *was_running = ended.has_value();
    return core_.claims.release_session(parsed.id);
}

std::vector<SessionView> FileBackend::sessions(std::vector<std::string>* errors) {
    std::vector<SessionView> out;
    for (auto& [s, v] : workers_.list(errors))
        out.push_back({std::move(s), std::move(v)});
    return out;
}

Verdict FileBackend::verdict(const SessionRecord& s) {
    return core_.sessions.verdict(s);
}

AcquireOutcome FileBackend::acquire(const SessionRecord& me, const AcquireRequest& req,
                                    int64_t wait_ms,
                                    const std::function<void(const AcquireOutcome&)>& on_wait) {
    return core_.claims.acquire(me, req, wait_ms, on_wait);
}

std::vector<std::string> FileBackend::release(const std::string& ref, int implicit_pid,
                                              const std::vector<std::string>& names, bool force) {
    SessionRef parsed;
    if (!ref.empty()) {
        parsed = parse_session_ref(ref);
    } else {
        // The calling process's implicit session, without creating one.
        int pid = core_.sessions.implicit_anchor(implicit_pid);
        parsed.id = Sessions::process_session_id(pid, os::proc_info(pid).start_ticks);
    }
    std::optional<std::string> nonce = parsed.nonce;
    if (auto s = core_.sessions.find(parsed.id)) {
        if (parsed.nonce && *parsed.nonce != s->nonce)
            throw Error(Exit::Usage, "session " + ref +
                                         " is dead: a later incarnation replaced it; its "
                                         "claims are not yours to release");
        nonce = s->nonce;
    }
    return core_.claims.release(parsed.id, nonce, names, force);
}

std::vector<std::string> FileBackend::release_own(const SessionRecord& me,
                                                  const std::vector<std::string>& names) {
    return core_.claims.release(me.id, me.nonce, names, false);
}

std::vector<Granted> FileBackend::renew(const SessionRecord& me,
                                        const std::vector<std::string>& names, int64_t ttl_ms) {
    return core_.claims.renew(me, names, ttl_ms);
}

std::vector<HolderView> FileBackend::holders(const std::string& name) {
    return core_.claims.holders(name);
}

std::vector<HolderView> FileBackend::all(std::vector<std::string>* errors) {
    return core_.claims.all(errors);
}

} // namespace loop
