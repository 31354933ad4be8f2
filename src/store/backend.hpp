// Where claims and sessions live, as the verbs see it: one interface, one
// implementation per storage engine (src/store/file/, src/store/redis/).
// What a verb prints and which exit code it returns is the same on every
// engine; only how a decision is made atomically differs (the home's lock
// files, or one server-side script).
#pragma once

#include "core/claims/claims.hpp"
#include "core/claims/reaper.hpp"
#include "core/metrics/metrics.hpp"
#include "core/sessions/sessions.hpp"
#include "core/sessions/worker_sessions.hpp"
#include "core/supervisor/fleet_record.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace loop {

struct SessionView {
    SessionRecord record;
    Verdict verdict;
};

class Backend {
  public:
    virtual ~Backend() = default;

    // "file" or "redis", for messages.
    virtual const char* kind() const = 0;

    // The session a claim made now belongs to: `ref` (an id the user gave:
    // it must be known, the same incarnation, alive: otherwise
    // Error(Usage)), or the implicit session of the process `implicit_pid`.
    virtual SessionRecord resolve_live(const std::string& ref, int implicit_pid) = 0;
    // The session of process `pid` itself, of kind `kind` (`with`: the
    // with process is the session), created by its first claim, which owns
    // process group `pgid` (with's command, forked already and held at its
    // gate): the session lives while `pid` or a member of the group lives.
    virtual SessionRecord own_session(int pid, const std::string& kind, int pgid) = 0;
    // Ends `me`, the calling process's own session (with's, at its end, or
    // when it took nothing), releasing `names` it holds and anything else
    // it still holds; a name someone else has by now is left to them, a
    // session that is gone already is no error.
    virtual void end_own_session(const SessionRecord& me,
                                 const std::vector<std::string>& names) = 0;
    // release_own(), leaving a name someone else has by now to them.
    void release_own_quietly(const SessionRecord& me, const std::vector<std::string>& names);
    // Directories whose changes may mean a claim changed (empty: look
    // periodically).
    virtual std::vector<std::string> watch_paths() = 0;
    // Where a supervisor on this backend keeps its workers' sessions.
    virtual WorkerSessions& workers() = 0;
    // The clocks and process facts liveness is judged with.
    virtual const ProcessProbe& probe() const = 0;
    // loop _ session start.
    virtual SessionRecord start_session(const StartOptions& opts, int caller_pid) = 0;
    // Error(Busy) when the session is dead or gone.
    virtual void heartbeat(const std::string& ref) = 0;
    // Ends the session and releases its claims (returned); *was_running is
    // false when there was no such session.
    virtual std::vector<std::string> end_session(const std::string& ref, bool* was_running) = 0;
    // Every session, sorted by id; unreadable records land in `errors`.
    virtual std::vector<SessionView> sessions(std::vector<std::string>* errors) = 0;
    virtual Verdict verdict(const SessionRecord& s) = 0;

    // Takes all of req.names or none, waiting up to `wait_ms` (0: one try,
    // kInfinite: forever); `on_wait` before each wait (a progress line).
    virtual AcquireOutcome acquire(const SessionRecord& me, const AcquireRequest& req,
                                   int64_t wait_ms,
                                   const std::function<void(const AcquireOutcome&)>& on_wait) = 0;
    // resolve_live(ref, implicit_pid), then acquire() for that session,
    // which lands in *me; an engine may do both in one step (Redis: one
    // round trip, the session judged from the answer; a grant to a session
    // found dead is given back before the Error(Usage)).
    virtual AcquireOutcome acquire_as(const std::string& ref, int implicit_pid,
                                      const AcquireRequest& req, int64_t wait_ms,
                                      const std::function<void(const AcquireOutcome&)>& on_wait,
                                      SessionRecord* me) {
        *me = resolve_live(ref, implicit_pid);
        return acquire(*me, req, wait_ms, on_wait);
    }
    // Releases `names` held by the session `ref` names ("" : the implicit
    // session of `implicit_pid`, never created for this). Held by another
    // live session: Error(Busy) unless `force`. Returns what was released.
    virtual std::vector<std::string> release(const std::string& ref, int implicit_pid,
                                             const std::vector<std::string>& names, bool force) = 0;
    // Releases `names` held by `me`, the calling process's own session as
    // it resolved or created it (`with`'s, at its end): its record need not
    // be read again. Error(Busy) as release() for a name held by another.
    virtual std::vector<std::string> release_own(const SessionRecord& me,
                                                 const std::vector<std::string>& names) {
        return release(pinned_ref(me), 0, names, false);
    }
    // Error(Busy) for a name `me` does not hold.
    virtual std::vector<Granted> renew(const SessionRecord& me,
                                       const std::vector<std::string>& names, int64_t ttl_ms) = 0;
    // The holders of `name` (dead ones included, with their verdict).
    virtual std::vector<HolderView> holders(const std::string& name) = 0;
    // Every holder of every claim; unreadable records land in `errors`.
    virtual std::vector<HolderView> all(std::vector<std::string>* errors) = 0;
    // One reaping pass (loop reap): removes what is stale, never a live or
    // undecidable holder. `retention_ms`: how long records of dead sessions
    // are kept (where the engine keeps them).
    virtual ReapReport reap(bool dry_run, int64_t retention_ms) = 0;
    // The counters of `loop metrics` as this engine keeps them, into `c`
    // (the file backend: its event log, read on from where the last call
    // stopped; Redis: the counters its scripts keep, read whole).
    virtual void read_counters(EventCounters& c) = 0;
    // Records an event of this host's supervisor where the backend's event
    // log is (nothing on the file backend: the home's log is that), at the
    // wall time `fields.ts_ms` when given (else now). Error(Failure) when it
    // cannot be written (core/supervisor/shared_link.hpp queues it).
    virtual void record_event(const std::string& event, const nlohmann::json& fields) = 0;
    // Closes the connection to a server, if any, so that the next call
    // connects anew (a supervisor's try after a failure; a verb's calls
    // fail for good after one).
    virtual void reconnect() {}

    // The supervisors of the fleet (SPEC section 6, loop(1) status). On a
    // shared backend each supervisor keeps a record there; the file
    // backend keeps none (the home's supervisor.lock is the only record):
    // its period is 0 and it lists nothing.
    //
    // How often a supervisor refreshes its record (0: it keeps none); the
    // record lapses after 3 periods without a refresh.
    virtual int64_t supervisor_period_ms() const { return 0; }
    // Writes this host's record of the supervisor `r` (id, host and
    // host_id are the backend's to fill in); Error(Failure) when the
    // backend cannot be reached.
    virtual void put_supervisor(const SupervisorRecord&) {}
    // A clean stop: the record goes, the fleet's index says when it stopped.
    virtual void drop_supervisor(const SupervisorRecord&) {}
    // Every supervisor of the fleet known to the index, by id: running
    // (its record lives), gone (expired) or stopped; unreadable records land
    // in `errors`.
    virtual std::vector<SupervisorRecord> supervisors(std::vector<std::string>*) { return {}; }
};

// `loop metrics` of any backend: its counters, the claims and sessions as
// they are now, and `supervisor_up`.
std::string render_backend_metrics(Backend& b, EventCounters& c, bool supervisor_up);

// The backend of this invocation: `--backend` (`flag`), else $LOOP_BACKEND,
// else "backend" in the home's config.json, else the file backend of the
// home. Error(Usage) for a malformed URL or config; the home is opened
// (and checked) in every case: it keeps the logs and the keeper's lock.
std::unique_ptr<Backend> open_backend(const std::string& home_flag, const std::string& flag);
// The backend URL text that choice ends at ("" : the file backend).
std::string chosen_backend(const std::string& home_path, const std::string& flag);

} // namespace loop
