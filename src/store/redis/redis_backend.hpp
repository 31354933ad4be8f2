// The Redis backend (SPEC section 6): the verbs' claims and sessions on a
// shared Redis, every decision one server-side script (redis_scripts.hpp).
//
// Liveness: a holder is valid while its session key lives in Redis. On its
// own host a session is judged as on the file backend (its process, pid
// plus start time, and its process group): a claimer that finds a local
// holder dead passes it as dead to the acquire script, and the host's keeper
// (keeper.hpp) heartbeats live local sessions and ends dead ones. Another
// host's session is alive until its key's TTL runs out.
#pragma once

#include "core/home.hpp"
#include "store/backend.hpp"
#include "store/redis/backend_url.hpp"
#include "store/redis/host_identity.hpp"
#include "store/redis/redis_client.hpp"
#include "store/redis/redis_scripts.hpp"

#include <memory>
#include <string>

namespace loop::redis {

class RedisBackend;

// A supervisor's workers on Redis: their sessions in Redis, kept by the
// host keeper like every anchored session of the host.
class RedisWorkerSessions : public WorkerSessions {
  public:
    explicit RedisWorkerSessions(RedisBackend& b) : b_(b) {}
    void put(const SessionRecord& s) override;
    std::vector<std::string> release(const std::string& id, const std::string& event) override;
    void drop(const std::string& id) override;
    std::vector<std::pair<SessionRecord, Verdict>> list(std::vector<std::string>* errors) override;
    bool reaps_here() const override { return false; }
    std::string id_suffix() const override;

  private:
    RedisBackend& b_;
};

class RedisBackend : public Backend {
  public:
    // `url_text` is what the user gave (passed on to a keeper it starts).
    RedisBackend(const std::string& home_path, BackendUrl url, std::string url_text);

    const char* kind() const override { return "redis"; }
    SessionRecord resolve_live(const std::string& ref, int implicit_pid) override;
    SessionRecord own_session(int pid, const std::string& kind, int pgid) override;
    void end_own_session(const SessionRecord& me, const std::vector<std::string>& names) override;
    WorkerSessions& workers() override { return workers_; }
    std::vector<std::string> watch_paths() override { return {}; }
    const ProcessProbe& probe() const override { return probe_; }
    SessionRecord start_session(const StartOptions& opts, int caller_pid) override;
    void heartbeat(const std::string& ref) override;
    std::vector<std::string> end_session(const std::string& ref, bool* was_running) override;
    std::vector<SessionView> sessions(std::vector<std::string>* errors) override;
    Verdict verdict(const SessionRecord& s) override;
    AcquireOutcome acquire(const SessionRecord& me, const AcquireRequest& req, int64_t wait_ms,
                           const std::function<void(const AcquireOutcome&)>& on_wait) override;
    AcquireOutcome acquire_as(const std::string& ref, int implicit_pid, const AcquireRequest& req,
                              int64_t wait_ms,
                              const std::function<void(const AcquireOutcome&)>& on_wait,
                              SessionRecord* me) override;
    std::vector<std::string> release(const std::string& ref, int implicit_pid,
                                     const std::vector<std::string>& names, bool force) override;
    std::vector<Granted> renew(const SessionRecord& me, const std::vector<std::string>& names,
                               int64_t ttl_ms) override;
    std::vector<HolderView> holders(const std::string& name) override;
    std::vector<HolderView> all(std::vector<std::string>* errors) override;
    ReapReport reap(bool dry_run, int64_t retention_ms) override;
    void read_counters(EventCounters& c) override;
    void record_event(const std::string& event, const nlohmann::json& fields) override;
    void reconnect() override { client_.reset(); }

    // redis_supervisors.cpp
    int64_t supervisor_period_ms() const override;
    void put_supervisor(const SupervisorRecord& r) override;
    void drop_supervisor(const SupervisorRecord& r) override;
    std::vector<SupervisorRecord> supervisors(std::vector<std::string>* errors) override;

  private:
    // This host's supervisor of this home: "HOSTKEY.HOMEHASH".
    std::string supervisor_id() const;
    SupervisorRecord own_record(const SupervisorRecord& r) const;
    // The supervisor's record writes have a connection of their own,
    // opened again after a failure (a failed client stays failed).
    RedisClient& supervisor_client();
    std::unique_ptr<RedisClient> sup_client_;
    bool event_warned_ = false;
    RedisClient& client();
    // The record of session `id` in Redis, nullopt when its key is gone.
    std::optional<SessionRecord> read_session(const std::string& id);
    // The caller's implicit session (built here; stored by the first claim).
    SessionRecord implicit_session(int pid);
    // The session anchored to `anchor`, a process just read (anchor_of).
    SessionRecord process_session(const Anchor& anchor, const std::string& kind);
    Caller caller_of(const std::string& ref, int implicit_pid);
    // One attempt; a local holder found dead is passed as dead and tried
    // again. `first`: the first of its call (a busy answer counts as a
    // contention); `waited_ms`: -1 for a call that does not wait.
    AcquireResult try_once(SessionRecord& me, const AcquireRequest& req, bool create, bool first,
                           int64_t waited_ms, const AcquireArgs::Ticket& ticket);
    // The first answer to a call that named its session unread (adopting_):
    // `me` becomes the stored record, or an Error(Usage) says why it cannot
    // claim (a grant to a dead session is given back first).
    void adopt(SessionRecord& me, const AcquireResult& r);
    AcquireOutcome acquire_self(SessionRecord& me, const AcquireRequest& req, int64_t wait_ms,
                                const std::function<void(const AcquireOutcome&)>& on_wait);
    AcquireOutcome wait_for(SessionRecord& me, const AcquireRequest& req, bool create,
                            int64_t start, int64_t deadline, int64_t wait_ms,
                            const AcquireArgs::Ticket& ticket,
                            const std::function<void(const AcquireOutcome&)>& on_wait);
    void record_timeout_of(const SessionRecord& me, const AcquireRequest& req, const Busy& b,
                           int64_t waited_ms, const std::string& ticket);
    // Takes `ticket` out of the queues of req.names (a wait that failed).
    void leave_queues(const SessionRecord& me, const AcquireRequest& req,
                      const std::string& ticket);
    HolderView blocker_of(const Busy& b);
    // Blocks until a release (or an expiry, at the end of `block_ms`) may
    // let this waiter have busy name b.name; a wake-up naming another
    // waiter to go first passes it over (lua/common.lua: wake).
    void await_wake(const Busy& b, const std::string& ticket, Mode mode, int64_t block_ms);
    bool passed_over(const WakeEntry& e, const std::string& ticket, Mode mode);
    void after_grant(const SessionRecord& me, const AcquireResult& r);
    std::vector<HolderView> views_of(const std::vector<ClaimRecord>& recs);
    std::vector<std::string> scan(const std::string& pattern);
    void
    each_value(const std::vector<std::string>& keys,
               const std::function<void(const std::string& key, const std::string& value)>& fn);

    Home home_;
    BackendUrl url_;
    std::string url_text_;
    Keys keys_;
    ProcessProbe probe_;
    HostIdentity host_;
    std::unique_ptr<RedisClient> client_;
    std::string implicit_id_; // the implicit session built by this call
    // The session a claim names, not read yet (acquire_as).
    std::optional<SessionRef> adopting_;
    RedisWorkerSessions workers_{*this};
    friend class RedisWorkerSessions;
};

// A claim record as the scripts store it (P claim:NAME), nullopt when
// `text` is not one.
std::optional<ClaimRecord> claim_of_json(const std::string& text);

} // namespace loop::redis
