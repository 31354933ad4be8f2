#include "core/supervisor/supervisor.hpp"

#include "core/error.hpp"
#include "core/supervisor/control.hpp"
#include "core/text.hpp"
#include "os/fs.hpp"
#include "os/proc.hpp"
#include "os/spawn.hpp"
#include "os/unix_socket.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <signal.h>

#include <algorithm>
#include <cstring>
#include <exception>

namespace loop {

namespace {

template <class T> Supervisor* owner(T* h) {
    return static_cast<Supervisor*>(h->data);
}

} // namespace

Supervisor::Supervisor(Core& core, Playbook playbook, SupervisorOptions options)
    : core_(core), playbook_(std::move(playbook)), options_(std::move(options)) {
    workers_ = options_.workers;
    if (!workers_) {
        own_workers_ = std::make_unique<FileWorkerSessions>(core_);
        workers_ = own_workers_.get();
    }
    uv_loop_init(&loop_);
    std::string exe = os::self_exe();
    exe_dir_ = exe.substr(0, exe.rfind('/'));
}

Supervisor::~Supervisor() {
    auto close_free = [](void* h) {
        if (h && !uv_is_closing(static_cast<uv_handle_t*>(h)))
            uv_close(static_cast<uv_handle_t*>(h), [](uv_handle_t* x) { std::free(x); });
    };
    for (auto& [id, r] : replicas_) {
        close_free(r->timer);
        close_free(r->poll);
        close_free(r->drain_timer);
        for (auto& w : r->drain_watches)
            close_free(w->poll);
        r->drain_watches.clear();
        r->timer = nullptr;
        r->poll = nullptr;
        r->drain_timer = nullptr;
    }
    for (auto& [sid, w] : holders_)
        close_free(w->poll);
    holders_.clear();
    metrics_server_.reset();
    control_.reset();
    uv_walk(
        &loop_,
        [](uv_handle_t* h, void*) {
            if (!uv_is_closing(h)) uv_close(h, nullptr);
        },
        nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_loop_close(&loop_);
}

Supervisor::Replica& Supervisor::slot(const std::string& worker, int index) {
    // Worker names never contain '.', so this id cannot be taken by an
    // implicit session ("p<pid>-<start>") or another worker.
    std::string id = worker + "." + std::to_string(index) + workers_->id_suffix();
    auto& p = replicas_[id];
    if (!p) {
        p = std::make_unique<Replica>();
        p->id = id;
        p->worker = worker;
        p->index = index;
        p->sup = this;
        if (const WorkerSpec* w = playbook_.find(worker)) p->spec = *w;
    }
    return *p;
}

int Supervisor::run() {
    started_ms_ = os::now_ms();
    // A peer that goes away mid-answer makes a write fail, not this process.
    os::ignore_sigpipe();
    reserve_descriptors();
    subreaper_ = os::become_subreaper();
    if (!subreaper_)
        spdlog::warn("cannot become a child subreaper: detached grandchildren may escape a stop");

    auto init_signal = [this](uv_signal_t* s, int signo, uv_signal_cb cb) {
        uv_signal_init(&loop_, s);
        s->data = this;
        uv_signal_start(s, cb, signo);
    };
    init_signal(&sig_chld_, SIGCHLD, [](uv_signal_t* s, int) { owner(s)->on_sigchld(); });
    init_signal(&sig_hup_, SIGHUP, [](uv_signal_t* s, int) { owner(s)->reload("SIGHUP"); });
    init_signal(&sig_term_, SIGTERM,
                [](uv_signal_t* s, int) { owner(s)->shutdown(owner(s)->stopping_); });
    init_signal(&sig_int_, SIGINT,
                [](uv_signal_t* s, int) { owner(s)->shutdown(owner(s)->stopping_); });

    uv_timer_init(&loop_, &sweep_timer_);
    sweep_timer_.data = this;
    uint64_t every = static_cast<uint64_t>(std::max<int64_t>(playbook_.reap_interval_ms, 100));
    uv_timer_start(
        &sweep_timer_, [](uv_timer_t* t) { owner(t)->sweep(); }, every, every);
    uv_timer_init(&loop_, &expiry_timer_);
    expiry_timer_.data = this;
    uv_timer_init(&loop_, &scan_timer_);
    scan_timer_.data = this;
    uv_timer_init(&loop_, &rollout_timer_);
    rollout_timer_.data = this;
    uv_check_init(&loop_, &progress_);
    progress_.data = this;
    uv_check_start(&progress_, [](uv_check_t* c) {
        owner(c)->advance_rollouts();
        owner(c)->check_pending();
        owner(c)->publish_record(false);
    });
    open_control();

    uv_fs_event_init(&loop_, &claims_watch_);
    claims_watch_.data = this;
    std::string claims_dir = core_.home.sub_path("claims");
    core_.home.claims();
    int rc = uv_fs_event_start(
        &claims_watch_,
        [](uv_fs_event_t* h, const char* name, int, int) {
            // Temp files of atomic writes are not changes of a claim.
            if (name && std::strncmp(name, ".tmp.", 5) == 0) return;
            owner(h)->request_scan();
        },
        claims_dir.c_str(), 0);
    if (rc != 0)
        spdlog::warn("cannot watch {}: {}; outside holders are checked every sweep", claims_dir,
                     uv_strerror(rc));

    watch_event_log();
    watch_shared();
    if (!options_.metrics_listen.empty()) {
        metrics_server_ = std::make_unique<MetricsServer>(
            &loop_, options_.metrics_listen, [this] { return metrics_text(); },
            metrics_connections_);
        spdlog::info("serving metrics on http://{}/metrics (port {})", options_.metrics_listen,
                     metrics_server_->port());
    }
    core_.events.append("supervisor.started",
                        {{"pid", os::self_pid()}, {"playbook", playbook_.path}});
    spdlog::info("supervising {} ({} workers) in {}", playbook_.path, playbook_.workers.size(),
                 core_.home.path());
    load_restart_counts();
    adopt_or_reap_existing();
    // One pass for claims left by sessions that died while no supervisor ran.
    sweep();
    reconcile();
    start_record();
    uv_run(&loop_, UV_RUN_DEFAULT);
    return 0;
}

void Supervisor::request_scan() {
    // A burst of claim changes costs one scan per loop turn, not one each.
    if (uv_is_active(reinterpret_cast<uv_handle_t*>(&scan_timer_))) return;
    uv_timer_start(
        &scan_timer_, [](uv_timer_t* t) { owner(t)->scan_holders(); }, 0, 0);
}

void Supervisor::reconcile() {
    if (stopping_) return;
    // Start what the playbook wants and is not running.
    for (const auto& w : playbook_.workers) {
        for (int i = 1; i <= w.replicas; ++i) {
            Replica& r = slot(w.name, i);
            if (r.state == Replica::State::Idle) {
                r.spec = w;
                start(r);
            }
        }
    }
    // Stop what it no longer wants.
    for (auto& [id, r] : replicas_) {
        const WorkerSpec* w = playbook_.find(r->worker);
        bool wanted = w && r->index <= w->replicas;
        if (!wanted && r->state != Replica::State::Idle) stop(*r, true);
    }
}

void Supervisor::shutdown(bool force) {
    if (force) {
        // The same signal can arrive twice at once (sent to the process and
        // to its group): only a second request a moment later means "now".
        if (os::monotonic_ms() - stop_requested_mono_ < 1000) return;
        spdlog::warn("second stop signal: killing every worker now");
        for (auto& [id, r] : replicas_)
            if (r->state == Replica::State::Stopping) kill_tree(*r, SIGKILL);
        return;
    }
    spdlog::info("stopping every worker");
    stopping_ = true;
    fail_pending("the supervisor of " + core_.home.path() + " is stopping");
    stop_requested_mono_ = os::monotonic_ms();
    for (auto& [id, r] : replicas_)
        stop(*r, true);
    maybe_finish();
}

void Supervisor::maybe_finish() {
    if (!stopping_ || finished_) return;
    for (auto& [id, r] : replicas_)
        if (r->state != Replica::State::Stopped && r->state != Replica::State::Idle) return;
    // Orphans that were reparented to us (we are their subreaper) go too;
    // log writers end by themselves once they have read the rest.
    for (int pid : os::descendants_of(os::self_pid()))
        if (!log_writers_.count(pid)) os::kill_pid(pid, SIGKILL);
    int status;
    while (os::reap_any(&status) > 0) {
    }
    for (auto& [sid, w] : holders_) {
        if (w->poll)
            uv_close(reinterpret_cast<uv_handle_t*>(w->poll), [](uv_handle_t* h) { std::free(h); });
        w->poll = nullptr;
    }
    finished_ = true;
    // New requests find no socket; the connections still open end with the loop.
    if (control_) os::unlink_socket_at(core_.home.root(), kControlSocket);
    drop_record();
    finish_shared();
    core_.events.append("supervisor.stopped", {{"pid", os::self_pid()}});
    publish_metrics();
    if (options_.shared && options_.shared->queued_events() > 0)
        spdlog::warn("{} event(s) not sent to the shared backend (it did not answer), {} dropped",
                     options_.shared->queued_events(), options_.shared->dropped_events());
    if (metrics_server_) metrics_server_->close();
    spdlog::info("stopped");
    uv_stop(&loop_);
}

void Supervisor::on_sigchld() {
    int status = 0;
    for (;;) {
        int pid = os::reap_any(&status);
        if (pid <= 0) break;
        if (log_writers_.erase(pid)) continue;
        for (auto& [id, r] : replicas_) {
            if (r->own_child && r->pid == pid && !r->draining) {
                on_exit(*r, status, true);
                break;
            }
        }
    }
    publish_metrics();
    maybe_finish();
}

void Supervisor::sweep() {
    check_adopted();
    // On a shared backend the host keeper watches holders and ends the dead.
    if (!workers_->reaps_here()) return;
    try {
        ReapReport rep = core_.reaper.run(false);
        for (const auto& c : rep.claims)
            spdlog::info("reaped claim {} of session {}: {}", c.name, c.holder.session, c.why);
        for (const auto& w : rep.warnings)
            spdlog::warn("{}", w);
    } catch (const Error& e) {
        spdlog::error("reap: {}", e.message());
    }
    scan_holders();
}

void Supervisor::reserve_descriptors() {
    // One pidfd per watched holder and one descriptor per metrics client:
    // both are bounded so that workers can always be started and claims
    // released. Workers get the soft limit back.
    os::NofileLimit lim = os::raise_nofile_limit();
    nofile_soft_before_ = lim.soft_before;
    constexpr unsigned long kReserved = 64; // logs, records, pipes, inotify, the loop
    unsigned long soft = lim.soft > 0 ? lim.soft : 1024;
    unsigned long spare = soft > kReserved ? soft - kReserved : 0;
    metrics_connections_ = std::min<size_t>(kMaxMetricsConnections, spare / 4);
    if (options_.metrics_listen.empty()) metrics_connections_ = 0;
    max_watched_holders_ = spare - metrics_connections_;
    if (lim.soft_before > 0 && lim.soft > lim.soft_before)
        spdlog::debug("raised the open-files limit from {} to {}", lim.soft_before, lim.soft);
}

void Supervisor::load_restart_counts() {
    // Restart counters outlive the supervisor: the last session.started of
    // each replica says how many restarts it had.
    for (const auto& [key, n] : last_restart_counts(core_.events.path())) {
        const WorkerSpec* w = playbook_.find(key.first);
        if (!w || key.second < 1 || key.second > w->replicas) continue;
        Replica& r = slot(key.first, key.second);
        r.restarts = std::max(r.restarts, n);
    }
}

std::map<std::string, std::string> Supervisor::worker_env(const Replica& r) const {
    std::map<std::string, std::string> env = r.spec.env;
    env["LOOP_SESSION_ID"] = r.id + "@" + r.nonce;
    env["LOOP_HOME"] = core_.home.path();
    env["LOOP_WORKER"] = r.worker;
    env["LOOP_REPLICA"] = std::to_string(r.index);
    // The supervisor's own directory first, so `loop` in a worker is this loop.
    std::string path;
    if (auto it = r.spec.env.find("PATH"); it != r.spec.env.end()) {
        path = it->second;
    } else if (const char* p = std::getenv("PATH")) {
        path = p;
    } else {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    env["PATH"] = exe_dir_.empty() ? path : exe_dir_ + ":" + path;
    return env;
}

} // namespace loop
