#include "core/claims/wait_queue.hpp"

#include "core/sessions/sessions.hpp"
#include "os/proc.hpp"

#include <algorithm>
#include <iterator>

namespace loop {

QueuePlace::QueuePlace(bool joins, const SessionRecord& me, const ProcessProbe& probe, bool alone)
    : joins_(joins), probe_(probe) {
    if (!joins_) return;
    ticket_.alone = alone;
    ticket_.pid = os::self_pid();
    // A session anchored on this very process (a `with`'s) knows its
    // start time.
    const bool anchored_here =
        me.anchor && me.anchor->pid == ticket_.pid && me.anchor->start_ticks != 0 &&
        me.anchor->boot_id == probe_.boot_id && me.anchor->pid_ns == probe_.pid_ns;
    ticket_.start_ticks =
        anchored_here ? me.anchor->start_ticks : probe_.info(ticket_.pid).start_ticks;
    ticket_.id = new_nonce();
    ticket_.session = me.id;
}

std::vector<WaitTicket> QueuePlace::live_queue(ClaimLock& lock, const std::string& name,
                                               bool* changed) {
    std::vector<WaitTicket> q = lock.queue(name);
    const int64_t now = os::now_ms();
    const size_t before = q.size();
    q.erase(std::remove_if(q.begin(), q.end(),
                           [&](const WaitTicket& t) {
                               if (t.id == ticket_.id || now - t.seen_ms <= kTicketStaleMs)
                                   return false;
                               dropped_.push_back(t.id);
                               return true;
                           }),
            q.end());
    *changed = q.size() != before;
    for (auto& t : q) {
        if (t.id == ticket_.id && now - t.seen_ms > kTicketRefreshMs) {
            t.seen_ms = now;
            *changed = true;
        }
    }
    return q;
}

std::optional<WaitTicket> QueuePlace::first_conflicting_ahead(std::vector<WaitTicket>& q, Mode mode,
                                                              bool* changed) {
    for (auto it = q.begin(); it != q.end();) {
        if (joins_ && it->id == ticket_.id) break; // the rest are behind us
        // Shared waiters batch; exclusive ones are not ordered among
        // themselves (whoever runs first takes the name, as with flock).
        if (it->mode == mode) {
            ++it;
            continue;
        }
        // Only the waiters that would stand in the way are judged: the
        // first live one is enough, the others wait behind it anyway.
        Anchor a{it->pid, it->start_ticks, probe_.boot_id, probe_.machine_id, probe_.pid_ns};
        if (anchor_verdict(a, probe_).life != Life::Dead) return *it;
        dropped_.push_back(it->id);
        it = q.erase(it);
        *changed = true;
    }
    return std::nullopt;
}

bool QueuePlace::enqueue(std::vector<WaitTicket>& q, Mode mode) {
    if (!joins_) return false;
    for (const auto& t : q)
        if (t.id == ticket_.id) return false;
    if (enqueued_ && ticket_.alone) rejoined_ = true;
    enqueued_ = true;
    WaitTicket t = ticket_;
    t.mode = mode;
    t.seq = q.empty() ? 1 : q.back().seq + 1;
    t.since_ms = t.seen_ms = os::now_ms();
    q.push_back(std::move(t));
    return true;
}

void QueuePlace::note_ahead(const std::string& name, std::vector<WaitTicket>& q, bool* changed) {
    if (!joins_) return;
    auto mine =
        std::find_if(q.begin(), q.end(), [&](const WaitTicket& t) { return t.id == ticket_.id; });
    while (mine != q.begin()) {
        auto it = std::prev(mine);
        Anchor a{it->pid, it->start_ticks, probe_.boot_id, probe_.machine_id, probe_.pid_ns};
        if (anchor_verdict(a, probe_).life != Life::Dead) {
            if (it->mode == Mode::Exclusive && it->alone) ahead_.emplace_back(name, it->pid);
            return;
        }
        dropped_.push_back(it->id);
        mine = q.erase(it); // mine moved one place up
        *changed = true;
    }
}

int QueuePlace::ahead(const std::string& name) const {
    for (const auto& [n, pid] : ahead_)
        if (n == name) return pid;
    return 0;
}

bool QueuePlace::leave(std::vector<WaitTicket>& q) const {
    if (!joins_) return false;
    const size_t before = q.size();
    q.erase(
        std::remove_if(q.begin(), q.end(), [&](const WaitTicket& t) { return t.id == ticket_.id; }),
        q.end());
    return q.size() != before;
}

void leave_queues(ClaimStore& store, const std::vector<std::string>& names,
                  const QueuePlace& place) {
    if (!place.joins()) return;
    auto lock = store.lock(names);
    for (const auto& n : names) {
        std::vector<WaitTicket> q = lock->queue(n);
        if (!place.leave(q)) continue;
        lock->set_queue(n, q);
        wake_everyone(store, n, q); // those it was in the way of
    }
}

void wake_everyone(ClaimStore& store, const std::string& name, const std::vector<WaitTicket>& q) {
    store.wake_waiters(name);
    const int64_t now = os::now_ms();
    for (const auto& t : q)
        if (rung_alone(t) && now - t.seen_ms <= kTicketStaleMs) store.wake_waiter(t.id);
}

void wake_next(ClaimStore& store, ClaimLock& lock, const std::string& name) {
    const int64_t now = os::now_ms();
    const std::vector<WaitTicket> q = lock.queue(name);
    size_t tried = 0;
    for (const auto& t : q) {
        if (now - t.seen_ms > kTicketStaleMs) continue; // nobody refreshes it
        if (!rung_alone(t) || tried == kWakeNextTries) break;
        if (store.wake_waiter(t.id)) return;
        ++tried;
    }
    wake_everyone(store, name, q);
}

} // namespace loop
