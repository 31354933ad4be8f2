// The Redis backend's release, renew and session scripts against a real
// redis-server: owner-only release, force, renew, session records, and keys
// kept under their prefix.
#include "redis_fixture.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <set>

using namespace loop;
using namespace loop::redis;
using namespace loop::test;

TEST_CASE("only the owner releases; force releases anyone's, recorded") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b");
    REQUIRE(r.take(a, {"x"}).status == AcquireResult::Status::Acquired);
    auto rb = release(r.c, r.k, caller(b), {"x", "never"});
    REQUIRE(rb.size() == 2);
    CHECK(rb[0].name == "never");
    CHECK(rb[0].result == ReleaseResult::NotHeld);
    CHECK(rb[1].name == "x");
    CHECK(rb[1].result == ReleaseResult::HeldByOther);
    CHECK(r.record("x")["holders"][0]["session"] == "a");
    CHECK_FALSE(r.exists(r.k.wake("x")));

    AcquireResult busy = r.take(b, {"x"});
    REQUIRE(busy.status == AcquireResult::Status::Busy);
    auto ra = release(r.c, r.k, caller(a), {"x"});
    CHECK(ra[0].result == ReleaseResult::Released);
    CHECK(ra[0].sessions == std::vector<std::string>{"a"});
    CHECK_FALSE(r.exists(r.k.claim("x")));
    // The release woke waiters: a new entry after the id the busy reply gave.
    Value woke =
        r.c.command({"XREAD", "COUNT", "10", "STREAMS", r.k.wake("x"), busy.busy->wake_id});
    REQUIRE(woke.elements.size() == 1);
    CHECK(woke.elements[0].elements.at(1).elements.size() == 1);
    CHECK(release(r.c, r.k, caller(a), {"x"})[0].result == ReleaseResult::NotHeld);

    REQUIRE(r.take(a, {"x"}).status == AcquireResult::Status::Acquired);
    auto forced = release(r.c, r.k, caller(b), {"x"}, true);
    CHECK(forced[0].result == ReleaseResult::Released);
    CHECK(forced[0].sessions == std::vector<std::string>{"a"});
    CHECK_FALSE(r.exists(r.k.claim("x")));
    auto evs = r.events();
    REQUIRE(!evs.empty());
    CHECK(evs.back().first == "claim.forced");
    CHECK(evs.back().second["by"] == "b");
    CHECK(evs.back().second["holders"] == nlohmann::json::array({"a"}));
    CHECK(evs.back().second["ts_ms"].get<int64_t>() > 0);
    CHECK(release(r.c, r.k, caller(b), {"x"}, true)[0].result == ReleaseResult::NotHeld);
}

TEST_CASE("renew restarts the TTL of the caller's own holds only") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b");
    AcquireResult ra = r.take(a, {"x"}, Mode::Exclusive, 60'000);
    auto rn = renew(r.c, r.k, caller(a), {"x"}, 120'000);
    REQUIRE(rn.size() == 1);
    CHECK(rn[0].result == RenewResult::Renewed);
    CHECK(rn[0].expires_ms >= ra.granted[0].acquired_ms + 120'000);
    CHECK(r.record("x")["holders"][0]["expires_ms"] == rn[0].expires_ms);
    CHECK(r.record("x")["holders"][0]["fence"].get<uint64_t>() == ra.granted[0].fence);
    auto own_ttl = renew(r.c, r.k, caller(a), {"x"});
    CHECK(own_ttl[0].result == RenewResult::Renewed);
    CHECK(r.record("x")["holders"][0]["ttl_ms"] == 120'000);
    CHECK(renew(r.c, r.k, caller(b), {"x"})[0].result == RenewResult::HeldByOther);
    CHECK(renew(r.c, r.k, caller(a), {"y"})[0].result == RenewResult::NotHeld);

    REQUIRE(r.take(a, {"short"}, Mode::Exclusive, 1).status == AcquireResult::Status::Acquired);
    sleep_ms(5);
    CHECK(renew(r.c, r.k, caller(a), {"short"}, 60'000)[0].result == RenewResult::Expired);

    r.c.command({"DEL", r.k.session("a")});
    CHECK(renew(r.c, r.k, caller(a), {"x"})[0].result == RenewResult::NoSession);
}
TEST_CASE("session records: put, heartbeat by nonce, end releases and wakes") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = make_session("a");
    CHECK(session_put(r.c, r.k, a, 30'000) == PutResult::Created);
    CHECK(session_put(r.c, r.k, a, 30'000) == PutResult::Refreshed);
    SessionRecord impostor = a;
    impostor.nonce = new_nonce();
    CHECK(session_put(r.c, r.k, impostor, 30'000) == PutResult::Exists);
    auto stored = nlohmann::json::parse(r.c.command({"GET", r.k.session("a")}).str);
    CHECK(stored["nonce"] == a.nonce);
    CHECK(stored["host"] == "host-a");
    const int64_t pttl = r.c.command({"PTTL", r.k.session("a")}).integer;
    CHECK(pttl > 0);
    CHECK(pttl <= 30'000);

    r.c.command({"PEXPIRE", r.k.session("a"), "5000"});
    CHECK(session_heartbeat(r.c, r.k, caller(a), 40'000));
    CHECK(r.c.command({"PTTL", r.k.session("a")}).integer > 30'000);
    CHECK_FALSE(session_heartbeat(r.c, r.k, caller(impostor), 50'000));
    CHECK(r.c.command({"PTTL", r.k.session("a")}).integer <= 40'000);

    SessionRecord b = r.session("b");
    REQUIRE(r.take(a, {"p", "q"}).status == AcquireResult::Status::Acquired);
    REQUIRE(r.take(a, {"s"}, Mode::Shared).status == AcquireResult::Status::Acquired);
    REQUIRE(r.take(b, {"s"}, Mode::Shared).status == AcquireResult::Status::Acquired);
    CHECK(r.c.command({"PTTL", r.k.session_claims("a")}).integer > 0);
    SessionEnd end = session_end(r.c, r.k, caller(a));
    CHECK(end.status == SessionEnd::Status::Ended);
    CHECK(end.released == std::vector<std::string>{"p", "q", "s"});
    CHECK_FALSE(r.exists(r.k.session("a")));
    CHECK_FALSE(r.exists(r.k.session_claims("a")));
    CHECK_FALSE(r.exists(r.k.claim("p")));
    CHECK(r.record("s")["holders"].size() == 1);
    CHECK(r.record("s")["holders"][0]["session"] == "b");
    CHECK(r.exists(r.k.wake("p")));
    CHECK(r.take(a, {"p"}).status == AcquireResult::Status::NoSession);
    CHECK_FALSE(session_heartbeat(r.c, r.k, caller(a), 30'000));
    CHECK(session_end(r.c, r.k, caller(a)).status == SessionEnd::Status::Gone);
}

TEST_CASE("every key is under the prefix; two prefixes on one server are apart") {
    LOOP_REQUIRE_REDIS();
    Redis r("team-a:");
    Keys other{"team-b:"};
    SessionRecord a = r.session("a");
    SessionRecord b = make_session("b");
    REQUIRE(session_put(r.c, other, b, 30'000) == PutResult::Created);
    REQUIRE(r.take(a, {"x", "y"}, Mode::Exclusive, 60'000).status ==
            AcquireResult::Status::Acquired);
    // The same names under the other prefix are free.
    AcquireResult rb = acquire(r.c, other, args(b, {"x", "y"}));
    REQUIRE(rb.status == AcquireResult::Status::Acquired);
    CHECK_FALSE(rb.granted[0].already_held);
    renew(r.c, r.k, caller(a), {"x"}, 90'000);
    release(r.c, r.k, caller(a), {"x"});
    release(r.c, other, caller(b), {"y"}, true);
    session_heartbeat(r.c, r.k, caller(a), 30'000);
    session_end(r.c, other, caller(b));
    CHECK(r.record("y")["holders"][0]["session"] == "a");

    std::set<std::string> keys;
    std::string cursor = "0";
    do {
        Value page = r.c.command({"SCAN", cursor, "COUNT", "100"});
        cursor = page.elements.at(0).str;
        for (const auto& key : page.elements.at(1).elements)
            keys.insert(key.str);
    } while (cursor != "0");
    CHECK(keys.size() >= 6);
    for (const auto& key : keys) {
        CAPTURE(key);
        CHECK((key.rfind("team-a:", 0) == 0 || key.rfind("team-b:", 0) == 0));
    }
    CHECK(keys.count("team-a:events") == 1);
    CHECK(keys.count("team-b:events") == 1);
    CHECK(keys.count("team-a:claim:y") == 1);
    CHECK(keys.count("team-b:fence:x") == 1);
    CHECK(keys.count("team-b:claim:x") == 0); // released by session_end
}
