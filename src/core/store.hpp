// Where claims and sessions are kept. The policy (who may hold what, when
// a holder is stale) lives in Claims and Sessions; a backend only stores
// records and serialises changes per name. FileClaimStore and
// FileSessionRegistry keep them under the home directory; another backend
// (Redis, for fleets spanning machines) implements the same interfaces.
#pragma once

#include "core/claims/contention.hpp"
#include "core/records.hpp"
#include "os/notify.hpp"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace loop {

// Held while a set of claim names is being changed. Every change of a
// claim record happens under this lock, so decisions made under it cannot
// be invalidated by another process. A crashed holder's lock is released.
class ClaimLock {
  public:
    virtual ~ClaimLock() = default;
    // The next fencing token for `name` (which this lock covers): strictly
    // greater than every token ever handed out for it, and than `above`
    // (the fences in its current record), also after a power loss or a
    // lost counter. Error(Failure) when the counter is corrupt.
    virtual uint64_t next_fence(const std::string& name, uint64_t above = 0) = 0;

    // The wait queue of `name` (core/claims/wait_queue.hpp), oldest first; empty
    // when there is none or it cannot be read.
    virtual std::vector<WaitTicket> queue(const std::string& name) = 0;
    // Replaces it.
    virtual void set_queue(const std::string& name, const std::vector<WaitTicket>& q) = 0;

    // The contention note of `name` (core/claims/contention.hpp), nullopt when
    // there is none or it cannot be read. A backend that keeps none has
    // every busy try logged.
    virtual std::optional<ContentionNote> contention(const std::string& /*name*/) {
        return std::nullopt;
    }
    // Replaces it; false when it was not written (then the try is logged).
    virtual bool set_contention(const std::string& /*name*/, const ContentionNote& /*note*/) {
        return false;
    }
};

class ClaimStore {
  public:
    virtual ~ClaimStore() = default;

    // Locks `names` (sorted, unique: the order makes it deadlock-free).
    virtual std::unique_ptr<ClaimLock> lock(const std::vector<std::string>& names) = 0;

    // The record of `name`, nullopt when nobody holds it. Throws
    // Error(Failure) when it exists but cannot be read or parsed.
    virtual std::optional<ClaimRecord> read(const std::string& name) = 0;
    // Atomically replaces (or creates) the record. Requires the lock.
    virtual void write(const ClaimRecord& record) = 0;
    // Removes the record. Requires the lock.
    virtual void erase(const std::string& name) = 0;
    // Names that currently have a record.
    virtual std::vector<std::string> names() = 0;

    // Commit markers of multi-name acquisitions: the acquisition is
    // complete once its marker exists. `owner` is the acquiring process.
    virtual void commit_txn(const std::string& id, const Anchor& owner) = 0;
    virtual bool txn_committed(const std::string& id) = 0;
    virtual std::optional<Anchor> txn_owner(const std::string& id) = 0;
    virtual void drop_txn(const std::string& id) = 0;
    virtual std::vector<std::string> txns() = 0;

    // Every readable contention note, by name, for the metrics.
    virtual std::vector<std::pair<std::string, ContentionNote>> contention_notes() { return {}; }

    // Directories whose entries change with the records, for a watcher
    // that runs long (inotify; empty: none).
    virtual std::vector<std::string> watch_paths() = 0;

    // Wakes whoever listens to `name`'s bell (listen). Called, under the
    // name's lock, when a holder or a waiter left it and more than one
    // waiter may get in (wait_queue.hpp: wake_everyone); cheap when nobody
    // waits.
    virtual void wake_waiters(const std::string& name) = 0;
    // Makes `waiter` wake when wake_waiters(name) runs. False when that
    // cannot be arranged: the caller then re-checks often.
    virtual bool listen(const std::string& name, os::ChangeWaiter& waiter) = 0;

    // One waiter's own bell, by the id of its wait ticket (a release wakes
    // the one waiter it can let in: wait_queue.hpp, wake_next). True when
    // that waiter listened; false when nobody did (it is gone, on another
    // host) or this store rings no waiter alone: the caller then wakes all.
    virtual bool wake_waiter(const std::string& /*ticket*/) { return false; }
    // Makes `waiter` wake when wake_waiter(ticket) runs; false when that
    // cannot be arranged (the name's bell still wakes it).
    virtual bool listen_as(const std::string& /*ticket*/, os::ChangeWaiter& /*waiter*/) {
        return false;
    }
    // Removes what listen_as made: the waiter got its names or gave up,
    // or its ticket was dropped from a queue as dead.
    virtual void forget_waiter(const std::string& /*ticket*/) {}
    // Removes what listen_as made for waiters that are gone without
    // forget_waiter (killed): the bells nobody listens to, made more than
    // kTicketStaleMs ago (wait_queue.hpp). Returns how many (a dry run
    // only counts them).
    virtual size_t reap_waiter_bells(bool /*dry_run*/) { return 0; }
};

// Serialises changes to session records (heartbeat, end, removal).
class SessionLock {
  public:
    virtual ~SessionLock() = default;
};

class SessionRegistry {
  public:
    virtual ~SessionRegistry() = default;

    // nullopt when unknown; throws Error(Failure) when unreadable.
    virtual std::optional<SessionRecord> read(const std::string& id) = 0;
    // Creates the record; false when the id is taken.
    virtual bool create(const SessionRecord& s) = 0;
    // Replaces the record. Requires the lock.
    virtual void write(const SessionRecord& s) = 0;
    virtual void erase(const std::string& id) = 0;
    virtual std::vector<std::string> ids() = 0;
    // When the record last changed (epoch ms), for retention.
    virtual std::optional<int64_t> changed_ms(const std::string& id) = 0;
    virtual std::unique_ptr<SessionLock> lock() = 0;
    virtual std::vector<std::string> watch_paths() = 0;
};

} // namespace loop
