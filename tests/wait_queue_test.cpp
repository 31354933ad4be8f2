// Fair waiting (core/claims/wait_queue.hpp): waiters are served in the order they
// queued, shared waiters together, and a waiter that leaves or dies leaves
// the queue. Multi-process, with forked waiters.
#include "core/claims/wait_queue.hpp"
#include "os/notify.hpp"
#include "store/file/lock_file.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <map>

using namespace loop;
using namespace loop::test;

namespace {

size_t queue_size(Core& core, const std::string& name) {
    auto lock = core.store.lock({name});
    return lock->queue(name).size();
}

// A child that waits for `name` (up to 20 s) in session `s`, records the
// order in which it got it, keeps it until `release` opens, and releases.
Child waiter(const std::string& home, const SessionRecord& s, Mode mode,
             Shared<std::atomic<int>>& order, std::atomic<int>* my_turn, Gate& release) {
    return fork_child([&home, s, mode, &order, my_turn, &release] {
        Core c(home);
        auto out = c.claims.acquire(s, req({"db"}, mode), 20'000);
        if (!out.acquired) return 1;
        my_turn->store(++*order);
        release.pass();
        c.claims.release(s.id, s.nonce, {"db"}, false);
        return 0;
    });
}

} // namespace

TEST_CASE("wait queue: a torn queue costs fairness only, never exclusion") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    SessionRecord b = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(a, req({"db"})).acquired);
    std::string text = read_text(home.sub("locks/db"));
    REQUIRE(text.size() == kLockHeaderSize);
    write_text(home.sub("locks/db"), text + "1 x 12");
    auto out = core.claims.try_acquire(b, req({"db"}, Mode::Shared));
    CHECK_FALSE(out.acquired);
    REQUIRE(out.blockers.size() == 1);
    CHECK_FALSE(out.blockers[0].waiting);
    core.claims.release(a.id, a.nonce, {"db"}, false);
    CHECK(core.claims.try_acquire(b, req({"db"}, Mode::Shared)).acquired);
}

TEST_CASE("wait queue: a waiting writer goes before later readers, while an earlier one holds") {
    TempDir home;
    Core core(home.path());
    SessionRecord r1 = core.sessions.start({}, ::getpid());
    SessionRecord w = core.sessions.start({}, ::getpid());
    SessionRecord r2 = core.sessions.start({}, ::getpid());
    SessionRecord r3 = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(r1, req({"db"}, Mode::Shared)).acquired);

    struct Turns {
        std::atomic<int> w{0}, r2{0};
    };
    Shared<std::atomic<int>> order;
    Shared<Turns> turns;
    Gate release_w, release_r2;
    Child writer = waiter(home.path(), w, Mode::Exclusive, order, &turns->w, release_w);

    // Once the writer waits, a new shared claim is refused although only
    // shared holders hold: it names the writer.
    REQUIRE(wait_until([&] { return queue_size(core, "db") == 1; }));
    AcquireOutcome refused = core.claims.try_acquire(r3, req({"db"}, Mode::Shared));
    CHECK_FALSE(refused.acquired);
    REQUIRE(refused.blockers.size() == 1);
    CHECK(refused.blockers[0].waiting);
    CHECK(refused.blockers[0].holder.session == w.id);
    CHECK(describe_blocker(refused.blockers[0], os::now_ms()).find("waits for it") !=
          std::string::npos);
    CHECK(queue_size(core, "db") == 1); // an attempt that does not wait never queues

    Child reader = waiter(home.path(), r2, Mode::Shared, order, &turns->r2, release_r2);
    REQUIRE(wait_until([&] { return queue_size(core, "db") == 2; }));
    core.claims.release(r1.id, r1.nonce, {"db"}, false);
    REQUIRE(wait_until([&] { return turns->w.load() != 0; }));
    CHECK(turns->w.load() == 1);
    CHECK(turns->r2.load() == 0);
    release_w.open();
    CHECK(writer.finish() == 0);
    REQUIRE(wait_until([&] { return turns->r2.load() != 0; }));
    CHECK(turns->r2.load() == 2);
    release_r2.open();
    CHECK(reader.finish() == 0);
    CHECK(queue_size(core, "db") == 0);
}

TEST_CASE("wait queue: shared waiters behind shared waiters are served together") {
    TempDir home;
    Core core(home.path());
    SessionRecord x = core.sessions.start({}, ::getpid());
    SessionRecord r1 = core.sessions.start({}, ::getpid());
    SessionRecord r2 = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(x, req({"db"})).acquired);
    struct Turns {
        std::atomic<int> r1{0}, r2{0};
    };
    Shared<std::atomic<int>> order;
    Shared<Turns> turns;
    Gate release;
    Child a = waiter(home.path(), r1, Mode::Shared, order, &turns->r1, release);
    REQUIRE(wait_until([&] { return queue_size(core, "db") == 1; }));
    Child b = waiter(home.path(), r2, Mode::Shared, order, &turns->r2, release);
    REQUIRE(wait_until([&] { return queue_size(core, "db") == 2; }));
    core.claims.release(x.id, x.nonce, {"db"}, false);
    // Both hold at once: neither releases before the gate opens.
    REQUIRE(wait_until([&] { return turns->r1.load() != 0 && turns->r2.load() != 0; }));
    auto rec = core.store.read("db");
    REQUIRE(rec);
    CHECK(rec->holders.size() == 2);
    release.open();
    CHECK(a.finish() == 0);
    CHECK(b.finish() == 0);
}

TEST_CASE("wait queue: a waiter that gives up or dies leaves it, and readers behind it go on") {
    TempDir home;
    Core core(home.path());
    SessionRecord r1 = core.sessions.start({}, ::getpid());
    SessionRecord w = core.sessions.start({}, ::getpid());
    SessionRecord r2 = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(r1, req({"db"}, Mode::Shared)).acquired);

    // --wait 0 never queues; a wait that times out leaves the queue.
    CHECK_FALSE(core.claims.acquire(w, req({"db"}), 0).acquired);
    CHECK(queue_size(core, "db") == 0);
    CHECK_FALSE(core.claims.acquire(w, req({"db"}), 50).acquired);
    CHECK(queue_size(core, "db") == 0);

    // A reader waiting only behind a writer's ticket gets in when the
    // writer is killed.
    Shared<std::atomic<int>> order;
    Shared<std::atomic<int>> turn;
    Gate never, release;
    Child writer = waiter(home.path(), w, Mode::Exclusive, order, &*turn, never);
    REQUIRE(wait_until([&] { return queue_size(core, "db") == 1; }));
    CHECK_FALSE(core.claims.try_acquire(r2, req({"db"}, Mode::Shared)).acquired);
    Shared<std::atomic<int>> reader_turn;
    Child reader = waiter(home.path(), r2, Mode::Shared, order, &*reader_turn, release);
    REQUIRE(wait_until([&] { return queue_size(core, "db") == 2; }));
    writer.kill_and_reap();
    REQUIRE(wait_until([&] { return reader_turn->load() != 0; }));
    CHECK(turn->load() == 0);
    release.open();
    CHECK(reader.finish() == 0);
    CHECK(queue_size(core, "db") == 0);
}

TEST_CASE("wait queue: a holder changing its mode is not queued behind waiters for its name") {
    TempDir home;
    Core core(home.path());
    SessionRecord r1 = core.sessions.start({}, ::getpid());
    SessionRecord w = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(r1, req({"db"}, Mode::Shared)).acquired);
    Shared<std::atomic<int>> order, turn;
    Gate release;
    Child writer = waiter(home.path(), w, Mode::Exclusive, order, &*turn, release);
    REQUIRE(wait_until([&] { return queue_size(core, "db") == 1; }));
    CHECK(core.claims.try_acquire(r1, req({"db"}, Mode::Shared)).granted.at(0).already_held);
    auto up = core.claims.try_acquire(r1, req({"db"}, Mode::Exclusive));
    CHECK(up.acquired);
    core.claims.release(r1.id, r1.nonce, {"db"}, false);
    REQUIRE(wait_until([&] { return turn->load() != 0; }));
    release.open();
    CHECK(writer.finish() == 0);
}

TEST_CASE("wait queue: a writer that comes after a queued reader waits behind it") {
    TempDir home;
    Core core(home.path());
    SessionRecord x = core.sessions.start({}, ::getpid());
    SessionRecord r = core.sessions.start({}, ::getpid());
    SessionRecord w = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(x, req({"db"})).acquired);
    Shared<std::atomic<int>> order, turn;
    Gate release;
    Child reader = waiter(home.path(), r, Mode::Shared, order, &*turn, release);
    REQUIRE(wait_until([&] { return queue_size(core, "db") == 1; }));
    core.claims.release(x.id, x.nonce, {"db"}, false);
    // Until the reader has run, the free name is kept for it; then it holds.
    auto out = core.claims.try_acquire(w, req({"db"}));
    CHECK_FALSE(out.acquired);
    REQUIRE(out.blockers.size() == 1);
    CHECK(out.blockers[0].holder.session == r.id);
    release.open();
    CHECK(reader.finish() == 0);
}

TEST_CASE("wait queue: a release wakes the oldest waiter for the name alone, else everyone") {
    TempDir home;
    Core core(home.path());
    // A name with a fence of this boot (a queue is read only then).
    SessionRecord me = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(me, req({"n"})).acquired);
    const int64_t now = os::now_ms();
    auto ticket = [&](uint64_t seq, Mode mode, bool alone, const std::string& id) {
        WaitTicket t;
        t.seq = seq;
        t.mode = mode;
        t.alone = alone;
        t.pid = ::getpid();
        t.since_ms = t.seen_ms = now;
        t.id = id;
        t.session = "s-" + id;
        return t;
    };
    // Every waiter listens to the name's bell and to its own.
    struct Listener {
        os::ChangeWaiter name, own;
    };
    const std::vector<std::string> ids = {"aaaa", "bbbb", "cccc"};
    std::map<std::string, Listener> ears;
    for (const auto& id : ids) {
        REQUIRE(core.store.listen("n", ears[id].name));
        REQUIRE(core.store.listen_as(id, ears[id].own));
    }
    auto rung = [&](const std::string& id) { // drains what rang
        bool own = ears[id].own.wait(0);
        bool name = ears[id].name.wait(0);
        return std::string(own ? "own" : "") + (name ? "name" : "");
    };
    auto release_with = [&](const std::vector<WaitTicket>& q) {
        auto lock = core.store.lock({"n"});
        lock->set_queue("n", q);
        wake_next(core.store, *lock, "n");
    };
    // The oldest waits exclusive, for "n" alone: it alone is woken.
    release_with(
        {ticket(1, Mode::Exclusive, true, "aaaa"), ticket(2, Mode::Exclusive, true, "bbbb")});
    CHECK(rung("aaaa") == "own");
    CHECK(rung("bbbb").empty());
    CHECK(rung("cccc").empty());
    // Its waiter gone (its bell removed): the next one.
    core.store.forget_waiter("aaaa");
    release_with(
        {ticket(1, Mode::Exclusive, true, "aaaa"), ticket(2, Mode::Exclusive, true, "bbbb")});
    CHECK(rung("bbbb") == "own");
    CHECK(rung("cccc").empty());
    // A ticket nobody refreshed is skipped.
    WaitTicket old = ticket(1, Mode::Exclusive, true, "bbbb");
    old.seen_ms = now - kTicketStaleMs - 1000;
    release_with({old, ticket(2, Mode::Exclusive, true, "cccc")});
    CHECK(rung("cccc") == "own");
    CHECK(rung("bbbb").empty());
    // Everyone: the oldest waits shared, or for several names, or nobody
    // is queued, or no exclusive waiter at the front listens. The name's
    // bell rings, and so does the own bell of a queued waiter for the name
    // alone, exclusive (it hears nothing else: rung_alone).
    struct Everyone {
        std::vector<WaitTicket> q;
        std::string cccc;
    };
    const std::vector<Everyone> everyone = {
        {{ticket(1, Mode::Shared, true, "bbbb"), ticket(2, Mode::Exclusive, true, "cccc")},
         "ownname"},
        {{ticket(1, Mode::Exclusive, false, "bbbb"), ticket(2, Mode::Exclusive, true, "cccc")},
         "ownname"},
        {{ticket(1, Mode::Shared, true, "bbbb"), ticket(2, Mode::Shared, true, "cccc")}, "name"},
        {{}, "name"},
        {{ticket(1, Mode::Exclusive, true, "dddd"), ticket(2, Mode::Exclusive, true, "eeee")},
         "name"}};
    for (const auto& e : everyone) {
        release_with(e.q);
        CHECK(rung("bbbb") == "name");
        CHECK(rung("cccc") == e.cccc);
    }
    // ... but not a ticket nobody refreshed.
    WaitTicket stale = ticket(2, Mode::Exclusive, true, "cccc");
    stale.seen_ms = now - kTicketStaleMs - 1000;
    release_with({ticket(1, Mode::Shared, true, "bbbb"), stale});
    CHECK(rung("bbbb") == "name");
    CHECK(rung("cccc") == "name");
    // A waiter's own bell is a FIFO under wake/ while it listens, gone after.
    CHECK(exists(home.sub("wake/.w-cccc")));
    core.store.forget_waiter("cccc");
    CHECK_FALSE(exists(home.sub("wake/.w-cccc")));
    // The queue text keeps who waits for one name alone.
    auto q = queue_from_text(
        queue_to_text({ticket(1, Mode::Exclusive, true, "x1"), ticket(2, Mode::Shared, true, "x2"),
                       ticket(3, Mode::Exclusive, false, "x3")}));
    REQUIRE(q.size() == 3);
    CHECK(q[0].alone);
    CHECK(q[1].alone);
    CHECK(q[1].mode == Mode::Shared);
    CHECK_FALSE(q[2].alone);
}

TEST_CASE("wait queue: a ticket enqueued again after it was dropped is a rejoin") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    // One name alone: its waiter hears only its own bell, so a rejoin
    // (its bell was dropped with its ticket) makes it listen to the name's.
    QueuePlace alone(true, me, core.sessions.probe(), true);
    std::vector<WaitTicket> q;
    CHECK(alone.enqueue(q, Mode::Exclusive));
    CHECK_FALSE(alone.enqueue(q, Mode::Exclusive)); // still there: nothing to do
    CHECK_FALSE(alone.rejoined());
    q.clear(); // dropped by someone who judged it gone
    CHECK(alone.enqueue(q, Mode::Exclusive));
    CHECK(alone.rejoined());
    // Several names: one ticket in each queue, never a rejoin (its waiter
    // listens to the names' bells anyway).
    QueuePlace several(true, me, core.sessions.probe(), false);
    std::vector<WaitTicket> a, b;
    CHECK(several.enqueue(a, Mode::Exclusive));
    CHECK(several.enqueue(b, Mode::Exclusive));
    CHECK_FALSE(several.rejoined());
    // A with's ticket carries the start time its session recorded.
    REQUIRE(me.anchor);
    CHECK(q.at(0).start_ticks == me.anchor->start_ticks);
    CHECK(q.at(0).pid == me.anchor->pid);
}
