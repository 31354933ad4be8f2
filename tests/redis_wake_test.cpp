// The wake entries of the Redis backend's scripts against a real
// redis-server: a release names the waiter that goes first (the oldest
// fresh ticket of the name's queue), so the others need not all try again.
#include "redis_fixture.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

using namespace loop;
using namespace loop::redis;
using namespace loop::test;

namespace {

// A busy try of `s` for `name` that waits, with ticket `id`: it joins the
// name's queue. Returns the busy answer.
Busy queue_up(Redis& r, const SessionRecord& s, const std::string& name, const std::string& id,
              Mode mode = Mode::Exclusive) {
    AcquireArgs a = args(s, {name}, mode);
    a.ticket = {id, 7000 + static_cast<int>(id.size()), 99, "host-" + s.id};
    a.waited_ms = 0;
    AcquireResult res = acquire(r.c, r.k, a);
    REQUIRE(res.status == AcquireResult::Status::Busy);
    return *res.busy;
}

// The entries of P wake:NAME after `from`, without blocking long.
std::vector<WakeEntry> entries_after(Redis& r, const std::string& name, const std::string& from) {
    return read_wake(r.c, r.k, name, from, 1);
}

} // namespace

TEST_CASE("a release names the oldest waiter; one that leaves names the next") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b"), c = r.session("c");
    REQUIRE(r.take(a, {"x"}).status == AcquireResult::Status::Acquired);
    Busy first = queue_up(r, b, "x", "ticket-b");
    (void)queue_up(r, c, "x", "ticket-c");
    // The busy answer carries the holder's session record.
    CHECK(nlohmann::json::parse(first.holder_session)["id"] == "a");

    auto rel = release(r.c, r.k, caller(a), {"x"}, false, nullptr);
    REQUIRE(rel.size() == 1);
    REQUIRE(rel[0].result == ReleaseResult::Released);
    std::vector<WakeEntry> woke = entries_after(r, "x", first.wake_id);
    REQUIRE(woke.size() == 1);
    CHECK(woke[0].next == "ticket-b");
    CHECK(woke[0].next_mode == "exclusive");
    CHECK(woke[0].next_pid == 7008);
    CHECK(woke[0].next_start_ticks == 99);
    CHECK(woke[0].next_host == "host-b");

    // b gives up: its leaving wakes the name's queue, naming c.
    record_timeout(r.c, r.k, {{"x"}, b.id, 5, "x", "a", "ticket-b", true});
    std::vector<WakeEntry> left = entries_after(r, "x", woke[0].id);
    REQUIRE(left.size() == 1);
    CHECK(left[0].next == "ticket-c");
    CHECK(left[0].next_host == "host-c");
}

TEST_CASE("the end of a holder's session names the oldest waiter too") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b");
    REQUIRE(r.take(a, {"x"}).status == AcquireResult::Status::Acquired);
    Busy busy = queue_up(r, b, "x", "ticket-b", Mode::Shared);
    SessionEnd end = session_end(r.c, r.k, caller(a));
    REQUIRE(end.released == std::vector<std::string>{"x"});
    std::vector<WakeEntry> woke = entries_after(r, "x", busy.wake_id);
    REQUIRE(woke.size() == 1);
    CHECK(woke[0].next == "ticket-b");
    CHECK(woke[0].next_mode == "shared");
}

TEST_CASE("a release with no fresh waiter names no one: every waiter may try") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b"), c = r.session("c");
    REQUIRE(r.take(a, {"x"}).status == AcquireResult::Status::Acquired);
    Busy busy = queue_up(r, b, "x", "ticket-b");
    // b's ticket was last refreshed 20 s ago: it is not named.
    Value raw = r.c.command({"HGET", r.k.queue("x"), "ticket-b"});
    REQUIRE(raw.type == Value::Type::String);
    nlohmann::json t = nlohmann::json::parse(raw.str);
    t["seen_ms"] = t["seen_ms"].get<int64_t>() - 20'000;
    r.c.command({"HSET", r.k.queue("x"), "ticket-b", t.dump()});
    REQUIRE(release(r.c, r.k, caller(a), {"x"}, false, nullptr)[0].result ==
            ReleaseResult::Released);
    std::vector<WakeEntry> woke = entries_after(r, "x", busy.wake_id);
    REQUIRE(woke.size() == 1);
    CHECK(woke[0].next.empty());

    // Nor does a release of a name nobody waits for.
    REQUIRE(r.take(c, {"y"}).status == AcquireResult::Status::Acquired);
    REQUIRE(release(r.c, r.k, caller(c), {"y"}, false, nullptr)[0].result ==
            ReleaseResult::Released);
    woke = entries_after(r, "y", "0-0");
    REQUIRE(woke.size() == 1);
    CHECK(woke[0].next.empty());
}
