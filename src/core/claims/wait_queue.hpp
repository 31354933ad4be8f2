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

#include "core/records.hpp"
#include "core/sessions/liveness.hpp"
#include "core/store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace loop {

// The queue text: one ticket a line,
// "SEQ MODE PID START_TICKS SINCE_MS SEEN_MS ID SESSION" (MODE: x or s).
std::string queue_to_text(const std::vector<WaitTicket>& q);
// Empty when any line is malformed (a torn queue is dropped whole).
std::vector<WaitTicket> queue_from_text(const std::string& text);

// A ticket not refreshed for this long is dropped, whatever its process
// looks like (a waiter stopped, or in a pid namespace we cannot see).
constexpr int64_t kTicketStaleMs = 60'000;
// A waiter refreshes its ticket when it is older than this.
constexpr int64_t kTicketRefreshMs = 10'000;

// One acquisition's place in the wait queues of its names. Without `joins`
// (an attempt that does not wait) it only looks at the queues.
class QueuePlace {
  public:
    QueuePlace(bool joins, const SessionRecord& me, const ProcessProbe& probe);

    // The queue of `name` without the tickets nobody refreshed for too
    // long; *changed when any was dropped (or ours refreshed).
    std::vector<WaitTicket> live_queue(ClaimLock& lock, const std::string& name, bool* changed);

    // The first ticket ahead of ours (of all of them when we have none) of
    // the other mode than `mode` whose waiter lives; the tickets
    // of dead waiters met on the way are dropped from `q` (*changed).
    std::optional<WaitTicket> first_conflicting_ahead(std::vector<WaitTicket>& q, Mode mode,
                                                      bool* changed) const;

    // Adds our ticket to `q` unless it is there (only when joining).
    bool enqueue(std::vector<WaitTicket>& q, Mode mode);
    // Removes our ticket from `q`.
    bool leave(std::vector<WaitTicket>& q) const;

    bool joins() const { return joins_; }
    const std::string& id() const { return ticket_.id; }

  private:
    bool joins_;
    WaitTicket ticket_;
    ProcessProbe probe_;
};

// Removes this waiter's tickets from the queues of `names` (it gave up).
void leave_queues(ClaimStore& store, const std::vector<std::string>& names,
                  const QueuePlace& place);

} // namespace loop
