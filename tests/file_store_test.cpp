// The file backend's name locks: what one hold reads and writes.
#include "core/claims/wait_queue.hpp"
#include "core/core.hpp"
#include "store/file/lock_file.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace loop;
using namespace loop::test;

namespace {

WaitTicket ticket(uint64_t seq, const std::string& id) {
    WaitTicket t;
    t.seq = seq;
    t.pid = 4000 + static_cast<int>(seq);
    t.start_ticks = 7;
    t.since_ms = 1000;
    t.seen_ms = 1000;
    t.id = id;
    t.session = "s-" + id;
    return t;
}

std::vector<std::string> ids_of(const std::vector<WaitTicket>& q) {
    std::vector<std::string> out;
    for (const auto& t : q)
        out.push_back(t.id);
    return out;
}

} // namespace

TEST_CASE("file_store: one hold reads a lock file once and sees its own writes") {
    TempDir home;
    Core core(home.path());
    const std::string path = home.path() + "/locks/n";
    uint64_t fence = 0;
    {
        auto lock = core.store.lock({"n"});
        CHECK(lock->queue("n").empty());
        fence = lock->next_fence("n", 0);
        // A long queue, then a shorter one: the tail of the first is gone.
        lock->set_queue("n", {ticket(1, "a"), ticket(2, "b"), ticket(3, "c")});
        CHECK(ids_of(lock->queue("n")) == std::vector<std::string>{"a", "b", "c"});
        lock->set_queue("n", {ticket(3, "c")});
        CHECK(ids_of(lock->queue("n")) == std::vector<std::string>{"c"});
        // The next fence follows the one written in this hold.
        CHECK(lock->next_fence("n", 0) == fence + 1);
        CHECK(ids_of(lock->queue("n")) == std::vector<std::string>{"c"});
        CHECK(read_text(path).size() == kLockHeaderSize + queue_to_text({ticket(3, "c")}).size());
    }
    // What the next hold reads from disk is what the first one saw last.
    auto lock = core.store.lock({"n"});
    CHECK(ids_of(lock->queue("n")) == std::vector<std::string>{"c"});
    CHECK(lock->next_fence("n", 0) == fence + 2);
    lock->set_queue("n", {});
    CHECK(lock->queue("n").empty());
    CHECK(read_text(path).size() == kLockHeaderSize);
}

TEST_CASE("file_store: a bell rung under a lock rings once every lock is let go of") {
    TempDir home;
    Core core(home.path());
    os::ChangeWaiter name_bell, own_bell;
    REQUIRE(core.store.listen("n", name_bell));
    REQUIRE(core.store.listen_as("t1", own_bell));
    {
        auto lock = core.store.lock({"n"});
        {
            auto other = core.store.lock({"m"});
            core.store.wake_waiters("n");
            // It had a listener (the answer wake_next goes by), and has
            // not rung yet.
            CHECK(core.store.wake_waiter("t1"));
        }
        // The lock of "n" is still held: nothing rang.
        CHECK_FALSE(name_bell.wait(0));
        CHECK_FALSE(own_bell.wait(0));
    }
    CHECK(name_bell.wait(0));
    CHECK(own_bell.wait(0));
    // Without a lock, a ring is at once; a bell nobody listens to is not rung.
    core.store.wake_waiters("n");
    CHECK(name_bell.wait(0));
    CHECK_FALSE(core.store.wake_waiter("t2"));
    core.store.forget_waiter("t1");
}

TEST_CASE("file_store: a bell its waiter listens to again itself stays silent until it does") {
    TempDir home;
    Core core(home.path());
    os::ChangeWaiter waiter;
    waiter.listen_again_by_caller();
    REQUIRE(core.store.listen_as("t1", waiter));
    CHECK(core.store.wake_waiter("t1"));
    CHECK(waiter.wait(0));
    // Rung: nobody listens now, so a waker goes to the next waiter.
    CHECK_FALSE(core.store.wake_waiter("t1"));
    CHECK_FALSE(waiter.wait(0));
    // Listening again (what a busy try does under the name's lock).
    REQUIRE(core.store.listen_as("t1", waiter));
    CHECK(core.store.wake_waiter("t1"));
    CHECK(waiter.wait(0));
    core.store.forget_waiter("t1");
}
