// Taking claims on Redis: one script call per attempt, and between attempts
// a blocking read of the busy name's wake stream (a release writes to it),
// capped by the holder's remaining TTL (an expiry writes nothing).
#include "core/error.hpp"
#include "core/metrics/metrics.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"
#include "store/redis/keeper.hpp"
#include "store/redis/redis_backend.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace loop::redis {

namespace {

// Each blocking read is also bounded, so a waiter notices its own
// session's end (and a server that went away) in this time at the latest.
constexpr int64_t kMaxBlockMs = 5'000;

// A waiter passed over by a wake-up (another waiter named to go first)
// waits for the next one at most this long, in case the one named never
// takes the name.
constexpr int64_t kPassedOverMs = 100;

// The bucket of the wait histogram `waited_ms` falls in (the number of
// buckets: above the last one).
int wait_bucket(int64_t waited_ms) {
    const double s = static_cast<double>(waited_ms) / 1000.0;
    const auto& b = EventCounters::kWaitBuckets;
    return static_cast<int>(std::find_if(b.begin(), b.end(), [&](double le) { return s <= le; }) -
                            b.begin());
}

Granted granted_of(const Grant& g, const SessionRecord& me, const AcquireRequest& req) {
    Granted out;
    out.name = g.name;
    out.mode = g.mode;
    out.already_held = g.already_held;
    out.holder.session = me.id;
    out.holder.nonce = me.nonce;
    out.holder.pid = me.anchor ? me.anchor->pid : 0;
    out.holder.fence = g.fence;
    out.holder.acquired_ms = g.acquired_ms;
    out.holder.expires_ms = g.expires_ms;
    out.holder.ttl_ms = req.ttl_ms;
    out.holder.reason = req.reason;
    out.holder.meta = req.meta;
    return out;
}

} // namespace

HolderView RedisBackend::blocker_of(const Busy& b) {
    HolderView v;
    v.name = b.name;
    v.mode = b.mode;
    v.holder = b.holder;
    v.verdict = {Life::Alive, "alive"};
    if (b.waiting) { // a waiter queued ahead: it lives, or its ticket lapses
        v.verdict = {Life::Alive, "waiting"};
        v.waiting = true;
        return v;
    }
    // The busy answer carries the holder's session record (read with the
    // claim, in the same script).
    if (!b.holder_session.empty()) {
        try {
            v.session =
                session_from_json_text(b.holder_session, "redis " + client().endpoint() + " " +
                                                             keys_.session(b.holder.session));
        } catch (const Error& e) {
            v.verdict = {Life::Unknown, e.message()};
            return v;
        }
    }
    if (v.session) v.verdict = verdict(*v.session);
    return v;
}

AcquireResult RedisBackend::try_once(SessionRecord& me, const AcquireRequest& req, bool create,
                                     bool first, int64_t waited_ms,
                                     const AcquireArgs::Ticket& ticket) {
    AcquireArgs a;
    a.ticket = ticket;
    a.who = {me.id, me.nonce};
    a.names = req.names;
    a.mode = req.mode;
    a.shared_names.assign(req.shared_names.begin(), req.shared_names.end());
    a.ttl_ms = req.ttl_ms;
    a.pid = me.anchor ? me.anchor->pid : 0;
    a.host = host_.key;
    a.reason = req.reason;
    a.meta = req.meta;
    a.contend = first;
    a.waited_ms = waited_ms;
    a.wait_bucket = wait_bucket(waited_ms);
    if (create) {
        a.create = to_json_text(me);
        if (!a.create.empty() && a.create.back() == '\n') a.create.pop_back();
        a.create_ttl_ms = url_.session_ttl_ms;
    }
    // This host's keeper looks after a session anchored here only: another
    // host's session lives by its own host's heartbeats, or not at all.
    if (adopting_) {
        a.adopt = true;
        a.here = {probe_.boot_id, probe_.machine_id, probe_.pid_ns};
        a.host_key = host_.key;
    } else if (me.anchor && me.ttl_ms == 0 && anchored_here(*me.anchor, probe_)) {
        a.host_key = host_.key;
    }
    for (int round = 0; round < 16; ++round) {
        AcquireResult r = redis::acquire(client(), keys_, a);
        if (adopting_) adopt(me, r);
        if (r.status != AcquireResult::Status::Busy || r.busy->host != host_.key) return r;
        if (r.busy->waiting) {
            // A waiter of this host: its ticket goes once its process is gone.
            Anchor w{r.busy->holder.pid, r.busy->ticket_start_ticks, probe_.boot_id,
                     probe_.machine_id, probe_.pid_ns};
            const std::string& id = r.busy->ticket_id;
            if (anchor_verdict(w, probe_).life != Life::Dead ||
                std::find(a.dead_tickets.begin(), a.dead_tickets.end(), id) != a.dead_tickets.end())
                return r;
            a.dead_tickets.push_back(id);
            continue;
        }
        // A holder on this host: judged here, as on the file backend.
        HolderView v = blocker_of(*r.busy);
        if (!v.session || v.verdict.life != Life::Dead) return r;
        if (std::find(a.dead.begin(), a.dead.end(), v.holder.session) != a.dead.end()) return r;
        a.dead.push_back(v.holder.session);
    }
    throw Error(Exit::Failure, "redis " + client().endpoint() + ": the holders kept changing");
}

void RedisBackend::adopt(SessionRecord& me, const AcquireResult& r) {
    const SessionRef ref = *adopting_;
    adopting_.reset();
    const std::string text = ref.nonce ? ref.id + "@" + *ref.nonce : ref.id;
    if (r.session.empty())
        throw Error(Exit::Usage, "session " + ref.id + " is unknown or has ended on redis " +
                                     client().endpoint() +
                                     ": start one with 'loop _ session start'");
    SessionRecord s = session_from_json_text(r.session, keys_.session(ref.id));
    if (r.status == AcquireResult::Status::NoSession)
        throw Error(Exit::Usage, "session " + text +
                                     " is dead: a later incarnation replaced it; start a new one");
    me = std::move(s);
    Verdict v = verdict(me);
    if (v.life != Life::Dead) return;
    if (r.status == AcquireResult::Status::Acquired) {
        std::vector<std::string> taken;
        for (const auto& g : r.granted)
            if (!g.already_held) taken.push_back(g.name);
        try {
            if (!taken.empty()) redis::release(client(), keys_, {me.id, me.nonce}, taken);
        } catch (const Error&) {
            // Held by a dead session: the next claimer here takes it over.
        }
    }
    throw Error(Exit::Usage, "session " + ref.id + " is dead (" + v.why + "): start a new one");
}

AcquireOutcome RedisBackend::acquire_as(const std::string& ref, int implicit_pid,
                                        const AcquireRequest& req, int64_t wait_ms,
                                        const std::function<void(const AcquireOutcome&)>& on_wait,
                                        SessionRecord* me) {
    if (ref.empty()) return Backend::acquire_as(ref, implicit_pid, req, wait_ms, on_wait, me);
    // One round trip: the acquire script reads the session and answers
    // with it; it is judged here from that answer.
    SessionRef named = parse_session_ref(ref);
    *me = SessionRecord{};
    me->id = named.id;
    me->nonce = named.nonce.value_or("");
    adopting_ = std::move(named);
    try {
        return acquire_self(*me, req, wait_ms, on_wait);
    } catch (...) {
        adopting_.reset();
        throw;
    }
}

AcquireOutcome RedisBackend::acquire(const SessionRecord& me, const AcquireRequest& req,
                                     int64_t wait_ms,
                                     const std::function<void(const AcquireOutcome&)>& on_wait) {
    SessionRecord self = me;
    return acquire_self(self, req, wait_ms, on_wait);
}

AcquireOutcome
RedisBackend::acquire_self(SessionRecord& me, const AcquireRequest& req_in, int64_t wait_ms,
                           const std::function<void(const AcquireOutcome&)>& on_wait) {
    AcquireRequest req = req_in;
    req.names = normalize_names(req.names);
    // Only the implicit session is created by its first claim; any other
    // must exist (session start) and is refused once it has ended.
    const bool create = !implicit_id_.empty() && me.id == implicit_id_;
    const int64_t start = os::monotonic_ms();
    const int64_t deadline = wait_ms == kInfinite ? INT64_MAX : start + wait_ms;
    // A call that waits joins the queue of the name it finds busy (fair
    // waiting, lua/acquire.lua); it leaves it when it gets the names or
    // gives up.
    AcquireArgs::Ticket ticket;
    if (wait_ms != 0) {
        ticket.id = new_nonce();
        ticket.pid = os::self_pid();
        ticket.start_ticks = probe_.info(ticket.pid).start_ticks;
        ticket.host = host_.key;
    }
    try {
        return wait_for(me, req, create, start, deadline, wait_ms, ticket, on_wait);
    } catch (...) {
        if (!ticket.id.empty()) leave_queues(me, req, ticket.id);
        throw;
    }
}

AcquireOutcome RedisBackend::wait_for(SessionRecord& me, const AcquireRequest& req, bool create,
                                      int64_t start, int64_t deadline, int64_t wait_ms,
                                      const AcquireArgs::Ticket& ticket,
                                      const std::function<void(const AcquireOutcome&)>& on_wait) {
    for (bool first = true;; first = false) {
        // (Read alive just before the first try: judged again from the second.)
        if (!first && create && me.anchor && anchor_verdict(*me.anchor, probe_).life == Life::Dead)
            throw Error(Exit::Usage, "session " + me.id + " died while waiting; nothing was taken");
        AcquireResult r = try_once(me, req, create, first,
                                   wait_ms == 0 ? -1 : os::monotonic_ms() - start, ticket);
        AcquireOutcome out;
        if (r.status == AcquireResult::Status::NoSession)
            throw Error(Exit::Usage, "session " + me.id + " has ended or expired on redis " +
                                         client().endpoint() + "; nothing was taken");
        if (r.status == AcquireResult::Status::Acquired) {
            out.acquired = true;
            for (const auto& g : r.granted)
                out.granted.push_back(granted_of(g, me, req));
            after_grant(me, r);
            if (req.on_held) req.on_held(out.granted);
            return out;
        }
        const Busy& b = *r.busy;
        out.blockers.push_back(blocker_of(b));
        const int64_t left = deadline == INT64_MAX ? INT64_MAX : deadline - os::monotonic_ms();
        if (wait_ms == 0) return out;
        if (left <= 0) {
            record_timeout_of(me, req, b, os::monotonic_ms() - start, ticket.id);
            return out;
        }
        if (on_wait) on_wait(out);
        int64_t block = std::min<int64_t>(left, kMaxBlockMs);
        if (b.ttl_left_ms >= 0) block = std::min<int64_t>(block, b.ttl_left_ms + 1);
        await_wake(b, ticket.id, req.mode_of(b.name), std::max<int64_t>(block, 1));
    }
}

bool RedisBackend::passed_over(const WakeEntry& e, const std::string& ticket, Mode mode) {
    if (e.next.empty() || e.next == ticket) return false;
    if (e.next_mode == "shared" && mode == Mode::Shared) return false; // readers go together
    if (e.next_host != host_.key) return true;
    // The waiter named first is of this host: if its process is gone, no
    // one would come for the name.
    Anchor w{e.next_pid, e.next_start_ticks, probe_.boot_id, probe_.machine_id, probe_.pid_ns};
    return anchor_verdict(w, probe_).life != Life::Dead;
}

void RedisBackend::await_wake(const Busy& b, const std::string& ticket, Mode mode,
                              int64_t block_ms) {
    std::string from = b.wake_id;
    int64_t until = os::monotonic_ms() + block_ms;
    for (;;) {
        const int64_t left = until - os::monotonic_ms();
        if (left <= 0) return;
        std::vector<WakeEntry> entries = read_wake(client(), keys_, b.name, from, left);
        if (entries.empty()) return; // timed out: try again
        for (const auto& e : entries) {
            if (!passed_over(e, ticket, mode)) return;
            from = e.id;
        }
        // Another waiter goes first. It takes the name, or (gone, or
        // waiting for another name meanwhile) it does not: then this one
        // tries again soon all the same.
        until = std::min(until, os::monotonic_ms() + kPassedOverMs);
    }
}

void RedisBackend::record_timeout_of(const SessionRecord& me, const AcquireRequest& req,
                                     const Busy& b, int64_t waited_ms, const std::string& ticket) {
    try {
        record_timeout(client(), keys_,
                       {req.names, me.id, waited_ms, b.name, b.holder.session, ticket, true});
    } catch (const Error&) {
        // The claim gave up all the same; its ticket lapses on its own.
    }
}

void RedisBackend::leave_queues(const SessionRecord& me, const AcquireRequest& req,
                                const std::string& ticket) {
    try {
        record_timeout(client(), keys_, {req.names, me.id, 0, "", "", ticket, false});
    } catch (const Error&) {
        // Its ticket lapses on its own.
    }
}

void RedisBackend::after_grant(const SessionRecord& me, const AcquireResult& r) {
    // A session the host's keeper looks after: make sure one runs, and let
    // it know of a session it has not seen yet.
    if (!me.anchor || me.ttl_ms != 0 || !anchored_here(*me.anchor, probe_)) return;
    ensure_keeper(home_, url_text_, r.keeper, r.added);
}

} // namespace loop::redis
