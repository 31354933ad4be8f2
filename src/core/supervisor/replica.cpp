// The life of one worker replica under the supervisor: start, exit,
// restart with backoff, stop, adoption after a supervisor restart.
#include "core/error.hpp"
#include "core/supervisor/supervisor.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"
#include "os/spawn.hpp"

#include <spdlog/spdlog.h>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace loop {

namespace {

void close_free(void* h) {
    if (h && !uv_is_closing(static_cast<uv_handle_t*>(h)))
        uv_close(static_cast<uv_handle_t*>(h), [](uv_handle_t* x) { std::free(x); });
}

std::string describe_status(int status, bool known) {
    if (!known) return "exited (status unknown: adopted)";
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* name = sigabbrev_np(WTERMSIG(status));
        return std::string("was killed by SIG") + (name ? name : std::to_string(WTERMSIG(status)));
    }
    return "exited";
}

} // namespace

void Supervisor::start(Replica& r) {
    if (r.timer) uv_timer_stop(r.timer);
    if (!ready_to_start(r)) return;
    SessionRecord s;
    s.id = r.id;
    s.kind = "worker";
    s.nonce = new_nonce();
    // Each incarnation is its own session: LOOP_SESSION_ID names this nonce,
    // so a leftover of an earlier one is refused as a dead session.
    r.nonce = s.nonce;
    r.draining = false;
    r.group_signalled = false;
    r.signalled.clear();
    s.host = os::host_name();
    s.worker = r.worker;
    s.replica = r.index;
    s.restarts = r.restarts;
    s.started_ms = os::now_ms();
    s.heartbeat_ms = s.started_ms;

    // A start that fails is a run of no length: it backs off like a crash.
    r.started_mono = os::monotonic_ms();
    int log_err = 0;
    os::Fd output = start_log_writer(r, &log_err);
    os::PendingChild child;
    if (output) {
        os::SpawnSpec spec{r.spec.argv(),       worker_env(r), r.spec.cwd, "",
                           nofile_soft_before_, output.get()};
        child = os::spawn_gated(spec);
        output.reset(); // the worker's now: its log writer ends when the worker's output does
    } else {
        child.err = log_err;
    }
    if (child.pid < 0) {
        spdlog::error("{}: cannot start{}: {}", r.id, output || !log_err ? "" : " its log writer",
                      std::strerror(child.err));
        r.state = Replica::State::Backoff;
        r.pid = 0;
        schedule_restart(r);
        return;
    }
    // The child waits at its gate until its session is recorded, so its
    // very first `loop _ claim` finds a live session.
    try {
        s.anchor = anchor_of(child.pid, core_.sessions.probe());
        // The child leads its own group (setsid): the session lives while
        // anything of that group does.
        s.pgid = child.pid;
        workers_->put(s);
    } catch (const Error& e) {
        spdlog::error("{}: cannot record its session: {}", r.id, e.message());
        os::kill_pid(child.pid, SIGKILL);
        child.gate.reset();
        r.pid = child.pid;
        r.own_child = true;
        r.state = Replica::State::Running;
        return; // SIGCHLD brings it to on_exit and the backoff
    }
    child.go();
    r.pid = child.pid;
    r.own_child = true;
    r.state = Replica::State::Running;
    core_.events.append("session.started", {{"session", r.id},
                                            {"kind", "worker"},
                                            {"worker", r.worker},
                                            {"replica", r.index},
                                            {"restarts", r.restarts},
                                            {"pid", r.pid}});
    spdlog::info("{}: started (pid {})", r.id, r.pid);
}

void Supervisor::kill_tree(Replica& r, int sig) {
    if (r.pid <= 0) return;
    // Each process gets the signal once: the process group (the main
    // process is its leader) with one kill, descendants that left it
    // (setsid) one by one.
    for (int pid : os::descendants_outside_group(r.pid, r.pid)) {
        if (sig != SIGKILL) r.signalled.insert(pid);
        os::kill_pid(pid, sig);
    }
    if (r.own_child || adopted_alive(r)) {
        os::kill_group(r.pid, sig);
        if (sig != SIGKILL) r.group_signalled = true;
    }
}

bool Supervisor::adopted_alive(Replica& r) {
    // Not our child: its pid may have been reused once it exited. The
    // pidfd (or, without one, the start time) says whether it is the same
    // process, so its group is signalled only while it lives.
    if (r.pidfd) return os::pidfd_send_signal(r.pidfd.get(), 0) == 0;
    os::ProcInfo p = os::proc_info(r.pid);
    if (p.state == os::ProcInfo::State::Unknown) return true; // undecidable: held
    return p.state == os::ProcInfo::State::Running && !p.zombie && p.start_ticks == r.start_ticks;
}

void Supervisor::check_adopted() {
    // Adopted workers without a pidfd are looked at on every sweep.
    for (auto& [id, r] : replicas_) {
        if (r->own_child || r->poll || r->pid <= 0 || r->draining) continue;
        if (r->state != Replica::State::Running && r->state != Replica::State::Stopping) continue;
        if (!adopted_alive(*r)) on_exit(*r, 0, false);
    }
}

void Supervisor::start_timer(Replica& r, uv_timer_t*& timer, uv_timer_cb cb, int64_t ms) {
    if (!timer) {
        timer = static_cast<uv_timer_t*>(std::calloc(1, sizeof(uv_timer_t)));
        uv_timer_init(&loop_, timer);
        timer->data = &r;
    }
    uv_timer_start(timer, cb, static_cast<uint64_t>(std::max<int64_t>(ms, 0)), 0);
}

void Supervisor::stop(Replica& r, bool remove) {
    r.remove_when_stopped = r.remove_when_stopped || remove;
    if (remove) r.held = false; // a replica removed and added again starts
    switch (r.state) {
    case Replica::State::Idle:
    case Replica::State::Stopped:
        if (remove) r.state = Replica::State::Idle;
        return;
    case Replica::State::Backoff:
        if (r.timer) uv_timer_stop(r.timer);
        end_session(r);
        r.state = remove ? Replica::State::Idle : Replica::State::Stopped;
        return;
    case Replica::State::Stopping:
        return;
    case Replica::State::Running:
        break;
    }
    r.state = Replica::State::Stopping;
    if (r.draining) return; // already being stopped: stop_timeout brings SIGKILL
    r.killed = false;
    spdlog::info("{}: stopping (pid {}, SIG{})", r.id, r.pid,
                 sigabbrev_np(r.spec.stop_signal) ? sigabbrev_np(r.spec.stop_signal) : "?");
    kill_tree(r, r.spec.stop_signal);
    start_timer(
        r, r.timer,
        [](uv_timer_t* t) {
            Replica& rr = *static_cast<Replica*>(t->data);
            if (rr.state != Replica::State::Stopping) return;
            rr.sup->stop_timed_out(rr);
        },
        r.spec.stop_timeout_ms);
}

void Supervisor::stop_timed_out(Replica& r) {
    if (r.draining) return drain_timed_out(r);
    if (!r.own_child && !r.poll) {
        // Adopted and not watched by a pidfd: nothing else tells us it exited.
        if (!adopted_alive(r)) {
            on_exit(r, 0, false);
            maybe_finish();
            return;
        }
        uv_timer_start(
            r.timer,
            [](uv_timer_t* t) {
                Replica& rr = *static_cast<Replica*>(t->data);
                if (rr.state == Replica::State::Stopping) rr.sup->stop_timed_out(rr);
            },
            100, 0);
    }
    if (r.killed) return;
    r.killed = true;
    spdlog::warn("{}: still running after {}, sending SIGKILL", r.id,
                 format_age(r.spec.stop_timeout_ms));
    kill_tree(r, SIGKILL);
}

void Supervisor::end_session(Replica& r) {
    try {
        workers_->release(r.id, "claim.reaped");
        workers_->drop(r.id);
    } catch (const Error& e) {
        if (options_.shared)
            hold_release(r.id, true, e.message());
        else
            spdlog::error("{}: cannot end its session: {}", r.id, e.message());
    }
}

void Supervisor::on_exit(Replica& r, int status, bool known) {
    if (r.draining) return; // its leftovers' exits bring it back here
    if (r.poll) {
        close_free(r.poll);
        r.poll = nullptr;
        r.pidfd.reset();
    }
    // What is left of the incarnation (its process group, descendants that
    // escaped it) is stopped first: its claims stay held until it is gone.
    if (begin_drain(r, status, known)) return;
    if (r.timer) uv_timer_stop(r.timer);
    const int pid = r.pid;
    std::vector<std::string> released;
    try {
        released = workers_->release(r.id, "claim.reaped");
    } catch (const Error& e) {
        if (options_.shared)
            hold_release(r.id, false, e.message());
        else
            spdlog::error("{}: cannot release its claims: {}", r.id, e.message());
    }
    nlohmann::json ev = {
        {"session", r.id}, {"worker", r.worker}, {"replica", r.index}, {"pid", pid}};
    if (known && WIFEXITED(status)) ev["code"] = WEXITSTATUS(status);
    if (known && WIFSIGNALED(status)) ev["signal"] = WTERMSIG(status);
    core_.events.append("session.exited", ev);
    spdlog::info("{}: {}{}", r.id, describe_status(status, known),
                 released.empty() ? "" : fmt::format(", released {} claim(s)", released.size()));
    for (const auto& n : released)
        spdlog::info("{}: reaped claim {}", r.id, n);

    if (r.state == Replica::State::Stopping) {
        if (r.timer) uv_timer_stop(r.timer);
        if (r.restart_when_stopped && !stopping_) {
            r.restart_when_stopped = false;
            if (const WorkerSpec* w = playbook_.find(r.worker)) r.spec = *w;
            r.failures = 0;
            start(r);
            return;
        }
        end_session(r);
        r.state = r.remove_when_stopped ? Replica::State::Idle : Replica::State::Stopped;
        r.remove_when_stopped = false;
        r.pid = 0;
        return;
    }
    bool failed = !known || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    bool again = r.spec.restart == RestartPolicy::Always ||
                 (r.spec.restart == RestartPolicy::OnFailure && failed);
    if (stopping_ || !again) {
        end_session(r);
        r.state = Replica::State::Stopped;
        r.last_failed = failed;
        r.pid = 0;
        if (!stopping_)
            spdlog::info("{}: not restarting (restart: {})", r.id,
                         restart_policy_name(r.spec.restart));
        return;
    }
    r.state = Replica::State::Backoff;
    r.pid = 0;
    schedule_restart(r);
}

void Supervisor::schedule_restart(Replica& r) {
    const Backoff& b = r.spec.backoff;
    int64_t ran = r.started_mono > 0 ? os::monotonic_ms() - r.started_mono : 0;
    if (ran >= b.reset_after_ms) r.failures = 0;
    // First restart after a good run is immediate; then initial, doubling up to max.
    int64_t delay = 0;
    if (r.failures > 0) {
        delay = b.initial_ms;
        for (int i = 1; i < r.failures && delay < b.max_ms; ++i)
            delay *= 2;
        delay = std::min(delay, b.max_ms);
    }
    r.failures++;
    r.restarts++;
    r.restart_at_mono = os::monotonic_ms() + delay;
    spdlog::info("{}: restarting in {}", r.id, format_age(delay));
    start_timer(
        r, r.timer,
        [](uv_timer_t* t) {
            Replica& rr = *static_cast<Replica*>(t->data);
            if (rr.state == Replica::State::Backoff && !rr.sup->stopping_) rr.sup->start(rr);
        },
        delay);
}

int Supervisor::watch_pidfd(Replica& r) {
    int err = 0;
    r.pidfd = os::pidfd_open(r.pid, &err);
    if (!r.pidfd) {
        if (err != ESRCH)
            spdlog::warn("{}: cannot watch pid {}: {}; the sweep will notice its exit", r.id, r.pid,
                         std::strerror(err));
        return err;
    }
    r.poll = static_cast<uv_poll_t*>(std::calloc(1, sizeof(uv_poll_t)));
    uv_poll_init(&loop_, r.poll, r.pidfd.get());
    r.poll->data = &r;
    uv_poll_start(r.poll, UV_READABLE, [](uv_poll_t* p, int, int) {
        Replica& rr = *static_cast<Replica*>(p->data);
        rr.sup->on_exit(rr, 0, false);
        rr.sup->maybe_finish();
    });
    return 0;
}

void Supervisor::adopt_or_reap_existing() {
    std::vector<std::pair<SessionRecord, Verdict>> all;
    std::vector<std::string> errors;
    try {
        all = workers_->list(&errors);
    } catch (const Error& e) {
        spdlog::error("{}", e.message());
        return;
    }
    for (const auto& e : errors)
        spdlog::warn("{}", e);
    const std::string suffix = workers_->id_suffix();
    for (auto& [record, verdict] : all) {
        std::optional<SessionRecord> s = record;
        const std::string& id = s->id;
        const Verdict& v = verdict;
        // Another host's workers on a shared backend are not ours.
        if (id.size() < suffix.size() ||
            id.compare(id.size() - suffix.size(), suffix.size(), suffix))
            continue;
        if (!s || s->kind != "worker" || !s->worker || !s->replica) continue;
        Replica& r = slot(*s->worker, *s->replica);
        r.nonce = s->nonce;
        r.pid = s->anchor ? s->anchor->pid : 0;
        r.own_child = false;
        // Dead, and nothing of it left (no member of its group, no escaped
        // descendant with its LOOP_SESSION_ID): released, and its
        // replacement is a restart.
        if ((v.life == Life::Dead && leftovers_of(r).empty()) || !s->anchor) {
            auto released = workers_->release(id, "claim.reaped");
            workers_->drop(id);
            core_.events.append(
                "session.exited",
                {{"session", id}, {"worker", *s->worker}, {"replica", *s->replica}});
            spdlog::info("{}: died while no supervisor ran ({}), released {} claim(s)", id, v.why,
                         released.size());
            r.pid = 0;
            r.restarts = std::max(r.restarts, s->restarts + 1);
            continue;
        }
        r.start_ticks = s->anchor->start_ticks;
        r.state = Replica::State::Running;
        r.restarts = std::max(r.restarts, s->restarts);
        r.started_mono = os::monotonic_ms();
        if (!playbook_.find(r.worker)) r.spec.stop_timeout_ms = 10'000;
        core_.events.append(
            "session.adopted",
            {{"session", id}, {"worker", *s->worker}, {"replica", *s->replica}, {"pid", r.pid}});
        spdlog::info("{}: adopted running worker (pid {})", id, r.pid);
        // Its main process exited (since the liveness check, or before, with
        // its group or escaped descendants still running): what is left is
        // stopped, then its claims released and a replacement started.
        if (v.life == Life::Dead || watch_pidfd(r) == ESRCH) on_exit(r, 0, false);
    }
}

} // namespace loop
