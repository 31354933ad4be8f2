// The supervisor: a foreground, event-driven control loop (libuv) that keeps
// the workers of a playbook running, releases the claims of every session
// that dies the moment it dies, and reaps stale claims from anywhere on a
// safety sweep. Nothing polls: child exits (SIGCHLD), exits of adopted
// workers and of outside claim holders (pidfd), claim changes (inotify),
// signals and timers wake it.
#pragma once

#include "core/core.hpp"
#include "core/metrics.hpp"
#include "core/metrics_http.hpp"
#include "core/playbook.hpp"
#include "core/supervisor_lock.hpp"
#include "os/fd.hpp"

#include <uv.h>

#include <map>
#include <memory>
#include <set>
#include <string>

namespace loop {

struct SupervisorOptions {
    std::string metrics_file;       // rewritten atomically when the metrics change
    std::string metrics_listen;     // HOST:PORT for GET /metrics
    SupervisorLock* lock = nullptr; // notes a refused reload for `loop status`
};

class Supervisor {
  public:
    Supervisor(Core& core, Playbook playbook, SupervisorOptions options = {});
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Runs until SIGTERM/SIGINT has stopped every worker. Returns 0.
    int run();

  private:
    struct Replica {
        std::string id; // session id: <worker>.<index>
        std::string worker;
        int index = 0;
        WorkerSpec spec; // the definition it was started with
        enum class State { Idle, Running, Backoff, Stopping, Stopped } state = State::Idle;
        int pid = 0;
        bool own_child = false; // else adopted: watched by pidfd
        bool remove_when_stopped = false;
        bool restart_when_stopped = false;
        bool draining = false;    // stopping: main process gone, group still running
        bool killed = false;      // stopping: SIGKILL sent after stop_timeout
        uint64_t start_ticks = 0; // adopted: its main process's start time
        int exit_status = 0;
        int64_t started_mono = 0;
        int failures = 0; // consecutive short runs, for the backoff
        int restarts = 0;
        uv_timer_t* timer = nullptr;
        uv_poll_t* poll = nullptr;
        os::Fd pidfd;
        Supervisor* sup = nullptr;
    };

    // replica.cpp
    void start(Replica& r);
    void stop(Replica& r, bool remove);
    void on_exit(Replica& r, int wait_status, bool known);
    void schedule_restart(Replica& r);
    int watch_pidfd(Replica& r); // 0, or the errno of pidfd_open
    bool adopted_alive(Replica& r);
    void check_adopted();
    void stop_timed_out(Replica& r);
    void end_session(Replica& r);
    void adopt_or_reap_existing();
    void kill_tree(Replica& r, int sig);
    void load_restart_counts();
    void reserve_descriptors();

    // supervisor.cpp
    void reconcile();
    void reload();
    void shutdown(bool force);
    void maybe_finish();
    void sweep();
    void on_sigchld();
    void scan_holders();
    void request_scan();
    void watch_capped(const std::string& why);
    void arm_expiry_timer(int64_t next_ms);
    void rotate_logs();
    void publish_metrics();
    std::map<std::string, std::string> worker_env(const Replica& r) const;
    Replica& slot(const std::string& worker, int index);

    Core& core_;
    Playbook playbook_;
    SupervisorOptions options_;
    EventCounters counters_;
    std::unique_ptr<MetricsServer> metrics_server_;
    std::string last_metrics_;
    uv_loop_t loop_{};
    uv_signal_t sig_chld_{}, sig_hup_{}, sig_term_{}, sig_int_{};
    uv_timer_t sweep_timer_{}, expiry_timer_{}, scan_timer_{};
    uv_fs_event_t claims_watch_{};
    std::map<std::string, std::unique_ptr<Replica>> replicas_;
    // Outside claim holders watched by pidfd: session id -> poll handle.
    struct Watched {
        uv_poll_t* poll = nullptr;
        os::Fd pidfd;
        Supervisor* sup = nullptr;
        std::string session;
    };
    std::map<std::string, std::unique_ptr<Watched>> holders_;
    bool stopping_ = false;
    bool finished_ = false;
    int64_t stop_requested_mono_ = 0;
    int64_t started_ms_ = 0;
    std::string exe_dir_;
    unsigned long nofile_soft_before_ = 0; // given back to workers
    size_t max_watched_holders_ = 0;       // pidfds for outside holders
    size_t metrics_connections_ = 0;       // open /metrics clients at most
    bool holders_capped_logged_ = false;
};

} // namespace loop
