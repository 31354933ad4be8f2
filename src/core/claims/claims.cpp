#include "core/claims/claims.hpp"
#include "core/claims/claims_detail.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "os/notify.hpp"
#include "os/proc.hpp"

#include <algorithm>

namespace loop {

std::vector<std::string> normalize_names(std::vector<std::string> names) {
    if (names.empty()) throw Error(Exit::Usage, "no claim name given");
    for (const auto& n : names)
        check_name(n, "claim name");
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

std::string describe_blocker(const HolderView& b, int64_t now_ms) {
    if (b.waiting)
        return "claim " + b.name + ": session " + b.holder.session + " (pid " +
               std::to_string(b.holder.pid) + ") waits for it in " + mode_name(b.mode) +
               " mode since " + format_clock(b.holder.acquired_ms) + " UTC (" +
               format_age(now_ms - b.holder.acquired_ms) + ") and is served first";
    std::string s = "claim " + b.name + ": held by session " + b.holder.session;
    int pid = b.session && b.session->anchor ? b.session->anchor->pid : b.holder.pid;
    if (pid > 0) s += " (pid " + std::to_string(pid) + ")";
    if (b.mode == Mode::Shared) s += " in shared mode";
    s += " since " + format_clock(b.holder.acquired_ms) + " UTC (" +
         format_age(now_ms - b.holder.acquired_ms) + ")";
    if (b.holder.expires_ms > 0) s += ", expires in " + format_age(b.holder.expires_ms - now_ms);
    if (!b.holder.reason.empty()) s += ", reason: " + b.holder.reason;
    if (b.verdict.life == Life::Unknown)
        s += "; treated as alive because its liveness cannot be decided: " + b.verdict.why;
    return s;
}

Verdict Claims::holder_verdict(const Holder& h, bool locked, std::optional<SessionRecord>* session,
                               VerdictCache* verdicts) {
    if (auto left = claim_ttl_left(h, sessions_.probe()); left && *left <= 0)
        return {Life::Dead, "ttl expired " + format_age(-*left) + " ago"};
    if (locked && !h.txn.empty()) {
        try {
            if (!store_.txn_committed(h.txn))
                return {Life::Dead, "its multi-name acquisition was interrupted"};
        } catch (const Error& e) {
            return {Life::Unknown, e.message()};
        }
    }
    if (verdicts) {
        const SessionVerdict& known = verdicts->of(h.session, h.nonce);
        if (session) *session = known.session;
        return known.verdict;
    }
    SessionVerdict now = judge_incarnation(sessions_, h.session, h.nonce);
    if (session) *session = std::move(now.session);
    return now.verdict;
}

Claims::Pruned Claims::prune(const ClaimRecord& rec, bool locked,
                             std::vector<std::string>* warnings, VerdictCache* verdicts) {
    Pruned p;
    for (const auto& h : rec.holders) {
        HolderView v{rec.name, rec.mode, h, {}, std::nullopt};
        v.verdict = holder_verdict(h, locked, &v.session, verdicts);
        if (v.verdict.life == Life::Dead) {
            auto left = claim_ttl_left(h, sessions_.probe());
            p.stale.push_back({rec.name, h, v.verdict.why, left && *left <= 0});
            continue;
        }
        if (v.verdict.life == Life::Unknown && warnings)
            warnings->push_back("claim " + rec.name + ": holder session " + h.session +
                                " is treated as alive: " + v.verdict.why);
        p.live.push_back(std::move(v));
    }
    return p;
}

void Claims::log_reaped(const std::vector<ReapItem>& items, const std::string& by,
                        EventBatch* batch) {
    for (const auto& it : items) {
        nlohmann::json fields = {{"name", it.name},
                                 {"session", it.holder.session},
                                 {"fence", it.holder.fence},
                                 {"reason", it.why},
                                 {"by", by}};
        const char* event = it.expired ? "claim.expired" : "claim.reaped";
        if (batch) {
            batch->add(event, std::move(fields));
        } else {
            events_.append(event, std::move(fields));
        }
    }
}

namespace {

// The request of a waiter whose ticket is rung_alone (wait_queue.hpp).
bool rung_alone(const AcquireRequest& req) {
    return req.names.size() == 1 && req.mode_of(req.names[0]) == Mode::Exclusive;
}

// A waiter queued ahead, shown as what stands in the way.
HolderView waiting_view(const std::string& name, const WaitTicket& t) {
    HolderView v{name, t.mode, {}, {Life::Alive, "waiting"}, std::nullopt, true};
    v.holder.session = t.session;
    v.holder.pid = t.pid;
    v.holder.acquired_ms = t.since_ms;
    return v;
}

// The waiters in the way that no holder of the same name hides: wake when
// they die (their departure otherwise rings the name's bell).
void waiting_pids(const std::vector<HolderView>& blockers, std::vector<int>& pids) {
    for (const auto& b : blockers) {
        if (!b.waiting) continue;
        bool hidden = std::any_of(blockers.begin(), blockers.end(), [&](const HolderView& x) {
            return !x.waiting && x.name == b.name;
        });
        if (!hidden) pids.push_back(b.holder.pid);
    }
}

} // namespace

void Claims::note_contention(ClaimLock& lock, const SessionRecord& me,
                             const std::vector<std::string>& names, const HolderView& blocker,
                             int64_t now_ms, bool waits) {
    // Only here, on the busy path, is the note read: a free name costs
    // nothing more.
    auto note = lock.contention(blocker.name);
    ContentionStep step = contention_step(note, blocker.holder.session, blocker.holder.fence, me.id,
                                          now_ms, static_cast<uint64_t>(os::now_us()), waits);
    if (!step.log) {
        if (lock.set_contention(blocker.name, step.note)) return;
        step = {true, 1, 0, {}}; // not noted: this try is logged on its own
    }
    nlohmann::json ev = {{"names", names},
                         {"session", me.id},
                         {"holder", blocker.holder.session},
                         {"name", blocker.name},
                         {"tries", step.tries}};
    if (step.flushes > 0) ev["flushes"] = step.flushes;
    events_.append("claim.contended", std::move(ev));
    if (step.note.epoch > 0) lock.set_contention(blocker.name, step.note);
}

AcquireOutcome Claims::try_acquire(const SessionRecord& me, AcquireRequest req) {
    QueuePlace no_wait(false, me, sessions_.probe());
    return try_acquire_impl(me, std::move(req), true, -1, no_wait);
}

AcquireOutcome Claims::try_acquire_impl(const SessionRecord& me, AcquireRequest req,
                                        bool log_contention, int64_t waited_ms, QueuePlace& place,
                                        const std::function<void()>* on_blocked) {
    AcquireOutcome out;
    req.names = normalize_names(std::move(req.names));
    auto lock = store_.lock(req.names);
    // Nothing is granted to a session that ended, was replaced or died,
    // also while it waited: decided under the names' locks.
    sessions_.check_still_alive(me);
    const ProcessProbe& probe = sessions_.probe();
    const ProcessProbe::Now clocks = probe.now();
    const int64_t now = clocks.wall;

    struct Plan {
        std::string name;
        Mode mode = Mode::Exclusive;
        Pruned pruned;
        int mine = -1;
        uint64_t top_fence = 0; // of the record, stale holders included
        std::vector<WaitTicket> queue;
        bool queue_changed = false;
    };
    std::vector<Plan> plans;
    for (const auto& name : req.names) {
        Plan p{name, Mode::Exclusive, {}, -1, 0, {}, false};
        if (auto rec = store_.read(name)) {
            p.mode = rec->mode;
            p.pruned = prune(*rec, true, &out.warnings);
            for (const auto& h : rec->holders)
                p.top_fence = std::max(p.top_fence, h.fence);
        }
        std::vector<HolderView> others;
        for (size_t i = 0; i < p.pruned.live.size(); ++i) {
            if (detail::is_mine(p.pruned.live[i].holder, me)) {
                p.mine = static_cast<int>(i);
            } else {
                others.push_back(p.pruned.live[i]);
            }
        }
        const Mode want = req.mode_of(name);
        bool blocked = want == Mode::Exclusive ? !others.empty()
                                               : !others.empty() && p.mode == Mode::Exclusive;
        if (blocked) {
            for (auto& o : others)
                out.blockers.push_back(std::move(o));
        }
        // Waiters ahead come first; a holder of the name is never queued
        // behind them (changing its mode would wait for itself).
        p.queue = place.live_queue(*lock, name, &p.queue_changed);
        if (p.mine < 0)
            if (auto t = place.first_conflicting_ahead(p.queue, want, &p.queue_changed))
                out.blockers.push_back(waiting_view(name, *t));
        plans.push_back(std::move(p));
    }
    place.clear_ahead();
    for (auto& p : plans) {
        auto in_way = [&](const HolderView& b) { return b.name == p.name; };
        if (out.blockers.empty()) {
            if (place.leave(p.queue)) p.queue_changed = true;
        } else if (std::any_of(out.blockers.begin(), out.blockers.end(), in_way)) {
            if (place.enqueue(p.queue, req.mode_of(p.name))) p.queue_changed = true;
            place.note_ahead(p.name, p.queue, &p.queue_changed);
        }
        if (p.queue_changed) lock->set_queue(p.name, p.queue);
    }
    for (const auto& gone : place.take_dropped())
        store_.forget_waiter(gone);
    if (!out.blockers.empty()) {
        if (log_contention)
            note_contention(*lock, me, req.names, out.blockers.front(), now, place.joins());
        if (on_blocked) (*on_blocked)();
        return out;
    }

    const std::string txn =
        req.names.size() > 1 ? "t" + std::to_string(os::self_pid()) + "-" + new_nonce() : "";
    std::vector<ClaimRecord> written_new; // records carrying `txn`
    for (auto& p : plans) {
        Granted g;
        g.name = p.name;
        const Mode want = req.mode_of(p.name);
        ClaimRecord rec;
        bool changed = !p.pruned.stale.empty();
        if (p.mine >= 0 && (p.mode == want || p.mode == Mode::Exclusive)) {
            // Already held by this session: idempotent, the fence is unchanged.
            Holder& h = p.pruned.live[static_cast<size_t>(p.mine)].holder;
            if (req.ttl_ms > 0) {
                set_claim_expiry(h, req.ttl_ms, clocks, probe.boot_id);
                changed = true;
            }
            g.already_held = true;
            g.mode = p.mode;
            g.holder = h;
            rec = detail::record_of(p.name, p.mode, p.pruned.live);
        } else {
            Holder h;
            h.session = me.id;
            h.nonce = me.nonce;
            h.pid = me.anchor ? me.anchor->pid : 0;
            h.fence = lock->next_fence(p.name, p.top_fence);
            h.acquired_ms = now;
            set_claim_expiry(h, req.ttl_ms, clocks, probe.boot_id);
            h.reason = req.reason;
            h.meta = req.meta;
            h.txn = txn;
            rec.name = p.name;
            rec.mode = want;
            if (want == Mode::Shared) {
                for (const auto& v : p.pruned.live)
                    if (!detail::is_mine(v.holder, me)) rec.holders.push_back(v.holder);
            }
            rec.holders.push_back(h);
            g.mode = want;
            g.holder = h;
            changed = true;
            if (!txn.empty()) written_new.push_back(rec);
        }
        if (changed) {
            if (rec.holders.empty()) {
                store_.erase(p.name);
            } else {
                store_.write(rec);
            }
        }
        // Shared waiters can join a shared holder that took the place of
        // a dead one: they were not woken by its death (wake_next).
        if (!p.pruned.stale.empty() && g.mode == Mode::Shared) wake_next(store_, *lock, p.name);
        log_reaped(p.pruned.stale, me.id);
        out.granted.push_back(std::move(g));
    }
    if (!written_new.empty()) {
        // The marker is the commit point: before it, a crash leaves every new
        // holder of this call stale; after it, all of them are valid.
        store_.commit_txn(txn, anchor_of(os::self_pid(), sessions_.probe()));
        // From here on every name is held: a failure to tidy up (a full
        // disk) must not report a failure, it leaves a marker doctor clears.
        try {
            for (auto& rec : written_new) {
                for (auto& h : rec.holders)
                    if (h.txn == txn) h.txn.clear();
                store_.write(rec);
            }
            store_.drop_txn(txn);
        } catch (const Error& e) {
            out.warnings.push_back("all names are held, but the commit marker " + txn +
                                   " could not be cleaned up (" + e.message() +
                                   "); 'loop doctor --repair' clears it");
        }
    }
    for (auto& g : out.granted)
        g.holder.txn.clear();
    if (req.on_held) req.on_held(out.granted);
    for (auto& g : out.granted) {
        if (g.already_held) continue;
        nlohmann::json ev = {{"name", g.name},
                             {"session", me.id},
                             {"fence", g.holder.fence},
                             {"mode", mode_name(g.mode)}};
        if (waited_ms >= 0) ev["waited_ms"] = waited_ms;
        events_.append("claim.acquired", std::move(ev));
    }
    out.acquired = true;
    return out;
}

AcquireOutcome Claims::acquire(const SessionRecord& me, AcquireRequest req, int64_t wait_ms,
                               const std::function<void(const AcquireOutcome&)>& on_wait) {
    req.names = normalize_names(std::move(req.names));
    // Only a claimer that waits joins the queue; it leaves it when it gets
    // the names (under their lock) or gives up.
    QueuePlace place(wait_ms != 0, me, sessions_.probe(), req.names.size() == 1);
    auto give_up = [&] {
        try {
            leave_queues(store_, req.names, place);
        } catch (const Error&) {
            // Its ticket goes with this process.
        }
    };
    AcquireOutcome out;
    try {
        out = wait_for(me, req, wait_ms, on_wait, place);
    } catch (...) {
        give_up();
        throw;
    }
    if (!out.acquired) give_up();
    return out;
}

AcquireOutcome Claims::wait_for(const SessionRecord& me, const AcquireRequest& req, int64_t wait_ms,
                                const std::function<void(const AcquireOutcome&)>& on_wait,
                                QueuePlace& place) {
    // Every change that can let us in rings our own bell or the bell of
    // one of our names (wait_queue.hpp: wake_next, wake_everyone); holders'
    // deaths and TTLs are watched below.
    os::ChangeWaiter waiter;
    bool notified = true, listening = false, names_heard = false;
    // Our own bell, which a release rings when we are the waiter it lets in.
    struct OwnBell {
        ClaimStore& store;
        const std::string& id;
        ~OwnBell() { store.forget_waiter(id); }
    };
    std::optional<OwnBell> own_bell;
    const auto listen_names = [&] {
        for (const auto& n : req.names)
            notified = store_.listen(n, waiter) && notified;
        names_heard = true;
    };
    const std::function<void()> listen = [&] {
        if (place.joins() && store_.listen_as(place.id(), waiter))
            own_bell.emplace(store_, place.id());
        // A waiter for one name, exclusive, with a bell of its own hears
        // only that bell: every ring meant for it rings it (wake_next,
        // wake_everyone), and a listener of the name's bell costs the
        // other listeners a wake-up whenever it closes the bell.
        if (!own_bell || !rung_alone(req)) listen_names();
        listening = true;
    };
    // Before a busy try lets go of the names: the bells that rang are
    // listened to again (a look that gets the names skips that), and the
    // name's bell too once our ticket was dropped (judged gone) and its
    // bell with it, for every waker rings the name's bell.
    waiter.listen_again_by_caller();
    // A bell of our own that cannot be listened to again (a full disk, no
    // descriptors left) is made up for the same way.
    const std::function<void()> listen_again = [&] {
        const bool own_heard = own_bell && store_.listen_as(place.id(), waiter);
        if (!own_heard || names_heard || place.rejoined()) listen_names();
    };
    // The bells are listened to before the first busy try lets go of the
    // names: a release after it rings them, and no re-check is needed.
    AcquireOutcome out = try_acquire_impl(me, req, true, wait_ms == 0 ? -1 : 0, place,
                                          wait_ms == 0 ? nullptr : &listen);
    if (out.acquired || wait_ms == 0) return out;

    const int64_t start = os::monotonic_ms();
    bool recheck = !listening;
    if (!listening) listen();
    for (;;) {
        // Re-check after the watch is in place: no release can slip between.
        if (recheck) {
            out =
                try_acquire_impl(me, req, false, os::monotonic_ms() - start, place, &listen_again);
            if (out.acquired) return out;
        }
        recheck = true;
        if (on_wait) on_wait(out);
        const int64_t now_mono = os::monotonic_ms();
        int64_t left = wait_ms < 0 ? -1 : start + wait_ms - now_mono;
        if (wait_ms >= 0 && left <= 0) {
            nlohmann::json ev = {
                {"names", req.names}, {"session", me.id}, {"waited_ms", now_mono - start}};
            if (!out.blockers.empty()) {
                ev["name"] = out.blockers.front().name;
                ev["holder"] = out.blockers.front().holder.session;
            }
            events_.append("claim.timeout", std::move(ev));
            return out;
        }

        // Sleep until something can have changed: a bell, a holder's
        // exit, a TTL running out; a periodic re-check covers holders we
        // cannot watch (another pid namespace, a heartbeat-only session).
        int64_t next = notified ? 2000 : 100;
        std::vector<int> pids;
        waiting_pids(out.blockers, pids);
        for (const auto& b : out.blockers) {
            if (b.waiting) continue;
            if (auto left = claim_ttl_left(b.holder, sessions_.probe()))
                next = std::min(next, sat_add(*left, 1));
            if (b.session)
                if (auto left = heartbeat_ttl_left(*b.session, sessions_.probe()))
                    next = std::min(next, sat_add(*left, 1));
            // The waiter just ahead of us, when it waits for this name
            // alone, watches its holders for us (it is the one woken when
            // they go, and it takes the name): we watch that waiter.
            int ahead = place.ahead(b.name);
            if (ahead > 0) {
                if (std::find(pids.begin(), pids.end(), ahead) == pids.end()) pids.push_back(ahead);
            } else if (b.session && b.session->anchor) {
                pids.push_back(b.session->anchor->pid);
            }
        }
        if (left >= 0) next = std::min(next, left);
        if (next < 1) next = 1;
        waiter.watch_pids(pids);
        waiter.wait(static_cast<int>(next));
    }
}

} // namespace loop
