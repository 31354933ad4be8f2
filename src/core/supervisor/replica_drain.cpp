// What is left of a worker incarnation after its main process died: the
// rest of its process group and the descendants that escaped it (setsid)
// still carrying its LOOP_SESSION_ID. Its claims stay held until all of it
// is gone: it is sent the stop signal (SIGKILL after stop_timeout), each
// process watched by a pidfd, and only then is the session ended and a
// replacement started.
#include "core/supervisor/supervisor.hpp"
#include "core/text.hpp"

#include <spdlog/spdlog.h>

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace loop {

namespace {

void close_free(void* h) {
    if (h && !uv_is_closing(static_cast<uv_handle_t*>(h)))
        uv_close(static_cast<uv_handle_t*>(h), [](uv_handle_t* x) { std::free(x); });
}

} // namespace

std::string Supervisor::session_env(const Replica& r) const {
    return "LOOP_SESSION_ID=" + r.id + "@" + r.nonce;
}

os::Leftovers Supervisor::leftovers_of(const Replica& r) const {
    // A child of ours whose descendants were reparented to us (we are their
    // subreaper): escaped ones are among our own descendants. An adopted
    // worker's may be anywhere.
    int under = r.own_child && subreaper_ ? os::self_pid() : 0;
    std::vector<int> live;
    if (under)
        for (const auto& [id, other] : replicas_)
            if (other.get() != &r && other->own_child && other->pid > 0) live.push_back(other->pid);
    return os::leftovers(r.pid, r.nonce.empty() ? "" : session_env(r), under, live);
}

bool Supervisor::begin_drain(Replica& r, int wait_status, bool known) {
    os::Leftovers left = leftovers_of(r);
    if (left.empty()) return false;
    r.draining = true;
    r.exit_status = wait_status;
    r.exit_known = known;
    const size_t n = left.group.size() + left.escaped.size();
    if (r.state == Replica::State::Stopping) {
        // Being stopped already: the stop signal went out; what escaped
        // since gets it now, and stop_timeout still brings SIGKILL.
        spdlog::info("{}: main process exited, waiting for {} process(es) left of it", r.id, n);
    } else {
        spdlog::info("{}: main process exited, stopping {} process(es) left of it (SIG{}, "
                     "SIGKILL after {})",
                     r.id, n, signal_name(r.spec.stop_signal), format_age(r.spec.stop_timeout_ms));
        start_timer(
            r, r.timer,
            [](uv_timer_t* t) {
                Replica& rr = *static_cast<Replica*>(t->data);
                if (rr.draining) rr.sup->drain_timed_out(rr);
            },
            r.spec.stop_timeout_ms);
    }
    signal_leftovers(r, left, r.spec.stop_signal);
    drain_check(r);
    return true;
}

void Supervisor::signal_leftovers(Replica& r, const os::Leftovers& left, int sig) {
    // Each process gets a stop signal once: the group with one kill, the
    // escaped one by one.
    if (!left.group.empty() && (sig == SIGKILL || !r.group_signalled)) {
        os::kill_group(r.pid, sig);
        if (sig != SIGKILL) r.group_signalled = true;
    }
    for (int pid : left.escaped) {
        if (sig != SIGKILL && !r.signalled.insert(pid).second) continue;
        os::kill_pid(pid, sig);
    }
}

void Supervisor::drain_timed_out(Replica& r) {
    os::Leftovers left = leftovers_of(r);
    if (left.empty()) return drain_check(r);
    spdlog::warn("{}: {} process(es) left after {}, sending SIGKILL", r.id,
                 left.group.size() + left.escaped.size(), format_age(r.spec.stop_timeout_ms));
    r.killed = true;
    signal_leftovers(r, left, SIGKILL);
}

void Supervisor::drain_check(Replica& r) {
    if (!r.draining) return;
    os::Leftovers left = leftovers_of(r);
    if (left.empty()) {
        end_drain_watches(r);
        r.draining = false;
        on_exit(r, r.exit_status, r.exit_known);
        maybe_finish();
        return;
    }
    // What a leftover forks before it exits is found on the next check,
    // which its exit brings.
    std::vector<int> pids = left.group;
    pids.insert(pids.end(), left.escaped.begin(), left.escaped.end());
    bool unwatched = false;
    for (int pid : pids) {
        bool have = std::any_of(r.drain_watches.begin(), r.drain_watches.end(),
                                [pid](const auto& w) { return w->pid == pid; });
        if (have) continue;
        int err = 0;
        os::Fd fd = os::pidfd_open(pid, &err);
        if (!fd) {
            // Gone since the scan (ESRCH) or out of descriptors: look again soon.
            unwatched = true;
            continue;
        }
        auto w = std::make_unique<Replica::Watch>();
        w->pid = pid;
        w->replica = &r;
        w->pidfd = std::move(fd);
        w->poll = static_cast<uv_poll_t*>(std::calloc(1, sizeof(uv_poll_t)));
        uv_poll_init(&loop_, w->poll, w->pidfd.get());
        w->poll->data = w.get();
        uv_poll_start(w->poll, UV_READABLE, [](uv_poll_t* p, int, int) {
            auto* watch = static_cast<Replica::Watch*>(p->data);
            Replica& rr = *watch->replica;
            auto& ws = rr.drain_watches;
            auto it = std::find_if(ws.begin(), ws.end(),
                                   [watch](const auto& x) { return x.get() == watch; });
            if (it != ws.end()) {
                close_free((*it)->poll);
                ws.erase(it);
            }
            rr.sup->drain_check(rr);
        });
        r.drain_watches.push_back(std::move(w));
    }
    if (unwatched) {
        start_timer(
            r, r.drain_timer,
            [](uv_timer_t* t) {
                Replica& rr = *static_cast<Replica*>(t->data);
                rr.sup->drain_check(rr);
            },
            100);
    }
}

void Supervisor::end_drain_watches(Replica& r) {
    for (auto& w : r.drain_watches)
        close_free(w->poll);
    r.drain_watches.clear();
    if (r.drain_timer) uv_timer_stop(r.drain_timer);
}

} // namespace loop
