// Fair waiting: each name keeps a queue of the claimers that wait for it
// (`claim --wait`, `with --wait`), oldest first. A request is served only
// when no holder conflicts with it and no waiter of the other mode is
// queued ahead of it: a stream of shared claims cannot starve an exclusive
// one, nor a stream of exclusive claims a shared one. Shared waiters behind
// shared waiters are served together; exclusive waiters among themselves
// are not ordered (whichever runs first when the name frees takes it, so a
// busy machine does not hand the name to a waiter that is not running).
// Attempts that do not wait (`--wait 0`) respect the queue but never join it.
//
// The queue only orders waiters: a lost or unreadable queue costs
// fairness, never exclusion, which the claim records alone decide.
#pragma once

#include "core/claims/queue_text.hpp"
#include "core/records.hpp"
#include "core/sessions/liveness.hpp"
#include "core/store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace loop {

// A ticket not refreshed for this long is dropped, whatever its process
// looks like (a waiter stopped, or in a pid namespace we cannot see).
constexpr int64_t kTicketStaleMs = 60'000;
// A waiter refreshes its ticket when it is older than this.
constexpr int64_t kTicketRefreshMs = 10'000;

// One acquisition's place in the wait queues of its names. Without `joins`
// (an attempt that does not wait) it only looks at the queues.
class QueuePlace {
  public:
    // `alone`: the acquisition is of one name only.
    QueuePlace(bool joins, const SessionRecord& me, const ProcessProbe& probe, bool alone = false);

    // The queue of `name` without the tickets nobody refreshed for too
    // long; *changed when any was dropped (or ours refreshed).
    std::vector<WaitTicket> live_queue(ClaimLock& lock, const std::string& name, bool* changed);

    // The first ticket ahead of ours (of all of them when we have none) of
    // the other mode than `mode` whose waiter lives; the tickets
    // of dead waiters met on the way are dropped from `q` (*changed).
    std::optional<WaitTicket> first_conflicting_ahead(std::vector<WaitTicket>& q, Mode mode,
                                                      bool* changed);

    // Adds our ticket to `q` unless it is there (only when joining).
    bool enqueue(std::vector<WaitTicket>& q, Mode mode);

    // Notes, for `name`, the closest live waiter ahead of our ticket in `q`
    // when it waits exclusive for that name alone: a release or a holder's
    // death wakes that waiter first (wake_next), and it takes the name, so
    // we need to wake only when it is gone. The tickets of dead waiters met
    // on the way are dropped from `q` (*changed).
    void note_ahead(const std::string& name, std::vector<WaitTicket>& q, bool* changed);
    // The pid of that waiter, 0 when there is none (we watch the holders).
    int ahead(const std::string& name) const;
    void clear_ahead() { ahead_.clear(); }
    // Removes our ticket from `q`.
    bool leave(std::vector<WaitTicket>& q) const;

    // The ids of the tickets dropped since the last call: their waiters
    // are gone, and so should their bells be (ClaimStore::forget_waiter).
    std::vector<std::string> take_dropped() { return std::exchange(dropped_, {}); }

    bool joins() const { return joins_; }
    // Our ticket, for one name, was enqueued again after it was in the
    // queue: someone dropped it (and its bell) as a gone waiter's.
    bool rejoined() const { return rejoined_; }
    const std::string& id() const { return ticket_.id; }

  private:
    bool joins_;
    bool enqueued_ = false, rejoined_ = false;
    WaitTicket ticket_;
    ProcessProbe probe_;
    std::vector<std::pair<std::string, int>> ahead_;
    std::vector<std::string> dropped_;
};

// Removes this waiter's tickets from the queues of `names` (it gave up).
void leave_queues(ClaimStore& store, const std::vector<std::string>& names,
                  const QueuePlace& place);

// A waiter for this one name, exclusive, listens to its own bell only
// (when it has one): wake_next rings it when it is the one to let in,
// wake_everyone with everyone. The others also listen to the name's bell.
inline bool rung_alone(const WaitTicket& t) {
    return t.alone && t.mode == Mode::Exclusive;
}

// Wakes every waiter for `name` (under `lock`; `q` its queue): the name's
// bell, and the own bells of the waiters that hear nothing else.
void wake_everyone(ClaimStore& store, const std::string& name, const std::vector<WaitTicket>& q);

// How many exclusive waiters at the front of a queue wake_next tries to
// ring, one after the other, before it wakes everyone.
constexpr size_t kWakeNextTries = 4;

// Wakes those a holder leaving `name` (under `lock`) can let in. When the
// oldest waiter waits for this name alone and exclusive, it alone is
// woken: the others would only find the name taken again, and their tries
// (seven waiters, seven lock round trips a release) are what a queue costs
// more than flock(2). Everyone is woken when the oldest waits shared
// (shared waiters are served together) or for several names (it may not
// be able to take this one yet, and others may), when the queue is empty
// or unreadable (it orders, it does not decide), and when none of the
// first kWakeNextTries waiters of that kind listens (gone, another host):
// wake_everyone. Waking too many costs time; waking too few would cost a
// wait.
void wake_next(ClaimStore& store, ClaimLock& lock, const std::string& name);

} // namespace loop
