// The filesystem backend: one JSON file per held claim under claims/,
// one flock(2)'ed file per name under locks/ (which also keeps the name's
// last fencing token), one JSON file per session under sessions/, commit
// markers of multi-name acquisitions under txn/, and the contention note
// of a name that was found busy under locks/.contended.NAME, and the
// doorbell (a FIFO, os/bell.hpp) of a name somebody waited for under
// wake/NAME, and a waiter's own doorbell under wake/.w-TICKET while it
// waits.
#pragma once

#include "core/home.hpp"
#include "core/store.hpp"
#include "os/fd.hpp"

#include <vector>

namespace loop {

class FileClaimStore : public ClaimStore {
  public:
    explicit FileClaimStore(Home& home) : home_(home) {}

    std::unique_ptr<ClaimLock> lock(const std::vector<std::string>& names) override;
    std::optional<ClaimRecord> read(const std::string& name) override;
    void write(const ClaimRecord& record) override;
    void erase(const std::string& name) override;
    std::vector<std::string> names() override;

    void commit_txn(const std::string& id, const Anchor& owner) override;
    bool txn_committed(const std::string& id) override;
    std::optional<Anchor> txn_owner(const std::string& id) override;
    void drop_txn(const std::string& id) override;
    std::vector<std::string> txns() override;

    std::vector<std::pair<std::string, ContentionNote>> contention_notes() override;

    std::vector<std::string> watch_paths() override;
    void wake_waiters(const std::string& name) override;
    bool listen(const std::string& name, os::ChangeWaiter& waiter) override;
    bool wake_waiter(const std::string& ticket) override;
    bool listen_as(const std::string& ticket, os::ChangeWaiter& waiter) override;
    void forget_waiter(const std::string& ticket) override;
    size_t reap_waiter_bells(bool dry_run) override;

    // The bells rung while a lock of this store is held, still pressed:
    // they ring when the last such lock is let go of, so that whoever
    // they wake finds the names free instead of waiting for the lock.
    struct PressedBells {
        int locks = 0;
        std::vector<os::Fd> bells;
        // Held by a lock for as long as it lives (declared before what it
        // locks with, so that it goes after it).
        struct Hold {
            explicit Hold(PressedBells& p) : p(p) { ++p.locks; }
            ~Hold() {
                if (--p.locks == 0) p.bells.clear();
            }
            Hold(const Hold&) = delete;
            Hold& operator=(const Hold&) = delete;
            PressedBells& p;
        };
    };

  private:
    bool ring(int dir, const std::string& path);

    Home& home_;
    PressedBells pressed_;
};

class FileSessionRegistry : public SessionRegistry {
  public:
    explicit FileSessionRegistry(Home& home) : home_(home) {}

    std::optional<SessionRecord> read(const std::string& id) override;
    bool create(const SessionRecord& s) override;
    void write(const SessionRecord& s) override;
    void erase(const std::string& id) override;
    std::vector<std::string> ids() override;
    std::optional<int64_t> changed_ms(const std::string& id) override;
    std::unique_ptr<SessionLock> lock() override;
    std::vector<std::string> watch_paths() override;

  private:
    Home& home_;
};

} // namespace loop
