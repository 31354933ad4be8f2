// The supervisor: a foreground, event-driven control loop (libuv) that keeps
// the workers of a playbook running, releases the claims of every session
// that dies the moment it dies, and reaps stale claims from anywhere on a
// safety sweep. Nothing polls: child exits (SIGCHLD), exits of adopted
// workers and of outside claim holders (pidfd), claim changes (inotify),
// signals and timers wake it.
#pragma once

#include "core/core.hpp"
#include "core/metrics/metrics.hpp"
#include "core/sessions/worker_sessions.hpp"
#include "core/supervisor/control_server.hpp"
#include "core/supervisor/fleet_record.hpp"
#include "core/supervisor/metrics_http.hpp"
#include "core/supervisor/playbook.hpp"
#include "core/supervisor/shared_link.hpp"
#include "core/supervisor/supervisor_lock.hpp"
#include "os/fd.hpp"
#include "os/spawn.hpp"

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace loop {

struct SupervisorOptions {
    std::string metrics_file;       // rewritten atomically when the metrics change
    std::string metrics_listen;     // HOST:PORT for GET /metrics
    SupervisorLock* lock = nullptr; // notes a refused reload for `loop status`
    // Where the workers' sessions live (nullptr: the home's records).
    WorkerSessions* workers = nullptr;
    // Renders the metrics (given whether the supervisor is up) on a shared
    // backend (empty: the home's, core/metrics/metrics.hpp).
    std::function<std::string(bool)> render_metrics;
    // The shared backend's calls (workers and render_metrics go through
    // it); nullptr on the file backend.
    SharedLink* shared = nullptr;
    // On a shared backend: writes this supervisor's record in the fleet
    // (every record_period_ms, and when a replica's state changed), and
    // removes it on a clean stop. Both may throw Error: the supervisor goes
    // on, logging it once until a write succeeds again.
    std::function<void(const SupervisorRecord&)> put_record;
    std::function<void(const SupervisorRecord&)> drop_record;
    int64_t record_period_ms = 0; // 0: no record
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
        std::string id;    // session id: <worker>.<index>
        std::string nonce; // this incarnation's: LOOP_SESSION_ID is id@nonce
        std::string worker;
        int index = 0;
        WorkerSpec spec; // the definition it was started with
        enum class State { Idle, Running, Backoff, Stopping, Stopped } state = State::Idle;
        int pid = 0;
        bool own_child = false; // else adopted: watched by pidfd
        bool remove_when_stopped = false;
        bool restart_when_stopped = false;
        // Main process gone, what is left of the incarnation (its group,
        // descendants that escaped it) not yet: its claims stay until then.
        bool draining = false;
        bool exit_known = false;      // draining: exit_status is the main process's
        bool group_signalled = false; // this stop: the stop signal went to the group
        std::set<int> signalled;      // this stop: pids sent the stop signal one by one
        bool killed = false;          // stopping: SIGKILL sent after stop_timeout
        uint64_t start_ticks = 0;     // adopted: its main process's start time
        int exit_status = 0;
        int64_t started_mono = 0;
        int failures = 0;            // consecutive short runs, for the backoff
        bool held = false;           // stopped by `loop stop`: stays stopped until `loop start`
        bool last_failed = false;    // stopped: its last run failed (else it exited 0)
        int64_t restart_at_mono = 0; // backoff: when it starts again
        int restarts = 0;
        bool awaits_backend = false; // backoff: starts once the shared backend answers
        uv_timer_t* timer = nullptr;
        uv_poll_t* poll = nullptr;
        os::Fd pidfd;
        Supervisor* sup = nullptr;
        // Draining: a pidfd per leftover, and a re-check when one cannot be opened.
        struct Watch {
            uv_poll_t* poll = nullptr;
            os::Fd pidfd;
            Replica* replica = nullptr;
            int pid = 0;
        };
        std::vector<std::unique_ptr<Watch>> drain_watches;
        uv_timer_t* drain_timer = nullptr;
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
    // Starts one of r's timers (created on first use) to fire once after `ms`.
    void start_timer(Replica& r, uv_timer_t*& timer, uv_timer_cb cb, int64_t ms);

    // replica_drain.cpp: what is left of an incarnation whose main process died.
    std::string session_env(const Replica& r) const; // "LOOP_SESSION_ID=id@nonce"
    os::Leftovers leftovers_of(const Replica& r) const;
    bool begin_drain(Replica& r, int wait_status, bool known); // false: nothing left
    void signal_leftovers(Replica& r, const os::Leftovers& left, int sig);
    void drain_check(Replica& r);
    void drain_timed_out(Replica& r);
    void end_drain_watches(Replica& r);
    void load_restart_counts();
    void reserve_descriptors();

    // replica_log.cpp: the incarnation's log writer; the descriptor for the
    // worker's stdout and stderr, or none (errno in *err).
    os::Fd start_log_writer(const Replica& r, int* err);
    // supervisor_reload.cpp: reload (SIGHUP or `loop reload`) and rollouts.
    // Returns the reply for `loop reload`: the changes it applied, or why it refused.
    nlohmann::json reload(const char* via);
    void advance_rollouts();
    // Restarts (now, or in its worker's rollout) a replica whose definition changed.
    void apply_definition(Replica& r, const WorkerSpec& w);

    // supervisor_control.cpp: `loop restart|stop|start` and replica states.
    void open_control();
    void on_control(uint64_t id, const nlohmann::json& request);
    void act(const std::string& op, Replica& r);
    void check_pending();
    void fail_pending(const std::string& why);
    nlohmann::json replica_json(const Replica& r) const;
    nlohmann::json replicas_json() const;
    static const char* state_name(const Replica& r);

    // supervisor_shared.cpp: while the shared backend does not answer.
    void watch_shared();
    void shared_tick();
    // A dead session whose release (and, with `drop`, record removal) the
    // backend did not acknowledge: held, retried, never taken as done.
    void hold_release(const std::string& id, bool drop, const std::string& why);
    // Retries every held release; false when one is still not done.
    bool retry_held();
    // Whether r may start now; else it waits (Backoff) for the backend.
    bool ready_to_start(Replica& r);
    // At the end: one last try, and what is left said.
    void finish_shared();
    // supervisor_record.cpp: this supervisor's record on a shared backend.
    SupervisorRecord record_now() const;
    void start_record();
    // Writes the record when `periodic` or when a replica's state changed
    // since the last write (not while writes fail: the next period retries).
    void publish_record(bool periodic);
    void drop_record();

    // supervisor.cpp
    void reconcile();
    void shutdown(bool force);
    void maybe_finish();
    void sweep();
    void on_sigchld();
    void scan_holders();
    void request_scan();
    void watch_capped(const std::string& why);
    void arm_expiry_timer(int64_t next_ms);
    void publish_metrics();
    std::string metrics_text();
    // Counters follow the event log: an append the claim files do not show
    // (a busy try, a release racing its scan) still reaches --metrics-file.
    void watch_event_log();
    std::map<std::string, std::string> worker_env(const Replica& r) const;
    Replica& slot(const std::string& worker, int index);

    Core& core_;
    std::unique_ptr<WorkerSessions> own_workers_; // when options.workers is null
    WorkerSessions* workers_ = nullptr;
    Playbook playbook_;
    SupervisorOptions options_;
    EventCounters counters_;
    std::unique_ptr<MetricsServer> metrics_server_;
    std::string last_metrics_;
    std::string last_shared_metrics_;           // shown while the shared backend does not answer
    std::map<std::string, bool> held_releases_; // session id -> its record to drop too
    uv_timer_t shared_timer_{};
    uv_loop_t loop_{};
    uv_signal_t sig_chld_{}, sig_hup_{}, sig_term_{}, sig_int_{};
    uv_timer_t sweep_timer_{}, expiry_timer_{}, scan_timer_{}, metrics_timer_{};
    uv_fs_event_t claims_watch_{}, events_watch_{};
    std::map<std::string, std::unique_ptr<Replica>> replicas_;
    std::unique_ptr<ControlServer> control_;
    // A `loop stop|start|restart` answered once its replicas got there.
    struct Pending {
        uint64_t conn = 0;
        std::string op;
        std::vector<std::string> ids;
        std::map<std::string, std::string> nonce_before; // a new incarnation is awaited
    };
    std::vector<Pending> pending_;
    uv_check_t progress_{}; // after each loop turn: rollouts, pending answers
    uv_timer_t rollout_timer_{};
    bool rollouts_pending_ = false;
    // Outside claim holders watched by pidfd: session id -> poll handle.
    struct Watched {
        uv_poll_t* poll = nullptr;
        os::Fd pidfd;
        Supervisor* sup = nullptr;
        std::string session;
    };
    std::map<std::string, std::unique_ptr<Watched>> holders_;
    // Log writers still running (children of ours, outliving what they log).
    std::set<int> log_writers_;
    bool stopping_ = false;
    bool finished_ = false;
    bool subreaper_ = false; // orphans of our workers are reparented to us
    int64_t stop_requested_mono_ = 0;
    int64_t started_ms_ = 0;
    std::string exe_dir_;
    unsigned long nofile_soft_before_ = 0; // given back to workers
    size_t max_watched_holders_ = 0;       // pidfds for outside holders
    size_t metrics_connections_ = 0;       // open /metrics clients at most
    bool holders_capped_logged_ = false;
    uv_timer_t record_timer_{};
    nlohmann::json published_replicas_; // as last written (null: never)
    bool record_failing_ = false;
};

} // namespace loop
