// Claim policy: who may take, keep and release a name, and when a holder
// is stale. Every decision is made and acted on under the store's lock for
// the names involved, so it cannot be invalidated by a concurrent claimer,
// an unclaim or a reap.
#pragma once

#include "core/claims/verdict_cache.hpp"
#include "core/claims/wait_queue.hpp"
#include "core/events.hpp"
#include "core/sessions/liveness.hpp"
#include "core/sessions/sessions.hpp"
#include "core/store.hpp"

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace loop {

struct Granted {
    std::string name;
    Mode mode = Mode::Exclusive;
    Holder holder;
    bool already_held = false;
};

struct AcquireRequest {
    std::vector<std::string> names;
    Mode mode = Mode::Exclusive;
    // Names (among `names`) taken shared whatever `mode` is: one
    // all-or-nothing call that takes an item exclusive and a repo shared.
    std::set<std::string> shared_names;
    Mode mode_of(const std::string& name) const {
        return mode == Mode::Shared || shared_names.count(name) ? Mode::Shared : Mode::Exclusive;
    }
    int64_t ttl_ms = 0; // 0: no TTL
    std::string reason;
    std::map<std::string, std::string> meta;
    // Called once, as soon as every name is held and before the engine's
    // bookkeeping that follows (on the file backend: the events, the
    // wake-ups and letting go of the names' locks, so it runs under them
    // and must neither wait long nor take these names); what the caller
    // runs under the claims starts that much sooner. Every backend calls
    // it, and nothing after it fails the call.
    std::function<void(const std::vector<Granted>&)> on_held;
};

// A holder standing in the way, with what we know about it.
struct HolderView {
    std::string name;
    Mode mode = Mode::Exclusive;
    Holder holder;
    Verdict verdict;
    std::optional<SessionRecord> session;
    bool waiting = false; // not a holder: a waiter queued ahead (core/claims/wait_queue.hpp)
};

struct AcquireOutcome {
    bool acquired = false;
    std::vector<Granted> granted;      // when acquired
    std::vector<HolderView> blockers;  // when not: the live holders in the way
    std::vector<std::string> warnings; // undecidable liveness, reported
};

struct ReapItem {
    std::string name;
    Holder holder;
    std::string why;
    bool expired = false; // TTL rather than a dead session
};

// What one pass over many names shares: each session judged once (see
// core/claims/verdict_cache.hpp), the events written together.
struct ClaimPass {
    ClaimPass(Sessions& sessions, EventLog& events) : verdicts(sessions), events(events) {}
    VerdictCache verdicts;
    EventBatch events;
};

class Claims {
  public:
    Claims(ClaimStore& store, Sessions& sessions, EventLog& events)
        : store_(store), sessions_(sessions), events_(events) {}

    // One attempt. Names are validated, sorted and deduplicated.
    AcquireOutcome try_acquire(const SessionRecord& me, AcquireRequest req);

    // Retries until acquired or `wait_ms` passes (kInfinite: forever),
    // waking on claim changes and on holder exits. `on_wait` is called
    // before each sleep with the current blockers (a progress display).
    AcquireOutcome acquire(const SessionRecord& me, AcquireRequest req, int64_t wait_ms,
                           const std::function<void(const AcquireOutcome&)>& on_wait = {});

    // Releases `names` held by session `session_id`. Held by another live
    // session: Error(Busy) unless `force`. Not held: nothing to do.
    // Returns the names actually released.
    std::vector<std::string> release(const std::string& session_id,
                                     const std::optional<std::string>& nonce,
                                     std::vector<std::string> names, bool force);

    // Extends the TTL of claims held by `me`. Error(Busy) when not held.
    std::vector<Granted> renew(const SessionRecord& me, std::vector<std::string> names,
                               int64_t ttl_ms);

    // Every holder of `name` with its liveness (no lock taken).
    std::vector<HolderView> holders(const std::string& name, VerdictCache* verdicts = nullptr);
    // Every holder of every claim. Unreadable records land in `errors`.
    std::vector<HolderView> all(std::vector<std::string>* errors);

    // Names with a holder that `match` selects, read without the lock (the
    // caller decides again under it). Unreadable records are skipped, and
    // then *clean is false.
    std::vector<std::string> names_with_holder(const std::function<bool(const Holder&)>& match,
                                               bool* clean = nullptr);

    // Releases every claim of a session (session end, worker death).
    std::vector<std::string> release_session(const std::string& session_id,
                                             const std::string& event = "claim.released");

    // Removes stale holders of `name`, deciding under its lock. Dry run:
    // only reports. With `pass`, sessions are judged once for the whole
    // pass and the events are written with the pass's (without, at once).
    std::vector<ReapItem> reap_name(const std::string& name, bool dry_run,
                                    std::vector<std::string>* warnings, ClaimPass* pass = nullptr);
    // Removes commit markers no acquisition needs any more.
    std::vector<std::string> reap_txns(bool dry_run);

    // Is this holder still valid? `locked`: the caller holds the name's lock,
    // so an incomplete multi-name acquisition is known to be abandoned.
    // With `verdicts`, the session's verdict of this pass.
    Verdict holder_verdict(const Holder& h, bool locked, std::optional<SessionRecord>* session,
                           VerdictCache* verdicts = nullptr);

    ClaimStore& store() { return store_; }
    // A pass over many names (reap, listing) of this policy.
    ClaimPass pass() { return ClaimPass(sessions_, events_); }

  private:
    struct Pruned {
        std::vector<HolderView> live;
        std::vector<ReapItem> stale;
    };
    // `on_blocked`, when set, runs when the names are busy, after the
    // queues are written and before their locks are let go.
    AcquireOutcome try_acquire_impl(const SessionRecord& me, AcquireRequest req,
                                    bool log_contention, int64_t waited_ms, QueuePlace& place,
                                    const std::function<void()>* on_blocked = nullptr);
    AcquireOutcome wait_for(const SessionRecord& me, const AcquireRequest& req, int64_t wait_ms,
                            const std::function<void(const AcquireOutcome&)>& on_wait,
                            QueuePlace& place);
    Pruned prune(const ClaimRecord& rec, bool locked, std::vector<std::string>* warnings,
                 VerdictCache* verdicts = nullptr);
    void log_reaped(const std::vector<ReapItem>& items, const std::string& by,
                    EventBatch* batch = nullptr);
    // Logs a busy try as claim.contended, or only counts it in the name's
    // note (core/claims/contention.hpp); the first try of a claim that `waits` is
    // always logged. Under the names' lock.
    void note_contention(ClaimLock& lock, const SessionRecord& me,
                         const std::vector<std::string>& names, const HolderView& blocker,
                         int64_t now_ms, bool waits);

    ClaimStore& store_;
    Sessions& sessions_;
    EventLog& events_;
};

// "claim repo-x: held by session w-3 (pid 4121) since 12:01:07 UTC (3m12s), reason: ..."
std::string describe_blocker(const HolderView& b, int64_t now_ms);

// Sorts, deduplicates and validates claim names (Error(Usage) on a bad one).
std::vector<std::string> normalize_names(std::vector<std::string> names);

} // namespace loop
