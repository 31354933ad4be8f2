// Claim policy: acquisition, fences, modes, several names, TTL, release,
// and every race that must be impossible (SPEC section 3), each made
// deterministic with forked processes, a start gate and injected faults.
#include "core/claims/wait_queue.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "store/file/lock_file.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <map>
#include <set>

using namespace loop;
using namespace loop::test;

namespace {

// The holder of `name` that belongs to `s`, if any.
std::optional<Holder> holder_of(Core& core, const std::string& name, const SessionRecord& s) {
    auto rec = core.store.read(name);
    if (!rec) return std::nullopt;
    for (const auto& h : rec->holders)
        if (h.session == s.id && h.nonce == s.nonce) return h;
    return std::nullopt;
}

Exit code_of_call(auto&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.code();
    }
    return Exit::Ok;
}

int count_events(const std::string& home, const std::string& event) {
    int n = 0;
    for (const auto& line : lines_of(read_text(home + "/events.jsonl"))) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("event", "") == event) ++n;
    }
    return n;
}

// The waited_ms of the last claim.acquired event (-1 when none).
int64_t last_waited_ms(const std::string& home) {
    int64_t waited = -1;
    for (const auto& line : lines_of(read_text(home + "/events.jsonl"))) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("event", "") == "claim.acquired")
            waited = j.value("waited_ms", int64_t{-1});
    }
    return waited;
}

// A waiter that missed its wake-up finds out at its periodic re-check,
// 2 s after it started to wait: well above this bound.
constexpr int64_t kWokeWithin = 1500;

} // namespace

// Basics.

TEST_CASE("claim: first claim, idempotent re-claim, release, claim again") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());

    auto first = core.claims.try_acquire(me, req({"repo-x"}));
    REQUIRE(first.acquired);
    REQUIRE(first.granted.size() == 1);
    CHECK_FALSE(first.granted[0].already_held);
    const uint64_t f1 = first.granted[0].holder.fence;
    CHECK(f1 >= 1);
    CHECK(first.granted[0].holder.txn.empty());
    auto h = holder_of(core, "repo-x", me);
    REQUIRE(h);
    CHECK(h->fence == f1);
    CHECK(h->pid == ::getpid());

    // Re-claim by the holder: success, same fence, nothing new.
    for (int i = 0; i < 3; ++i) {
        auto again = core.claims.try_acquire(me, req({"repo-x"}));
        REQUIRE(again.acquired);
        CHECK(again.granted[0].already_held);
        CHECK(again.granted[0].holder.fence == f1);
    }
    CHECK(holder_of(core, "repo-x", me)->fence == f1);
    CHECK(count_events(home.path(), "claim.acquired") == 1);

    CHECK(core.claims.release(me.id, me.nonce, {"repo-x"}, false) ==
          std::vector<std::string>{"repo-x"});
    CHECK_FALSE(core.store.read("repo-x"));
    // Releasing what is not held: nothing to do, no error.
    CHECK(core.claims.release(me.id, me.nonce, {"repo-x"}, false).empty());

    auto second = core.claims.try_acquire(me, req({"repo-x"}));
    REQUIRE(second.acquired);
    CHECK(second.granted[0].holder.fence > f1);
}

TEST_CASE("claim: bad names are refused before anything is written") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    const std::vector<std::vector<std::string>> cases = {{"ok", "../escape"},
                                                         {"a//b"},
                                                         {""},
                                                         {".lock"},
                                                         {"-x"},
                                                         {"ok", std::string(201, 'x')},
                                                         {std::string("n\0ul", 4)},
                                                         {"/abs"},
                                                         {"x/../escape"},
                                                         {"a/"},
                                                         {"a/.b"},
                                                         {}};
    for (const auto& names : cases) {
        CHECK(code_of_call([&] { core.claims.try_acquire(me, req(names)); }) == Exit::Usage);
        CHECK(code_of_call([&] { core.claims.release(me.id, me.nonce, names, false); }) ==
              Exit::Usage);
    }
    CHECK(list_dir(home.sub("claims")).empty());
    CHECK(list_dir(home.sub("locks")).empty());
    CHECK_FALSE(exists(home.sub("escape")));
}

TEST_CASE("claim: a name with '/' is one file, and one doorbell its release rings") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(me, req({"repo-x/issue-42"})).acquired);
    CHECK(list_dir(home.sub("claims")) == std::vector<std::string>{"repo-x%issue-42"});
    CHECK(core.store.names() == std::vector<std::string>{"repo-x/issue-42"});
    // A waiter listens to the name's bell, a FIFO under wake/.
    os::ChangeWaiter waiter;
    REQUIRE(core.store.listen("repo-x/issue-42", waiter));
    CHECK(list_dir(home.sub("wake")) == std::vector<std::string>{"repo-x%issue-42"});
    struct stat st;
    REQUIRE(::lstat(home.sub("wake/repo-x%issue-42").c_str(), &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
    CHECK_FALSE(waiter.wait(0)); // nothing rang yet
    core.claims.renew(me, {"repo-x/issue-42"}, 60'000);
    CHECK_FALSE(waiter.wait(0)); // a renewal lets nobody in
    CHECK(core.claims.release(me.id, me.nonce, {"repo-x/issue-42"}, false).size() == 1);
    CHECK(waiter.wait(0));       // rang before the wait began: not lost
    CHECK_FALSE(waiter.wait(0)); // listening again, until the next ring
    CHECK_FALSE(exists(home.sub("claims/repo-x%issue-42")));
    CHECK_FALSE(exists(home.sub("claims/repo-x")));
}

TEST_CASE("claim: a release, a session's end, a reap and a waiter leaving ring the name's bell") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    auto listener = [&](const std::string& name) {
        auto w = std::make_unique<os::ChangeWaiter>();
        REQUIRE(core.store.listen(name, *w));
        CHECK_FALSE(w->wait(0));
        return w;
    };
    // A shared holder that leaves, while another stays.
    SessionRecord other = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(me, req({"s"}, Mode::Shared)).acquired);
    REQUIRE(core.claims.try_acquire(other, req({"s"}, Mode::Shared)).acquired);
    auto w = listener("s");
    CHECK(core.claims.release(me.id, me.nonce, {"s"}, false).size() == 1);
    CHECK(w->wait(0));
    // A forced release.
    w = listener("s");
    CHECK(core.claims.release(me.id, me.nonce, {"s"}, true).size() == 1);
    CHECK(w->wait(0));
    // The end of a session.
    REQUIRE(core.claims.try_acquire(me, req({"e"})).acquired);
    w = listener("e");
    CHECK(core.claims.release_session(me.id, "claim.released").size() == 1);
    CHECK(w->wait(0));
    // A reap of a dead holder; a reap that finds nothing stale rings nothing.
    dead_session(home.path(), {"d"});
    w = listener("d");
    CHECK(core.claims.reap_name("d", false, nullptr).size() == 1);
    CHECK(w->wait(0));
    REQUIRE(core.claims.try_acquire(me, req({"d"})).acquired);
    w = listener("d");
    CHECK(core.claims.reap_name("d", false, nullptr).empty());
    CHECK_FALSE(w->wait(0));
    // A waiter that leaves the queue (it gave up) lets those behind it in.
    REQUIRE(core.claims.try_acquire(other, req({"q"})).acquired);
    QueuePlace place(true, me, core.sessions.probe());
    {
        auto lock = core.store.lock({"q"});
        auto q = lock->queue("q");
        REQUIRE(place.enqueue(q, Mode::Exclusive));
        lock->set_queue("q", q);
    }
    // Behind it, a waiter for "q" alone, exclusive, which hears only its
    // own bell (wait_queue.hpp, rung_alone): its bell rings too.
    QueuePlace behind(true, other, core.sessions.probe(), true);
    {
        auto lock = core.store.lock({"q"});
        auto q = lock->queue("q");
        REQUIRE(behind.enqueue(q, Mode::Exclusive));
        lock->set_queue("q", q);
    }
    os::ChangeWaiter own;
    REQUIRE(core.store.listen_as(behind.id(), own));
    w = listener("q");
    leave_queues(core.store, {"q"}, place);
    CHECK(w->wait(0));
    CHECK(own.wait(0));
    core.store.forget_waiter(behind.id());
}

TEST_CASE("fences strictly increase across release, reap, take-over and restart") {
    TempDir home;
    uint64_t last = 0;
    auto bump = [&](uint64_t f) {
        CHECK(f > last);
        last = f;
    };
    {
        Core core(home.path());
        SessionRecord me = core.sessions.start({}, ::getpid());
        for (int i = 0; i < 5; ++i) {
            auto out = core.claims.try_acquire(me, req({"x"}));
            REQUIRE(out.acquired);
            bump(out.granted[0].holder.fence);
            core.claims.release(me.id, me.nonce, {"x"}, false);
        }
    }
    {
        // Held by a session that dies; the reaper removes it.
        HoldingChild dead(home.path(), {"x"});
        REQUIRE(dead.acquired);
        bump(dead.fences[0]);
        dead.kill();
        Core core(home.path());
        auto report = core.reaper.run(false);
        REQUIRE(report.claims.size() == 1);
        CHECK(report.claims[0].holder.fence == last);
        CHECK_FALSE(core.store.read("x"));
        SessionRecord me = core.sessions.start({}, ::getpid());
        auto out = core.claims.try_acquire(me, req({"x"}));
        REQUIRE(out.acquired);
        bump(out.granted[0].holder.fence);
        core.claims.release(me.id, me.nonce, {"x"}, false);
    }
    {
        // Taken over from a dead holder without a reap in between.
        HoldingChild dead(home.path(), {"x"});
        REQUIRE(dead.acquired);
        bump(dead.fences[0]);
        REQUIRE(dead.exit() == 0);
        Core core(home.path());
        SessionRecord me = core.sessions.start({}, ::getpid());
        auto out = core.claims.try_acquire(me, req({"x"}));
        REQUIRE(out.acquired);
        bump(out.granted[0].holder.fence);
    }
    {
        // A new Core over the same home (a restart) continues the sequence,
        // also after every claim file is gone.
        Core core(home.path());
        SessionRecord me = core.sessions.start({}, ::getpid());
        core.claims.release_session(core.store.read("x")->holders[0].session);
        CHECK_FALSE(core.store.read("x"));
        auto out = core.claims.try_acquire(me, req({"x"}));
        REQUIRE(out.acquired);
        bump(out.granted[0].holder.fence);
    }
    // Other names have their own sequence.
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    auto y = core.claims.try_acquire(me, req({"y"}));
    REQUIRE(y.acquired);
    CHECK(y.granted[0].holder.fence >= 1);
}

TEST_CASE("shared and exclusive exclude each other") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    SessionRecord b = core.sessions.start({}, ::getpid());
    SessionRecord c = core.sessions.start({}, ::getpid());

    SUBCASE("any number of shared holders, no exclusive one") {
        auto ra = core.claims.try_acquire(a, req({"db"}, Mode::Shared));
        auto rb = core.claims.try_acquire(b, req({"db"}, Mode::Shared));
        REQUIRE(ra.acquired);
        REQUIRE(rb.acquired);
        CHECK(rb.granted[0].holder.fence > ra.granted[0].holder.fence);
        auto rec = core.store.read("db");
        REQUIRE(rec);
        CHECK(rec->mode == Mode::Shared);
        CHECK(rec->holders.size() == 2);

        auto rc = core.claims.try_acquire(c, req({"db"}, Mode::Exclusive));
        CHECK_FALSE(rc.acquired);
        CHECK(rc.blockers.size() == 2);
        CHECK(core.store.read("db")->holders.size() == 2);

        // A shared holder asking for exclusive is blocked by the other.
        auto up = core.claims.try_acquire(a, req({"db"}, Mode::Exclusive));
        CHECK_FALSE(up.acquired);
        REQUIRE(up.blockers.size() == 1);
        CHECK(up.blockers[0].holder.session == b.id);

        // One shared holder leaves: the other keeps it.
        core.claims.release(a.id, a.nonce, {"db"}, false);
        rec = core.store.read("db");
        REQUIRE(rec);
        REQUIRE(rec->holders.size() == 1);
        CHECK(rec->holders[0].session == b.id);
        CHECK(rec->holders[0].fence == rb.granted[0].holder.fence);

        // The last shared holder upgrades to exclusive: a new acquisition.
        auto up2 = core.claims.try_acquire(b, req({"db"}, Mode::Exclusive));
        REQUIRE(up2.acquired);
        CHECK(up2.granted[0].holder.fence > rb.granted[0].holder.fence);
        rec = core.store.read("db");
        CHECK(rec->mode == Mode::Exclusive);
        CHECK(rec->holders.size() == 1);
    }
    SUBCASE("an exclusive holder blocks shared claimers") {
        auto ra = core.claims.try_acquire(a, req({"db"}, Mode::Exclusive));
        REQUIRE(ra.acquired);
        auto rb = core.claims.try_acquire(b, req({"db"}, Mode::Shared));
        CHECK_FALSE(rb.acquired);
        REQUIRE(rb.blockers.size() == 1);
        CHECK(rb.blockers[0].holder.session == a.id);
        CHECK(rb.blockers[0].verdict.life == Life::Alive);
        // The exclusive holder asking for shared keeps what it has.
        auto again = core.claims.try_acquire(a, req({"db"}, Mode::Shared));
        REQUIRE(again.acquired);
        CHECK(again.granted[0].already_held);
        CHECK(again.granted[0].holder.fence == ra.granted[0].holder.fence);
        CHECK(core.store.read("db")->mode == Mode::Exclusive);
    }
    SUBCASE("a dead shared holder does not block an exclusive claimer") {
        HoldingChild dead(home.path(), {"db"}, Mode::Shared);
        REQUIRE(dead.acquired);
        auto ra = core.claims.try_acquire(a, req({"db"}, Mode::Shared));
        REQUIRE(ra.acquired);
        CHECK(core.store.read("db")->holders.size() == 2);
        dead.kill();
        // Still blocked by the live shared holder a...
        CHECK_FALSE(core.claims.try_acquire(b, req({"db"})).acquired);
        core.claims.release(a.id, a.nonce, {"db"}, false);
        // ...and free once only the dead one is left.
        auto rb = core.claims.try_acquire(b, req({"db"}));
        REQUIRE(rb.acquired);
        auto rec = core.store.read("db");
        REQUIRE(rec->holders.size() == 1);
        CHECK(rec->holders[0].session == b.id);
    }
}

TEST_CASE("mixed modes: shared_names are taken shared, the others exclusive, in one call") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    SessionRecord b = core.sessions.start({}, ::getpid());
    AcquireRequest ra = req({"item-1", "repo"}, Mode::Exclusive);
    ra.shared_names = {"repo"};
    auto ga = core.claims.try_acquire(a, ra);
    REQUIRE(ga.acquired);
    REQUIRE(ga.granted.size() == 2);
    for (const auto& g : ga.granted)
        CHECK(g.mode == (g.name == "repo" ? Mode::Shared : Mode::Exclusive));
    CHECK(core.store.read("item-1")->mode == Mode::Exclusive);
    CHECK(core.store.read("repo")->mode == Mode::Shared);
    // The repo is shared with the next item; the taken item keeps all out.
    AcquireRequest rb = req({"item-2", "repo"}, Mode::Exclusive);
    rb.shared_names = {"repo"};
    REQUIRE(core.claims.try_acquire(b, rb).acquired);
    CHECK(core.store.read("repo")->holders.size() == 2);
    AcquireRequest rc = req({"item-1", "item-3", "repo"}, Mode::Exclusive);
    rc.shared_names = {"repo"};
    CHECK_FALSE(core.claims.try_acquire(b, rc).acquired);
    CHECK_FALSE(core.store.read("item-3"));
}

TEST_CASE("acquire: on_held runs once, with every name held, before the grant is logged") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    SessionRecord other = core.sessions.start({}, ::getpid());
    int calls = 0;
    std::vector<Granted> seen;
    AcquireRequest r = req({"b", "a"});
    r.on_held = [&](const std::vector<Granted>& granted) {
        ++calls;
        seen = granted;
        CHECK(exists(home.sub("claims/a")));
        CHECK(exists(home.sub("claims/b")));
        if (calls == 1)
            CHECK(read_text(home.sub("events.jsonl")).find("claim.acquired") == std::string::npos);
    };
    AcquireOutcome out = core.claims.acquire(me, r, 0);
    REQUIRE(out.acquired);
    CHECK(calls == 1);
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].name == "a");
    CHECK(seen[1].name == "b");
    CHECK(seen[0].holder.fence == out.granted[0].holder.fence);
    CHECK(seen[0].holder.txn.empty());
    CHECK(read_text(home.sub("events.jsonl")).find("claim.acquired") != std::string::npos);
    // Held already: called again, for the names as they are.
    CHECK(core.claims.acquire(me, r, 0).acquired);
    CHECK(calls == 2);
    CHECK(seen[0].already_held);
    // Busy: never called.
    AcquireRequest busy = req({"a"});
    busy.on_held = [&](const std::vector<Granted>&) { ++calls; };
    CHECK_FALSE(core.claims.acquire(other, busy, 0).acquired);
    CHECK(calls == 2);
}

TEST_CASE("several names are all-or-nothing") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    SessionRecord b = core.sessions.start({}, ::getpid());

    REQUIRE(core.claims.try_acquire(b, req({"m"})).acquired);
    auto out = core.claims.try_acquire(a, req({"z", "m", "a"}));
    CHECK_FALSE(out.acquired);
    REQUIRE(out.blockers.size() == 1);
    CHECK(out.blockers[0].name == "m");
    CHECK(out.granted.empty());
    CHECK_FALSE(core.store.read("a"));
    CHECK_FALSE(core.store.read("z"));
    CHECK(core.store.read("m")->holders[0].session == b.id);
    CHECK(list_dir(home.sub("claims")) == std::vector<std::string>{"m"});

    core.claims.release(b.id, b.nonce, {"m"}, false);
    out = core.claims.try_acquire(a, req({"z", "m", "a", "m"}));
    REQUIRE(out.acquired);
    REQUIRE(out.granted.size() == 3);
    CHECK(out.granted[0].name == "a");
    CHECK(out.granted[1].name == "m");
    CHECK(out.granted[2].name == "z");
    for (const char* n : {"a", "m", "z"}) {
        auto h = holder_of(core, n, a);
        REQUIRE(h);
        CHECK(h->txn.empty()); // the commit marker reference is cleaned up
    }
    CHECK(list_dir(home.sub("txn")).empty());

    // Partly held by me already: the rest is added, mine keep their fence.
    const uint64_t fm = holder_of(core, "m", a)->fence;
    auto more = core.claims.try_acquire(a, req({"m", "n"}));
    REQUIRE(more.acquired);
    CHECK(more.granted[0].already_held);
    CHECK(more.granted[0].holder.fence == fm);
    CHECK_FALSE(more.granted[1].already_held);
    REQUIRE(holder_of(core, "n", a));

    // Released together.
    auto rel = core.claims.release(a.id, a.nonce, {"a", "m", "n", "z"}, false);
    CHECK(rel.size() == 4);
    CHECK(list_dir(home.sub("claims")).empty());
}

TEST_CASE("several names: one busy name leaves none behind, even among stale ones") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    SessionRecord b = core.sessions.start({}, ::getpid());
    // "s1" and "s2" are held by a dead session, "busy" by a live one.
    SessionRecord dead = dead_session(home.path(), {"s1", "s2"});
    REQUIRE(core.claims.try_acquire(b, req({"busy"})).acquired);
    auto out = core.claims.try_acquire(a, req({"s1", "busy", "s2", "free"}));
    CHECK_FALSE(out.acquired);
    CHECK_FALSE(holder_of(core, "s1", a));
    CHECK_FALSE(holder_of(core, "s2", a));
    CHECK_FALSE(core.store.read("free"));
    // The stale records were not touched either (reaping is not a side
    // effect of a failed claim).
    CHECK(core.store.read("s1")->holders[0].session == dead.id);
    CHECK(core.store.read("s2")->holders[0].session == dead.id);
}

TEST_CASE("renew extends the TTL of a claim one holds, and only that") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    SessionRecord b = core.sessions.start({}, ::getpid());

    auto out = core.claims.try_acquire(a, req({"x"}, Mode::Exclusive, 10'000));
    REQUIRE(out.acquired);
    const Holder h0 = out.granted[0].holder;
    CHECK(h0.ttl_ms == 10'000);
    CHECK(h0.expires_ms == h0.acquired_ms + 10'000);

    auto r1 = core.claims.renew(a, {"x"}, 60'000);
    REQUIRE(r1.size() == 1);
    CHECK(r1[0].holder.ttl_ms == 60'000);
    CHECK(r1[0].holder.expires_ms >= h0.expires_ms + 50'000);
    CHECK(r1[0].holder.fence == h0.fence); // renewing is not acquiring
    CHECK(holder_of(core, "x", a)->expires_ms == r1[0].holder.expires_ms);

    // Without a TTL: the claim's own.
    auto r2 = core.claims.renew(a, {"x"}, 0);
    CHECK(r2[0].holder.ttl_ms == 60'000);

    // Not held by b; not held at all.
    CHECK(code_of_call([&] { core.claims.renew(b, {"x"}, 1'000); }) == Exit::Busy);
    CHECK(code_of_call([&] { core.claims.renew(a, {"nothing"}, 1'000); }) == Exit::Busy);
    // One of several not held: nothing is renewed.
    const int64_t before = holder_of(core, "x", a)->expires_ms;
    CHECK(code_of_call([&] { core.claims.renew(a, {"x", "nothing"}, 3'600'000); }) == Exit::Busy);
    CHECK(holder_of(core, "x", a)->expires_ms == before);

    // Re-claiming with a TTL also renews, without a new fence.
    auto again = core.claims.try_acquire(a, req({"x"}, Mode::Exclusive, 120'000));
    REQUIRE(again.acquired);
    CHECK(again.granted[0].already_held);
    CHECK(again.granted[0].holder.fence == h0.fence);
    CHECK(holder_of(core, "x", a)->ttl_ms == 120'000);
}

TEST_CASE("renew of an expired claim is refused") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(a, req({"x"}, Mode::Exclusive, 30)).acquired);
    sleep_ms(60);
    CHECK(code_of_call([&] { core.claims.renew(a, {"x"}, 10'000); }) == Exit::Busy);
}

TEST_CASE("release: only the holder, or --force (recorded)") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    SessionRecord b = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(a, req({"x"})).acquired);
    const std::string before = read_text(home.sub("claims/x"));

    try {
        core.claims.release(b.id, b.nonce, {"x"}, false);
        FAIL("released another session's claim");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Busy);
        CHECK(e.message().find(a.id) != std::string::npos);
        CHECK(e.message().find("--force") != std::string::npos);
    }
    CHECK(read_text(home.sub("claims/x")) == before);

    // The same id with another nonce (an earlier incarnation) is not the holder.
    CHECK(code_of_call([&] { core.claims.release(a.id, "0000000000000000", {"x"}, false); }) ==
          Exit::Busy);
    CHECK(read_text(home.sub("claims/x")) == before);

    // One of several held by another: nothing is released.
    REQUIRE(core.claims.try_acquire(b, req({"y"})).acquired);
    CHECK(code_of_call([&] {
              core.claims.release(b.id, b.nonce, {"x", "y"}, false);
          }) == Exit::Busy);
    CHECK(holder_of(core, "y", b));

    CHECK(count_events(home.path(), "claim.forced") == 0);
    CHECK(core.claims.release(b.id, b.nonce, {"x"}, true) == std::vector<std::string>{"x"});
    CHECK_FALSE(core.store.read("x"));
    CHECK(count_events(home.path(), "claim.forced") == 1);
}

TEST_CASE("release_session releases every claim of a session and nothing else") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    SessionRecord b = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(a, req({"x", "y"})).acquired);
    REQUIRE(core.claims.try_acquire(a, req({"s"}, Mode::Shared)).acquired);
    REQUIRE(core.claims.try_acquire(b, req({"s"}, Mode::Shared)).acquired);
    REQUIRE(core.claims.try_acquire(b, req({"z"})).acquired);
    auto rel = core.claims.release_session(a.id);
    std::sort(rel.begin(), rel.end());
    CHECK(rel == std::vector<std::string>{"s", "x", "y"});
    CHECK(list_dir(home.sub("claims")) == std::vector<std::string>{"s", "z"});
    auto s = core.store.read("s");
    REQUIRE(s->holders.size() == 1);
    CHECK(s->holders[0].session == b.id);
}

TEST_CASE("an interrupted multi-name acquisition is stale under the lock, a committed one is not") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    SessionRecord other = core.sessions.start({}, ::getpid());

    // What a claimer killed between writing its records and the commit
    // marker leaves behind: holders of a live session with a txn id whose
    // marker does not exist.
    auto lock = core.store.lock({"a", "b"});
    for (const char* n : {"a", "b"}) {
        Holder h;
        h.session = me.id;
        h.nonce = me.nonce;
        h.pid = ::getpid();
        h.fence = lock->next_fence(n);
        h.acquired_ms = os::now_ms();
        h.txn = "t999999-00000000deadbeef";
        core.store.write({n, Mode::Exclusive, {h}});
    }
    lock.reset();

    Holder ha = core.store.read("a")->holders[0];
    CHECK(core.claims.holder_verdict(ha, true, nullptr).life == Life::Dead);
    // Without the lock, an acquisition may still be in progress: not dead.
    CHECK(core.claims.holder_verdict(ha, false, nullptr).life != Life::Dead);

    // Another session takes "a" over.
    auto out = core.claims.try_acquire(other, req({"a"}));
    REQUIRE(out.acquired);
    CHECK(out.granted[0].holder.fence > ha.fence);
    // The reaper removes "b".
    auto report = core.reaper.run(false);
    REQUIRE(report.claims.size() == 1);
    CHECK(report.claims[0].name == "b");
    CHECK_FALSE(core.store.read("b"));
    CHECK(holder_of(core, "a", other));

    // With its marker present the same kind of holder is valid, and the
    // reaper only drops the reference once the marker's owner is gone.
    {
        auto l2 = core.store.lock({"c"});
        Holder h;
        h.session = me.id;
        h.nonce = me.nonce;
        h.fence = l2->next_fence("c");
        h.acquired_ms = os::now_ms();
        h.txn = "t1-0000000000000001";
        core.store.write({"c", Mode::Exclusive, {h}});
    }
    core.store.commit_txn("t1-0000000000000001", anchor_of(::getpid(), ProcessProbe::system()));
    Holder hc = core.store.read("c")->holders[0];
    CHECK(core.claims.holder_verdict(hc, true, nullptr).life == Life::Alive);
    CHECK_FALSE(core.claims.try_acquire(other, req({"c"})).acquired);
    report = core.reaper.run(false);
    CHECK(report.claims.empty());
    CHECK(report.txns.empty()); // its owner (this process) lives
    REQUIRE(core.store.read("c"));
    CHECK(core.store.read("c")->holders[0].session == me.id);
}

namespace {

// The file store, with writes failing (as on a full disk) once a commit
// marker was created.
class FullAfterCommitStore : public ClaimStore {
  public:
    explicit FullAfterCommitStore(ClaimStore& inner) : inner_(inner) {}
    std::unique_ptr<ClaimLock> lock(const std::vector<std::string>& names) override {
        return inner_.lock(names);
    }
    std::optional<ClaimRecord> read(const std::string& name) override { return inner_.read(name); }
    void write(const ClaimRecord& record) override {
        if (committed_) throw io_error("cannot write claims/" + record.name, ENOSPC);
        inner_.write(record);
    }
    void erase(const std::string& name) override { inner_.erase(name); }
    std::vector<std::string> names() override { return inner_.names(); }
    void commit_txn(const std::string& id, const Anchor& owner) override {
        inner_.commit_txn(id, owner);
        committed_ = true;
    }
    bool txn_committed(const std::string& id) override { return inner_.txn_committed(id); }
    std::optional<Anchor> txn_owner(const std::string& id) override { return inner_.txn_owner(id); }
    void drop_txn(const std::string& id) override { inner_.drop_txn(id); }
    std::vector<std::string> txns() override { return inner_.txns(); }
    std::vector<std::string> watch_paths() override { return inner_.watch_paths(); }
    void wake_waiters(const std::string& name) override { inner_.wake_waiters(name); }
    bool listen(const std::string& name, os::ChangeWaiter& waiter) override {
        return inner_.listen(name, waiter);
    }

  private:
    ClaimStore& inner_;
    bool committed_ = false;
};

} // namespace

TEST_CASE("several names: a failure after the commit marker reports them held, never failed") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    SessionRecord other = core.sessions.start({}, ::getpid());
    FullAfterCommitStore full(core.store);
    Claims claims(full, core.sessions, core.events);

    AcquireOutcome out;
    REQUIRE(code_of_call([&] { out = claims.try_acquire(me, req({"a", "b"})); }) == Exit::Ok);
    REQUIRE(out.acquired);
    REQUIRE(out.granted.size() == 2);
    REQUIRE(out.warnings.size() == 1);
    CHECK(out.warnings[0].find("held") != std::string::npos);
    // What the outcome says is true: both are held, by me, for everyone.
    for (const char* n : {"a", "b"}) {
        REQUIRE(holder_of(core, n, me));
        CHECK_FALSE(core.claims.try_acquire(other, req({n})).acquired);
    }
}

// Waiting.

TEST_CASE("acquire --wait: wakes when the holder releases") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    Gate go, stay;
    Shared<std::atomic<int>> state;
    Child holder = fork_child([&] {
        Core c(home.path());
        SessionRecord s = c.sessions.process_session(::getpid());
        if (!c.claims.try_acquire(s, req({"x"})).acquired) return 1;
        state->store(1);
        go.pass();
        sleep_ms(20); // the claimer is waiting by now (not required)
        c.claims.release(s.id, s.nonce, {"x"}, false);
        stay.pass(); // stays alive: only the release can free "x"
        return 0;
    });
    REQUIRE(wait_until([&] { return state->load() == 1; }));
    CHECK_FALSE(core.claims.try_acquire(me, req({"x"})).acquired);
    go.open();
    auto out = core.claims.acquire(me, req({"x"}), 20'000);
    CHECK(out.acquired);
    CHECK(holder_of(core, "x", me));
    const int64_t waited = last_waited_ms(home.path());
    CHECK(waited >= 0);
    CHECK(waited < kWokeWithin);
    stay.open();
    CHECK(holder.finish() == 0);
}

TEST_CASE("acquire --wait: wakes when the holder dies") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    HoldingChild h(home.path(), {"x"});
    REQUIRE(h.acquired);
    Child killer = fork_child([&] {
        sleep_ms(50);
        ::kill(h.pid(), SIGKILL);
        return 0;
    });
    auto out = core.claims.acquire(me, req({"x"}), 20'000);
    CHECK(out.acquired);
    CHECK(killer.finish() == 0);
    CHECK(holder_of(core, "x", me));
    const int64_t waited = last_waited_ms(home.path());
    CHECK(waited >= 0);
    CHECK(waited < kWokeWithin);
}

TEST_CASE("acquire --wait: a session that ends while it waits is granted nothing") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    SessionRecord other = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(other, req({"x"})).acquired);
    // The waiter's session ends, then the holder lets go: whichever of the
    // two the waiter sees first, nothing may be granted to it.
    Child ender = fork_child([&] {
        Core c(home.path());
        sleep_ms(50); // the waiter is waiting by now (not required)
        c.sessions.end(me.id);
        c.claims.release(other.id, other.nonce, {"x"}, false);
        return 0;
    });
    try {
        core.claims.acquire(me, req({"x"}), 20'000);
        FAIL("a claim was granted to a session that had ended");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Usage);
        CHECK(e.message().find("nothing was taken") != std::string::npos);
    }
    CHECK(ender.finish() == 0);
    CHECK_FALSE(core.store.read("x"));
}

TEST_CASE("acquire: a replaced incarnation is granted nothing") {
    TempDir home;
    Core core(home.path());
    SessionRecord old = core.sessions.start({}, ::getpid());
    SessionRecord next = old;
    next.nonce = new_nonce();
    core.sessions.put(next);
    CHECK_THROWS_AS(core.claims.try_acquire(old, req({"x"})), Error);
    CHECK_FALSE(core.store.read("x"));
    CHECK(core.claims.try_acquire(next, req({"x"})).acquired);
}

TEST_CASE("acquire --wait: times out while a live holder keeps it") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    SessionRecord other = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(other, req({"x"})).acquired);
    auto out = core.claims.acquire(me, req({"x"}), 100);
    CHECK_FALSE(out.acquired);
    REQUIRE(out.blockers.size() == 1);
    CHECK(out.blockers[0].holder.session == other.id);
    CHECK(describe_blocker(out.blockers[0], os::now_ms()).find(other.id) != std::string::npos);
}

TEST_CASE("acquire --wait: a TTL running out frees the claim") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    SessionRecord other = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(other, req({"x"}, Mode::Exclusive, 100)).acquired);
    auto out = core.claims.acquire(me, req({"x"}), 20'000);
    REQUIRE(out.acquired);
    CHECK(holder_of(core, "x", me));
    CHECK_FALSE(holder_of(core, "x", other));
}

// Race 1: two reclaimers of the same stale claim both believing they won.

namespace {

constexpr int kRacers = 6;

struct RaceBoard {
    struct Slot {
        std::atomic<int> ready{0};
        std::atomic<int> result{0}; // 1 won, 2 busy, 3 error
        uint64_t fence = 0;
        char session[128] = {};
        char nonce[32] = {};
    } slot[kRacers];
};

// One round: kRacers processes, each with its own live session, try to take
// `name` at the same moment. Returns the index of the winner (-1: none or
// several, reported through CHECKs).
int race_round(const std::string& home, const std::string& name, uint64_t& last_fence) {
    Shared<RaceBoard> board;
    Gate start, finish;
    std::vector<Child> kids;
    for (int i = 0; i < kRacers; ++i) {
        kids.push_back(fork_child([&, i] {
            auto& s = board->slot[i];
            Core core(home);
            SessionRecord me = core.sessions.process_session(::getpid());
            std::snprintf(s.session, sizeof s.session, "%s", me.id.c_str());
            std::snprintf(s.nonce, sizeof s.nonce, "%s", me.nonce.c_str());
            s.ready.store(1);
            start.pass();
            try {
                auto out = core.claims.try_acquire(me, req({name}));
                if (out.acquired) s.fence = out.granted[0].holder.fence;
                s.result.store(out.acquired ? 1 : 2);
            } catch (const std::exception& e) {
                std::fprintf(stderr, "racer: %s\n", e.what());
                s.result.store(3);
            }
            finish.pass(); // the winner stays alive until every racer is done
            return 0;
        }));
    }
    REQUIRE(wait_until([&] {
        for (auto& s : board->slot)
            if (!s.ready.load()) return false;
        return true;
    }));
    start.open();
    REQUIRE(wait_until([&] {
        for (auto& s : board->slot)
            if (!s.result.load()) return false;
        return true;
    }));
    int winners = 0, busy = 0, errors = 0, winner = -1;
    for (int i = 0; i < kRacers; ++i) {
        int r = board->slot[i].result.load();
        if (r == 1) {
            ++winners;
            winner = i;
        }
        busy += r == 2;
        errors += r == 3;
    }
    CHECK(winners == 1);
    CHECK(busy == kRacers - 1);
    CHECK(errors == 0);
    if (winners == 1) {
        // The record names the winner, with the fence it was told.
        Core core(home);
        auto rec = core.store.read(name);
        REQUIRE(rec);
        REQUIRE(rec->holders.size() == 1);
        CHECK(rec->holders[0].session == std::string(board->slot[winner].session));
        CHECK(rec->holders[0].nonce == std::string(board->slot[winner].nonce));
        CHECK(rec->holders[0].fence == board->slot[winner].fence);
        CHECK(board->slot[winner].fence > last_fence);
        last_fence = board->slot[winner].fence;
    }
    finish.open();
    for (auto& k : kids)
        CHECK(k.finish() == 0);
    return winners == 1 ? winner : -1;
}

} // namespace

TEST_CASE("race 1: reclaimers of a stale claim (dead holder): exactly one wins, every round") {
    TempDir home;
    SessionRecord first = dead_session(home.path(), {"x"});
    uint64_t last = Core(home.path()).store.read("x")->holders[0].fence;
    // Each round's winner exits afterwards, so every round starts from a
    // claim held by a dead session.
    constexpr int kRounds = 100;
    int won = 0;
    for (int round = 0; round < kRounds; ++round) {
        CAPTURE(round);
        won += race_round(home.path(), "x", last) >= 0;
    }
    CHECK(won == kRounds);
    MESSAGE(kRounds << " rounds of " << kRacers << " reclaimers, last fence " << last);
}

TEST_CASE("race 1: reclaimers of an expired claim (live holder, TTL over): exactly one wins") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    uint64_t last = 0;
    for (int round = 0; round < 8; ++round) {
        CAPTURE(round);
        // Held by this (live) process's session with a short TTL; the
        // previous round's winner has exited, so this is a take-over.
        auto out = core.claims.try_acquire(me, req({"x"}, Mode::Exclusive, 20));
        REQUIRE(out.acquired);
        CHECK(out.granted[0].holder.fence > last);
        last = out.granted[0].holder.fence;
        const int64_t expires = out.granted[0].holder.expires_ms;
        REQUIRE(wait_until([&] { return os::now_ms() > expires; }));
        race_round(home.path(), "x", last);
        CHECK_FALSE(holder_of(core, "x", me));
    }
}

// Race 2: a claimer reading a claim file that is still being written.

TEST_CASE("race 2: a corrupt or truncated claim file is an error, never a free claim") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    SessionRecord other = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(other, req({"x"})).acquired);
    const std::string good = read_text(home.sub("claims/x"));

    std::vector<std::string> bad = {"",
                                    "{",
                                    good.substr(0, good.size() / 2),
                                    good.substr(0, good.size() - 3),
                                    std::string(64, '\0'),
                                    "{\"name\":\"x\",\"mode\":\"exclusive\",\"holders\":[]}\n"};
    for (const auto& text : bad) {
        CAPTURE(text);
        write_text(home.sub("claims/x"), text);
        try {
            core.claims.try_acquire(me, req({"x"}));
            FAIL("a corrupt claim file was treated as readable");
        } catch (const Error& e) {
            CHECK(e.code() == Exit::Failure);
            CHECK(e.message().find(home.sub("claims/x")) != std::string::npos);
        }
        // Several names, the corrupt one among them: nothing is taken.
        CHECK(code_of_call([&] {
                  core.claims.try_acquire(me, req({"a", "x", "z"}));
              }) == Exit::Failure);
        CHECK_FALSE(core.store.read("a"));
        CHECK_FALSE(core.store.read("z"));
        // Neither release (even forced) nor renew nor the reaper touch it.
        CHECK(code_of_call([&] { core.claims.release(me.id, me.nonce, {"x"}, true); }) ==
              Exit::Failure);
        CHECK(code_of_call([&] { core.claims.renew(other, {"x"}, 1'000); }) == Exit::Failure);
        auto report = core.reaper.run(false, 0);
        CHECK(report.claims.empty());
        CHECK_FALSE(report.warnings.empty());
        std::vector<std::string> errors;
        core.claims.all(&errors);
        CHECK(errors.size() == 1);
        CHECK(read_text(home.sub("claims/x")) == text);
    }
}

TEST_CASE("race 2: temp files in claims/ are ignored") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    core.home.claims();
    // A writer's temp file, half written, for the very name being claimed.
    const std::string tmp = ".tmp.999999.0.x";
    write_text(home.sub("claims/" + tmp), "{\"name\":\"x\",\"mode\":\"exclu");
    write_text(home.sub("claims/.tmp.999999.1.y"), "");
    CHECK(core.store.names().empty());
    std::vector<std::string> errors;
    CHECK(core.claims.all(&errors).empty());
    CHECK(errors.empty());
    auto report = core.reaper.run(false, 0);
    CHECK(report.warnings.empty());
    auto out = core.claims.try_acquire(me, req({"x"}));
    REQUIRE(out.acquired);
    CHECK(core.store.names() == std::vector<std::string>{"x"});
    CHECK(read_text(home.sub("claims/" + tmp)) == "{\"name\":\"x\",\"mode\":\"exclu");
}

TEST_CASE("race 2: readers never see a half-written claim file") {
    TempDir home;
    struct Board {
        std::atomic<int> stop{0};
        std::atomic<long> reads{0}, held_seen{0}, errors{0}, cycles{0};
    };
    Shared<Board> b;
    std::vector<Child> kids;
    // Two writers take and release "x" (and a shared "s") as fast as they can.
    for (int w = 0; w < 2; ++w) {
        kids.push_back(fork_child([&] {
            Core core(home.path());
            SessionRecord me = core.sessions.process_session(::getpid());
            while (!b->stop.load()) {
                try {
                    if (core.claims.try_acquire(me, req({"x"})).acquired)
                        core.claims.release(me.id, me.nonce, {"x"}, false);
                    if (core.claims.try_acquire(me, req({"s"}, Mode::Shared)).acquired)
                        core.claims.release(me.id, me.nonce, {"s"}, false);
                    b->cycles.fetch_add(1);
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "writer: %s\n", e.what());
                    b->errors.fetch_add(1);
                }
            }
            return 0;
        }));
    }
    kids.push_back(fork_child([&] {
        Core core(home.path());
        while (!b->stop.load()) {
            for (const char* n : {"x", "s"}) {
                try {
                    if (core.store.read(n)) b->held_seen.fetch_add(1);
                    core.claims.holders(n);
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "reader: %s\n", e.what());
                    b->errors.fetch_add(1);
                }
                b->reads.fetch_add(1);
            }
        }
        return 0;
    }));
    CHECK(wait_until([&] { return b->cycles.load() >= 400 && b->reads.load() >= 2000; }, 120'000));
    b->stop.store(1);
    for (auto& k : kids)
        CHECK(k.finish() == 0);
    CHECK(b->errors.load() == 0);
    CHECK(b->held_seen.load() > 0);
    MESSAGE(b->cycles.load() << " write cycles, " << b->reads.load() << " reads, "
                             << b->held_seen.load() << " saw a holder");
}

TEST_CASE("race 2: a claim file that is a symlink is refused, not followed or replaced") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    core.home.claims();
    write_text(home.sub("target"), "");
    fs::create_symlink(home.sub("target"), home.sub("claims/x"));
    CHECK(code_of_call([&] { core.claims.try_acquire(me, req({"x"})); }) == Exit::Failure);
    CHECK(fs::is_symlink(home.sub("claims/x")));
    CHECK(read_text(home.sub("target")).empty());
}

TEST_CASE("race 2: a temp file left by a killed writer with the same pid does not block writes") {
    // A writer killed between creating its temp file and renaming it leaves
    // `.tmp.<pid>.<n>.<name>` behind. A later process that gets the same pid
    // (pids wrap) must still be able to write.
    TempDir home;
    const Env env = {{"LOOP_HOME", home.path()}};
    {
        Core core(home.path());
        core.home.claims();
        core.home.sessions();
    }
    Gate go;
    const pid_t parent = ::getpid();
    Child c = fork_child([&]() -> int {
        go.pass();
        detail::exec_loop({"_", "claim", "x"}, env, parent);
    });
    // What a killed earlier process with this pid left behind.
    for (int n = 0; n < 8; ++n) {
        const std::string suffix =
            ".tmp." + std::to_string(c.pid()) + "." + std::to_string(n) + ".";
        write_text(home.sub("claims/" + suffix + "x"), "{\"name\":\"x\"");
    }
    go.open();
    CHECK(c.finish() == 0);
    Core core(home.path());
    auto rec = core.store.read("x");
    REQUIRE(rec);
    CHECK(rec->holders.size() == 1);
}

// Race 3: reap removing a claim that a live session has just taken.

TEST_CASE("race 3: a reaper running all the time never removes a live session's claim") {
    TempDir home;
    constexpr int kNames = 12, kTakers = 4, kRounds = 30;
    struct Board {
        std::atomic<int> stop{0};
        std::atomic<long> passes{0}, reaped{0}, reaper_errors{0};
        std::atomic<int> ready[kTakers];
        std::atomic<int> done[kTakers];
        std::atomic<int> errors{0}, lost{0};
        // owner[name] = taker index + 1, fence[name]
        std::atomic<int> owner[kNames];
        uint64_t fence[kNames];
        char session[kTakers][128];
        char nonce[kTakers][32];
    };
    Shared<Board> b;
    auto name_of = [](int i) { return "n" + std::to_string(i); };

    // Start with every name held by a dead session.
    std::vector<std::string> all;
    for (int i = 0; i < kNames; ++i)
        all.push_back(name_of(i));
    dead_session(home.path(), all);

    Child reaper = fork_child([&] {
        Core core(home.path());
        while (!b->stop.load()) {
            try {
                auto r = core.reaper.run(false, 0);
                b->reaped.fetch_add(static_cast<long>(r.claims.size()));
            } catch (const std::exception& e) {
                std::fprintf(stderr, "reaper: %s\n", e.what());
                b->reaper_errors.fetch_add(1);
            }
            b->passes.fetch_add(1);
        }
        return 0;
    });

    uint64_t last_fence[kNames] = {};
    for (int round = 0; round < kRounds; ++round) {
        CAPTURE(round);
        for (int i = 0; i < kNames; ++i)
            b->owner[i].store(0);
        for (int t = 0; t < kTakers; ++t) {
            b->ready[t].store(0);
            b->done[t].store(0);
        }
        Gate start, finish;
        std::vector<Child> takers;
        for (int t = 0; t < kTakers; ++t) {
            takers.push_back(fork_child([&, t] {
                Core core(home.path());
                SessionRecord me = core.sessions.process_session(::getpid());
                std::snprintf(b->session[t], sizeof b->session[t], "%s", me.id.c_str());
                std::snprintf(b->nonce[t], sizeof b->nonce[t], "%s", me.nonce.c_str());
                Rng rng(os::random_u64());
                std::vector<int> order(kNames);
                for (int i = 0; i < kNames; ++i)
                    order[i] = i;
                for (int i = kNames - 1; i > 0; --i)
                    std::swap(order[i], order[rng.below(static_cast<uint64_t>(i) + 1)]);
                b->ready[t].store(1);
                start.pass();
                for (int i : order) {
                    auto out = core.claims.try_acquire(me, req({name_of(i)}));
                    if (!out.acquired) continue;
                    int expected = 0;
                    if (!b->owner[i].compare_exchange_strong(expected, t + 1))
                        b->errors.fetch_add(1); // two takers won the same name
                    b->fence[i] = out.granted[0].holder.fence;
                }
                // Right after: everything won is still ours.
                for (int i = 0; i < kNames; ++i) {
                    if (b->owner[i].load() != t + 1) continue;
                    auto rec = core.store.read(name_of(i));
                    if (!rec || rec->holders.size() != 1 || rec->holders[0].session != me.id ||
                        rec->holders[0].fence != b->fence[i])
                        b->lost.fetch_add(1);
                }
                b->done[t].store(1);
                finish.pass();
                return 0;
            }));
        }
        REQUIRE(wait_until([&] {
            for (auto& r : b->ready)
                if (!r.load()) return false;
            return true;
        }));
        start.open();
        REQUIRE(wait_until([&] {
            for (auto& d : b->done)
                if (!d.load()) return false;
            return true;
        }));
        // Let the reaper make two more full passes over the live claims.
        const long passes = b->passes.load();
        REQUIRE(wait_until([&] { return b->passes.load() >= passes + 2; }));

        Core core(home.path());
        for (int i = 0; i < kNames; ++i) {
            CAPTURE(i);
            int owner = b->owner[i].load();
            // Every name was stale or free, so some live taker got it...
            REQUIRE(owner > 0);
            auto rec = core.store.read(name_of(i));
            // ...and still has it, with its fence.
            REQUIRE(rec);
            REQUIRE(rec->holders.size() == 1);
            CHECK(rec->holders[0].session == std::string(b->session[owner - 1]));
            CHECK(rec->holders[0].nonce == std::string(b->nonce[owner - 1]));
            CHECK(rec->holders[0].fence == b->fence[i]);
            CHECK(b->fence[i] > last_fence[i]);
            last_fence[i] = b->fence[i];
        }
        CHECK(b->errors.load() == 0);
        CHECK(b->lost.load() == 0);
        finish.open(); // the takers exit: their claims are stale next round
        for (auto& t : takers)
            CHECK(t.finish() == 0);
    }
    b->stop.store(1);
    CHECK(reaper.finish() == 0);
    CHECK(b->reaper_errors.load() == 0);
    MESSAGE(kRounds << " rounds, " << b->passes.load() << " reaper passes, " << b->reaped.load()
                    << " claims reaped, the rest taken over");
}

// Race 4: an unclaim by the old owner racing a take-over.

TEST_CASE("race 4: the old owner's release after a take-over leaves the new owner's claim") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    SessionRecord b = core.sessions.start({}, ::getpid());

    auto ta = core.claims.try_acquire(a, req({"x"}, Mode::Exclusive, 30));
    REQUIRE(ta.acquired);
    const int64_t expires = ta.granted[0].holder.expires_ms;
    REQUIRE(wait_until([&] { return os::now_ms() > expires; }));

    auto tb = core.claims.try_acquire(b, req({"x"}));
    REQUIRE(tb.acquired);
    const uint64_t fb = tb.granted[0].holder.fence;
    CHECK(fb > ta.granted[0].holder.fence);
    CHECK(count_events(home.path(), "claim.expired") == 1);

    // A, unaware, releases: refused, and B keeps it with its fence.
    CHECK(code_of_call([&] { core.claims.release(a.id, a.nonce, {"x"}, false); }) == Exit::Busy);
    auto hb = holder_of(core, "x", b);
    REQUIRE(hb);
    CHECK(hb->fence == fb);
    // Nor can A renew it or claim it back.
    CHECK(code_of_call([&] { core.claims.renew(a, {"x"}, 10'000); }) == Exit::Busy);
    CHECK_FALSE(core.claims.try_acquire(a, req({"x"})).acquired);
    CHECK(holder_of(core, "x", b)->fence == fb);
    CHECK(core.store.read("x")->holders.size() == 1);
}

TEST_CASE("race 4: release by an ended session's id does not touch the new owner") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    SessionRecord b = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(a, req({"x"})).acquired);
    core.sessions.end(a.id);
    auto tb = core.claims.try_acquire(b, req({"x"}));
    REQUIRE(tb.acquired);
    CHECK(code_of_call([&] { core.claims.release(a.id, a.nonce, {"x"}, false); }) == Exit::Busy);
    // Without a nonce (the record is gone), the id alone is not enough either.
    CHECK(code_of_call([&] { core.claims.release(a.id, std::nullopt, {"x"}, false); }) ==
          Exit::Busy);
    REQUIRE(holder_of(core, "x", b));
    CHECK(holder_of(core, "x", b)->fence == tb.granted[0].holder.fence);
    // release_session of the old id leaves the new owner alone too.
    CHECK(core.claims.release_session(a.id).empty());
    REQUIRE(holder_of(core, "x", b));
}

TEST_CASE("race 4: the expired owner's release before any take-over frees the claim") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.start({}, ::getpid());
    auto ta = core.claims.try_acquire(a, req({"x"}, Mode::Exclusive, 20));
    REQUIRE(ta.acquired);
    const int64_t expires = ta.granted[0].holder.expires_ms;
    REQUIRE(wait_until([&] { return os::now_ms() > expires; }));
    CHECK_NOTHROW(core.claims.release(a.id, a.nonce, {"x"}, false));
    CHECK_FALSE(core.store.read("x"));
}

// Race 5: an error while reading sessions or /proc making holders look dead.

TEST_CASE("race 5: an unreadable session record makes its holder count as alive") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    // The holder is dead for real; only its session record is unreadable.
    HoldingChild h(home.path(), {"x"});
    REQUIRE(h.acquired);
    h.kill();
    const std::string rec_path = home.sub("sessions/" + h.session.id);
    const std::string claim_before = read_text(home.sub("claims/x"));

    SUBCASE("corrupt JSON") {
        write_text(rec_path, "{\"id\": \"" + h.session.id);
    }
    SUBCASE("empty") {
        write_text(rec_path, "");
    }
    SUBCASE("a symlink (never followed)") {
        fs::remove(rec_path);
        fs::create_symlink("/dev/null", rec_path);
    }
    SUBCASE("a directory") {
        fs::remove(rec_path);
        fs::create_directory(rec_path);
    }

    auto out = core.claims.try_acquire(me, req({"x"}));
    CHECK_FALSE(out.acquired);
    REQUIRE(out.blockers.size() == 1);
    CHECK(out.blockers[0].verdict.life == Life::Unknown);
    CHECK_FALSE(out.warnings.empty());
    CHECK(describe_blocker(out.blockers[0], os::now_ms()).find("cannot be decided") !=
          std::string::npos);
    // Waiting does not help either, and nothing changes meanwhile.
    CHECK_FALSE(core.claims.acquire(me, req({"x"}), 50).acquired);

    auto report = core.reaper.run(false, 0);
    CHECK(report.claims.empty());
    CHECK_FALSE(report.warnings.empty());
    CHECK(read_text(home.sub("claims/x")) == claim_before);
    CHECK(exists(rec_path)); // the reaper does not remove what it cannot read

    // A multi-name claim including it takes nothing.
    CHECK_FALSE(core.claims.try_acquire(me, req({"w", "x"})).acquired);
    CHECK_FALSE(core.store.read("w"));
}

TEST_CASE("race 5: an unreadable /proc entry makes its holder count as alive") {
    TempDir home;
    // The holder's process is dead, but the probe cannot tell.
    HoldingChild h(home.path(), {"x"});
    REQUIRE(h.acquired);
    const int victim = h.pid();
    h.kill();

    ProcessProbe blind = ProcessProbe::system();
    blind.info = [victim](int pid) {
        if (pid != victim) return os::proc_info(pid);
        os::ProcInfo i;
        i.state = os::ProcInfo::State::Unknown;
        i.err = EACCES;
        return i;
    };
    ProbedCore core(home.path(), blind);
    SessionRecord me = core.sessions.start({}, ::getpid());
    const std::string before = read_text(home.sub("claims/x"));

    auto out = core.claims.try_acquire(me, req({"x"}));
    CHECK_FALSE(out.acquired);
    REQUIRE(out.blockers.size() == 1);
    CHECK(out.blockers[0].verdict.life == Life::Unknown);
    REQUIRE_FALSE(out.warnings.empty());
    CHECK(out.warnings[0].find(h.session.id) != std::string::npos);

    auto report = core.reaper.run(false, 0);
    CHECK(report.claims.empty());
    CHECK_FALSE(report.warnings.empty());
    CHECK(report.sessions.empty()); // nor is its session removed
    CHECK(read_text(home.sub("claims/x")) == before);

    // The owner check of `loop owner`/`loop claims` shows it as held.
    auto hv = core.claims.holders("x");
    REQUIRE(hv.size() == 1);
    CHECK(hv[0].verdict.life == Life::Unknown);

    // With a probe that can see, it is dead and taken over.
    Core seeing(home.path());
    SessionRecord me2 = seeing.sessions.start({}, ::getpid());
    CHECK(seeing.claims.try_acquire(me2, req({"x"})).acquired);
}

TEST_CASE("race 5: an unreadable /proc entry of a txn owner keeps its marker") {
    TempDir home;
    Child c = fork_child([] { return 0; });
    const int victim = c.pid();
    const uint64_t ticks = os::proc_info(victim).start_ticks;
    REQUIRE(c.finish() == 0);
    ProcessProbe blind = ProcessProbe::system();
    blind.info = [victim](int pid) {
        if (pid != victim) return os::proc_info(pid);
        os::ProcInfo i;
        i.state = os::ProcInfo::State::Unknown;
        i.err = EIO;
        return i;
    };
    ProbedCore core(home.path(), blind);
    core.store.commit_txn("t1-00000000000000aa", Anchor{victim, ticks, blind.boot_id, "", ""});
    CHECK(core.reaper.run(false, 0).txns.empty());
    CHECK(core.store.txn_committed("t1-00000000000000aa"));
    // Seen as dead, it goes.
    Core seeing(home.path());
    CHECK(seeing.reaper.run(false, 0).txns == std::vector<std::string>{"t1-00000000000000aa"});
    CHECK_FALSE(seeing.store.txn_committed("t1-00000000000000aa"));
}

TEST_CASE("race 5: without a readable /proc, a live holder is not taken for dead") {
    // In a mount namespace of its own, a child hides /proc (as when /proc is
    // not mounted, or mounted with hidepid=): a live holder must then count
    // as undecidable, never as gone.
    TempDir home;
    Core core(home.path());
    SessionRecord holder = core.sessions.start({}, ::getpid()); // this live process
    REQUIRE(core.claims.try_acquire(holder, req({"x"})).acquired);
    const std::string before = read_text(home.sub("claims/x"));
    const int me = ::getpid();
    struct Out {
        int setup = 0;     // 1: /proc hidden
        int state = -1;    // proc_info of this (live) process
        int acquired = -1; // did the child take "x"?
    };
    Shared<Out> out;
    Child c = fork_child([&] {
        if (::unshare(CLONE_NEWNS) != 0) return 0;
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 0;
        if (::mount("none", "/proc", "tmpfs", 0, nullptr) != 0) return 0;
        out->setup = 1;
        out->state = static_cast<int>(os::proc_info(me).state);
        Core core(home.path());
        StartOptions o;
        o.ttl_ms = 60'000; // no anchor: /proc cannot give one
        SessionRecord s = core.sessions.start(o, ::getpid());
        out->acquired = core.claims.try_acquire(s, req({"x"})).acquired ? 1 : 0;
        return 0;
    });
    REQUIRE(c.finish() == 0);
    if (out->setup != 1) {
        MESSAGE("cannot hide /proc here (no CAP_SYS_ADMIN?): not tested");
        return;
    }
    CHECK(out->state != static_cast<int>(os::ProcInfo::State::Gone));
    CHECK(out->acquired == 0);
    CHECK(read_text(home.sub("claims/x")) == before);
}

// Race 6: a claim with no owner.

TEST_CASE("race 6: a claim for an unknown or dead session is refused and nothing is written") {
    TempDir home;
    Core core(home.path());
    SessionRecord dead = dead_session(home.path());
    const auto sessions_before = list_dir(home.sub("sessions"));

    for (const std::string& id : {std::string("s-00000000"), dead.id, std::string("bad/id")}) {
        CAPTURE(id);
        CHECK(code_of_call([&] { core.sessions.resolve_live(id, ::getpid()); }) == Exit::Usage);
    }
    CHECK(list_dir(home.sub("sessions")) == sessions_before);
    CHECK(list_dir(home.sub("claims")).empty());

    // The same through the binary, by flag and by environment.
    const Env env = {{"LOOP_HOME", home.path()}};
    for (const std::string& id : {std::string("s-00000000"), dead.id}) {
        CAPTURE(id);
        Run r = run_loop({"_", "claim", "x", "--session", id}, env);
        CHECK(r.code == 2);
        CHECK(r.err.find(id) != std::string::npos);
        Env with_id = env;
        with_id.push_back({"LOOP_SESSION_ID", id});
        r = run_loop({"_", "claim", "x"}, with_id);
        CHECK(r.code == 2);
    }
    CHECK(list_dir(home.sub("claims")).empty());
    CHECK(list_dir(home.sub("sessions")) == sessions_before);
    CHECK(list_dir(home.sub("txn")).empty());
}

// Race 7: a new session with a reused id or pid inheriting a dead
// predecessor's claim.

TEST_CASE("race 7: the same id re-created (new nonce) does not inherit the old claim") {
    TempDir home;
    Core core(home.path());
    Anchor me = anchor_of(::getpid(), ProcessProbe::system());
    const std::string id = Sessions::process_session_id(me.pid, me.start_ticks);

    // A record of this very id from an earlier boot holds "x".
    SessionRecord old;
    old.id = id;
    old.nonce = "00000000000000aa";
    old.kind = "process";
    old.anchor = Anchor{me.pid, me.start_ticks, "00000000-0000-0000-0000-000000000000",
                        os::machine_id(), ""};
    REQUIRE(core.registry.create(old));
    {
        auto lock = core.store.lock({"x"});
        Holder h;
        h.session = id;
        h.nonce = old.nonce;
        h.pid = me.pid;
        h.fence = lock->next_fence("x");
        h.acquired_ms = os::now_ms();
        core.store.write({"x", Mode::Exclusive, {h}});
    }
    const uint64_t old_fence = core.store.read("x")->holders[0].fence;

    // This process's session now: same id, new nonce.
    SessionRecord now = core.sessions.process_session(::getpid());
    REQUIRE(now.id == id);
    REQUIRE(now.nonce != old.nonce);
    auto hv = core.claims.holders("x");
    REQUIRE(hv.size() == 1);
    CHECK(hv[0].verdict.life == Life::Dead);

    // Claiming it is a take-over with a new fence, not "already held".
    auto out = core.claims.try_acquire(now, req({"x"}));
    REQUIRE(out.acquired);
    CHECK_FALSE(out.granted[0].already_held);
    CHECK(out.granted[0].holder.fence > old_fence);
    // And the old incarnation cannot release it.
    CHECK(code_of_call([&] { core.claims.release(id, old.nonce, {"x"}, false); }) == Exit::Busy);
    REQUIRE(holder_of(core, "x", now));
}

TEST_CASE("race 7: the same pid with another start time does not inherit the old claim") {
    TempDir home;
    // A holder anchored to a child process.
    HoldingChild h(home.path(), {"x"});
    REQUIRE(h.acquired);
    const int pid = h.pid();
    REQUIRE(h.session.anchor);
    const uint64_t ticks = h.session.anchor->start_ticks;

    // The probe says the pid runs again, started later: a reused pid.
    ProcessProbe reused = ProcessProbe::system();
    reused.info = [pid, ticks](int p) {
        os::ProcInfo i = os::proc_info(p);
        if (p == pid) {
            i.state = os::ProcInfo::State::Running;
            i.zombie = false;
            i.start_ticks = ticks + 12345;
        }
        return i;
    };
    ProbedCore core(home.path(), reused);
    SessionRecord me = core.sessions.start({}, ::getpid());
    auto out = core.claims.try_acquire(me, req({"x"}));
    REQUIRE(out.acquired);
    CHECK(out.granted[0].holder.fence > h.fences[0]);

    // A session of the "new" process under that pid is a different session.
    CHECK(Sessions::process_session_id(pid, ticks + 12345) != h.session.id);
}

TEST_CASE("race 7: a real pid reused by a new process does not inherit the old claim") {
    TempDir home;
    // The holder records itself, then its pid's start time is changed in the
    // record (what a pid reused later looks like); the pid keeps running.
    HoldingChild h(home.path(), {"x"});
    REQUIRE(h.acquired);
    Core core(home.path());
    SessionRecord s = *core.registry.read(h.session.id);
    s.anchor->start_ticks -= 1;
    core.registry.write(s);
    SessionRecord me = core.sessions.start({}, ::getpid());
    auto out = core.claims.try_acquire(me, req({"x"}));
    CHECK(out.acquired);
}

TEST_CASE("race 7: two first uses of a replaced id agree on one incarnation") {
    // Two `loop` calls from one process, the first ones after its id was
    // found from an earlier boot: both must end up with the same session,
    // or the claim of the first one silently becomes stale.
    TempDir home;
    Gate parked;
    Child anchor_proc = fork_child([&] {
        parked.pass();
        return 0;
    });
    const int pid = anchor_proc.pid();
    Anchor a = anchor_of(pid, ProcessProbe::system());
    const std::string id = Sessions::process_session_id(pid, a.start_ticks);
    {
        Core core(home.path());
        SessionRecord old;
        old.id = id;
        old.nonce = "00000000000000bb";
        old.kind = "process";
        old.anchor = Anchor{pid, a.start_ticks, "00000000-0000-0000-0000-000000000000",
                            os::machine_id(), ""};
        REQUIRE(core.registry.create(old));
    }

    // A third process holds the session registry lock, so that both
    // callers read the old record and then queue for the lock.
    Core core(home.path());
    Shared<std::atomic<int>> locked;
    Gate unlock;
    Child locker = fork_child([&] {
        Core c(home.path());
        auto guard = c.registry.lock();
        locked->store(1);
        unlock.pass();
        return 0;
    });
    REQUIRE(wait_until([&] { return locked->load() == 1; }));
    struct Out {
        std::atomic<int> done[2];
        char nonce[2][32];
    };
    Shared<Out> out;
    std::vector<Child> callers;
    for (int i = 0; i < 2; ++i) {
        callers.push_back(fork_child([&, i] {
            Core c(home.path());
            SessionRecord s = c.sessions.process_session(pid);
            std::snprintf(out->nonce[i], sizeof out->nonce[i], "%s", s.nonce.c_str());
            out->done[i].store(1);
            return 0;
        }));
    }
    // Both are blocked on the lock once two waiters show in /proc/locks
    // for its inode.
    struct stat st;
    REQUIRE(::stat(home.sub("sessions/.lock").c_str(), &st) == 0);
    const std::string inode = ":" + std::to_string(st.st_ino) + " ";
    bool both_waiting = wait_until([&] {
        int waiters = 0;
        for (const auto& line : lines_of(read_text("/proc/locks")))
            if (line.find("->") != std::string::npos && line.find(inode) != std::string::npos)
                ++waiters;
        return waiters >= 2;
    });
    unlock.open();
    CHECK(locker.finish() == 0);
    for (auto& c : callers)
        CHECK(c.finish() == 0);
    if (!both_waiting) MESSAGE("could not observe both callers waiting; the race was not forced");
    REQUIRE(out->done[0].load() == 1);
    REQUIRE(out->done[1].load() == 1);
    const std::string n0 = out->nonce[0], n1 = out->nonce[1];
    CHECK(n0 == n1);
    auto rec = core.registry.read(id);
    REQUIRE(rec);
    CHECK(rec->nonce == n0);
    parked.open();
    CHECK(anchor_proc.finish() == 0);
}

// Failing closed.

TEST_CASE("a commit marker stays while a record that may refer to it cannot be read") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    Child c = fork_child([] { return 0; });
    const int owner = c.pid();
    const uint64_t ticks = os::proc_info(owner).start_ticks;
    REQUIRE(c.finish() == 0);
    // A committed acquisition whose process died before it cleaned up.
    const std::string txn = "t1-00000000000000bb";
    {
        auto lock = core.store.lock({"a", "b"});
        for (const char* n : {"a", "b"}) {
            Holder h;
            h.session = me.id;
            h.nonce = me.nonce;
            h.pid = ::getpid();
            h.fence = lock->next_fence(n);
            h.acquired_ms = os::now_ms();
            h.txn = txn;
            core.store.write({n, Mode::Exclusive, {h}});
        }
    }
    core.store.commit_txn(txn, Anchor{owner, ticks, os::boot_id(), "", ""});
    // "a" cannot be read for a while (EISDIR here, EMFILE or EIO in life).
    fs::rename(home.sub("claims/a"), home.sub("a.saved"));
    fs::create_directory(home.sub("claims/a"));
    core.claims.reap_txns(false);
    CHECK(core.store.txn_committed(txn));
    CHECK(core.store.read("b")->holders.at(0).txn.empty());
    fs::remove(home.sub("claims/a"));
    fs::rename(home.sub("a.saved"), home.sub("claims/a"));
    // "a"'s holder is still the committed, live holder it was.
    Holder ha = core.store.read("a")->holders.at(0);
    CHECK(core.claims.holder_verdict(ha, true, nullptr).life == Life::Alive);
    SessionRecord other = core.sessions.start({}, ::getpid());
    CHECK_FALSE(core.claims.try_acquire(other, req({"a"})).acquired);
    // A clean pass clears the reference, then drops the marker.
    CHECK(core.claims.reap_txns(false) == std::vector<std::string>{txn});
    CHECK_FALSE(core.store.txn_committed(txn));
    CHECK(core.store.read("a")->holders.at(0).txn.empty());
    CHECK(holder_of(core, "a", me));
}

TEST_CASE("a claim record under another name's file is corrupt, and nothing writes through it") {
    TempDir home;
    Core core(home.path());
    SessionRecord s1 = core.sessions.start({}, ::getpid());
    SessionRecord s2 = core.sessions.start({}, ::getpid());
    SessionRecord s3 = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(s1, req({"a"})).acquired);
    fs::copy_file(home.sub("claims/a"), home.sub("claims/b"));
    core.claims.release(s1.id, s1.nonce, {"a"}, false);
    auto a2 = core.claims.try_acquire(s2, req({"a"}));
    REQUIRE(a2.acquired);
    const std::string before = read_text(home.sub("claims/a"));

    CHECK(code_of_call([&] { core.claims.renew(s1, {"b"}, 0); }) == Exit::Failure);
    CHECK(code_of_call([&] { core.claims.try_acquire(s3, req({"b"})); }) == Exit::Failure);
    CHECK(code_of_call([&] { core.claims.release(s1.id, s1.nonce, {"b"}, true); }) ==
          Exit::Failure);
    CHECK(read_text(home.sub("claims/a")) == before);
    CHECK(holder_of(core, "a", s2)->fence == a2.granted[0].holder.fence);
    CHECK(exists(home.sub("claims/b"))); // held (as corrupt), reported
    std::vector<std::string> errors;
    core.claims.all(&errors);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].find(home.sub("claims/b")) != std::string::npos);
}

TEST_CASE("fences: a counter that overflows, has a sign or is exhausted is corrupt") {
    for (const char* text : {"99999999999999999999\n", "18446744073709551615\n", "-5\n", " 5\n"}) {
        CAPTURE(text);
        TempDir home;
        Core core(home.path());
        SessionRecord me = core.sessions.start({}, ::getpid());
        core.home.locks();
        write_text(home.sub("locks/x"), text);
        CHECK(code_of_call([&] { core.claims.try_acquire(me, req({"x"})); }) == Exit::Failure);
        CHECK_FALSE(core.store.read("x"));
    }
    uint64_t v = 0;
    CHECK(parse_fence_counter("18446744073709551615\n", &v) == CounterText::Number);
    CHECK(v == UINT64_MAX);
    CHECK(parse_fence_counter("18446744073709551616\n", &v) == CounterText::Corrupt);
    CHECK_FALSE(next_fence_value(UINT64_MAX, 0, true, 0));
    CHECK_FALSE(next_fence_value(0, UINT64_MAX, true, 0));
}

TEST_CASE("fences: a deleted counter goes on above the fences of the name's record") {
    TempDir home;
    {
        Core core(home.path());
        SessionRecord me = core.sessions.start({}, ::getpid());
        for (int i = 0; i < 3; ++i) {
            REQUIRE(core.claims.try_acquire(me, req({"x"})).acquired);
            core.claims.release(me.id, me.nonce, {"x"}, false);
        }
    }
    SessionRecord dead = dead_session(home.path(), {"x"});
    Core core(home.path());
    const uint64_t held = core.store.read("x")->holders.at(0).fence;
    CHECK(held == 4);
    fs::remove(home.sub("locks/x"));
    SessionRecord me = core.sessions.start({}, ::getpid());
    auto out = core.claims.try_acquire(me, req({"x"}));
    REQUIRE(out.acquired);
    CHECK(out.granted[0].holder.fence > held);
}

TEST_CASE("fences: a counter of another boot (a power loss) jumps above the clock") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    core.home.locks();
    write_text(home.sub("locks/x"), header_text(7, "00000000-0000-0000-0000-000000000000"));
    const uint64_t before = static_cast<uint64_t>(os::now_us());
    auto first = core.claims.try_acquire(me, req({"x"}));
    REQUIRE(first.acquired);
    CHECK(first.granted[0].holder.fence > before);
    core.claims.release(me.id, me.nonce, {"x"}, false);
    // Written on this boot now: exact again.
    auto second = core.claims.try_acquire(me, req({"x"}));
    REQUIRE(second.acquired);
    CHECK(second.granted[0].holder.fence == first.granted[0].holder.fence + 1);
    // A counter of the layout before boot ids counts as another boot's.
    core.claims.release(me.id, me.nonce, {"x"}, false);
    write_text(home.sub("locks/x"), "00000000000000000009\n");
    auto third = core.claims.try_acquire(me, req({"x"}));
    REQUIRE(third.acquired);
    CHECK(third.granted[0].holder.fence > second.granted[0].holder.fence);
    CHECK(third.granted[0].holder.fence > before);
}
