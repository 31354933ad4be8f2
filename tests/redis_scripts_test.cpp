// The Redis backend's acquire script against a real redis-server:
// exclusion, shared/exclusive, all-or-nothing, idempotence, take-over of
// invalid holders, fences.
#include "redis_fixture.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

using namespace loop;
using namespace loop::redis;
using namespace loop::test;

TEST_CASE("two sessions, one name: one wins, the other sees the holder") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b");
    AcquireResult ra = r.take(a, {"repo-x"});
    REQUIRE(ra.status == AcquireResult::Status::Acquired);
    REQUIRE(ra.granted.size() == 1);
    CHECK(ra.granted[0].name == "repo-x");
    // The server's time in µs: 16 digits, back as an integer reply.
    CHECK(ra.granted[0].fence > 1'000'000'000'000'000ULL);
    CHECK_FALSE(ra.granted[0].already_held);

    AcquireResult rb = r.take(b, {"repo-x"});
    REQUIRE(rb.status == AcquireResult::Status::Busy);
    REQUIRE(rb.busy);
    CHECK(rb.busy->name == "repo-x");
    CHECK(rb.busy->holder.session == "a");
    CHECK(rb.busy->holder.nonce == a.nonce);
    CHECK(rb.busy->holder.pid == 4242);
    CHECK(rb.busy->holder.fence == ra.granted[0].fence);
    CHECK(rb.busy->holder.acquired_ms == ra.granted[0].acquired_ms);
    CHECK(rb.busy->host == "host-a");
    CHECK(rb.busy->holder_pttl_ms > 0);
    CHECK(rb.busy->wake_id == "0-0");
    // The record still names only a.
    auto rec = r.record("repo-x");
    REQUIRE(rec["holders"].size() == 1);
    CHECK(rec["holders"][0]["session"] == "a");
    CHECK(rec["holders"][0]["fence"].get<uint64_t>() == ra.granted[0].fence);
}

TEST_CASE("a session unknown to the server, or of another nonce, gets nothing") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord ghost = make_session("ghost");
    CHECK(r.take(ghost, {"x"}).status == AcquireResult::Status::NoSession);
    SessionRecord a = r.session("a");
    SessionRecord old = a;
    old.nonce = new_nonce();
    CHECK(r.take(old, {"x"}).status == AcquireResult::Status::NoSession);
    CHECK_FALSE(r.exists(r.k.claim("x")));
    CHECK_FALSE(r.exists(r.k.fence("x")));
}

TEST_CASE("shared holders together, never with an exclusive one") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b"), c = r.session("c");
    AcquireResult ra = r.take(a, {"db"}, Mode::Shared);
    AcquireResult rb = r.take(b, {"db"}, Mode::Shared);
    REQUIRE(ra.status == AcquireResult::Status::Acquired);
    REQUIRE(rb.status == AcquireResult::Status::Acquired);
    CHECK(rb.granted[0].fence > ra.granted[0].fence);
    CHECK(r.record("db")["holders"].size() == 2);
    AcquireResult rc = r.take(c, {"db"}, Mode::Exclusive);
    REQUIRE(rc.status == AcquireResult::Status::Busy);
    CHECK(rc.busy->mode == Mode::Shared);
    // A shared holder cannot turn exclusive while another shares.
    CHECK(r.take(a, {"db"}, Mode::Exclusive).status == AcquireResult::Status::Busy);

    release(r.c, r.k, caller(a), {"db"});
    CHECK(r.take(c, {"db"}, Mode::Exclusive).status == AcquireResult::Status::Busy);
    release(r.c, r.k, caller(b), {"db"});
    AcquireResult rc2 = r.take(c, {"db"}, Mode::Exclusive);
    REQUIRE(rc2.status == AcquireResult::Status::Acquired);
    CHECK(rc2.granted[0].fence > rb.granted[0].fence);
    AcquireResult shared_again = r.take(a, {"db"}, Mode::Shared);
    REQUIRE(shared_again.status == AcquireResult::Status::Busy);
    CHECK(shared_again.busy->holder.session == "c");
    // The exclusive holder asking for shared: already held (exclusive covers it).
    AcquireResult cs = r.take(c, {"db"}, Mode::Shared);
    REQUIRE(cs.status == AcquireResult::Status::Acquired);
    CHECK(cs.granted[0].already_held);
    CHECK(cs.granted[0].mode == Mode::Exclusive);
    CHECK(cs.granted[0].fence == rc2.granted[0].fence);
}

TEST_CASE("the only shared holder may turn exclusive, with a new fence") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b");
    AcquireResult s = r.take(a, {"db"}, Mode::Shared);
    AcquireResult x = r.take(a, {"db"}, Mode::Exclusive);
    REQUIRE(x.status == AcquireResult::Status::Acquired);
    CHECK_FALSE(x.granted[0].already_held);
    CHECK(x.granted[0].fence > s.granted[0].fence);
    CHECK(r.record("db")["mode"] == "exclusive");
    CHECK(r.record("db")["holders"].size() == 1);
    CHECK(r.take(b, {"db"}, Mode::Shared).status == AcquireResult::Status::Busy);
}

TEST_CASE("several names are all or nothing") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b");
    REQUIRE(r.take(b, {"m"}).status == AcquireResult::Status::Acquired);
    AcquireResult ra = r.take(a, {"z", "m", "a"});
    REQUIRE(ra.status == AcquireResult::Status::Busy);
    CHECK(ra.busy->name == "m");
    for (const char* n : {"a", "z"}) {
        CHECK_FALSE(r.exists(r.k.claim(n)));
        CHECK_FALSE(r.exists(r.k.fence(n)));
    }
    CHECK(r.c.command({"SCARD", r.k.session_claims("a")}).integer == 0);
    CHECK(r.record("m")["holders"][0]["session"] == "b");

    release(r.c, r.k, caller(b), {"m"});
    AcquireResult all = r.take(a, {"z", "m", "a", "m"});
    REQUIRE(all.status == AcquireResult::Status::Acquired);
    REQUIRE(all.granted.size() == 3);
    CHECK(all.granted[0].name == "a");
    CHECK(all.granted[1].name == "m");
    CHECK(all.granted[2].name == "z");
    CHECK(r.c.command({"SCARD", r.k.session_claims("a")}).integer == 3);
}

TEST_CASE("claiming again by the holder keeps the fence; a TTL restarts the expiry") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a");
    AcquireResult first = r.take(a, {"x"});
    AcquireResult again = r.take(a, {"x"});
    REQUIRE(again.status == AcquireResult::Status::Acquired);
    CHECK(again.granted[0].already_held);
    CHECK(again.granted[0].fence == first.granted[0].fence);
    CHECK(again.granted[0].expires_ms == 0);
    AcquireResult with_ttl = r.take(a, {"x"}, Mode::Exclusive, 60'000);
    CHECK(with_ttl.granted[0].already_held);
    CHECK(with_ttl.granted[0].fence == first.granted[0].fence);
    CHECK(with_ttl.granted[0].expires_ms >= with_ttl.granted[0].acquired_ms + 60'000);
    CHECK(r.record("x")["holders"][0]["expires_ms"] == with_ttl.granted[0].expires_ms);
    // Only one acquisition event.
    int acquired = 0;
    for (const auto& [ev, data] : r.events())
        if (ev == "claim.acquired") ++acquired;
    CHECK(acquired == 1);
}

TEST_CASE("a holder whose session key expired or was deleted is taken over") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b"), c = r.session("c");
    AcquireResult ra = r.take(a, {"x"});
    REQUIRE(r.take(b, {"x"}).status == AcquireResult::Status::Busy);
    r.c.command({"PEXPIRE", r.k.session("a"), "1"});
    REQUIRE(wait_until([&] { return !r.exists(r.k.session("a")); }));
    AcquireResult rb = r.take(b, {"x"});
    REQUIRE(rb.status == AcquireResult::Status::Acquired);
    CHECK(rb.granted[0].fence > ra.granted[0].fence);
    auto rec = r.record("x");
    REQUIRE(rec["holders"].size() == 1);
    CHECK(rec["holders"][0]["session"] == "b");
    auto evs = r.events();
    REQUIRE(!evs.empty());
    CHECK(evs.back().first == "claim.acquired");
    CHECK(evs.back().second["took_over"] == nlohmann::json::array({"a"}));

    r.c.command({"DEL", r.k.session("b")});
    AcquireResult rc = r.take(c, {"x"});
    REQUIRE(rc.status == AcquireResult::Status::Acquired);
    CHECK(rc.granted[0].fence > rb.granted[0].fence);
}

TEST_CASE("a new incarnation of the same session id does not inherit the old one's claims") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b");
    REQUIRE(r.take(a, {"x"}).status == AcquireResult::Status::Acquired);
    r.c.command({"DEL", r.k.session("a")});
    SessionRecord a2 = r.session("a"); // same id, new nonce
    CHECK(release(r.c, r.k, caller(a2), {"x"})[0].result == ReleaseResult::HeldByOther);
    AcquireResult again = r.take(a2, {"x"});
    REQUIRE(again.status == AcquireResult::Status::Acquired);
    CHECK_FALSE(again.granted[0].already_held);
    CHECK(r.take(b, {"x"}).status == AcquireResult::Status::Busy);
}

TEST_CASE("a holder past its claim TTL is taken over") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b");
    AcquireResult ra = r.take(a, {"x"}, Mode::Exclusive, 1);
    REQUIRE(ra.status == AcquireResult::Status::Acquired);
    sleep_ms(5);
    AcquireResult rb = r.take(b, {"x"});
    REQUIRE(rb.status == AcquireResult::Status::Acquired);
    CHECK(rb.granted[0].fence > ra.granted[0].fence);
    // An expired hold is not renewed back to life.
    CHECK(renew(r.c, r.k, caller(a), {"x"})[0].result == RenewResult::HeldByOther);
}

TEST_CASE("sessions the caller verified dead are taken over while their keys live") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b"), c = r.session("c");
    AcquireResult ra = r.take(a, {"x"});
    AcquireArgs other_dead = args(c, {"x"});
    other_dead.dead = {"b"};
    CHECK(acquire(r.c, r.k, other_dead).status == AcquireResult::Status::Busy);
    AcquireArgs with_dead = args(c, {"x"});
    with_dead.dead = {"a", "b"};
    AcquireResult rc = acquire(r.c, r.k, with_dead);
    REQUIRE(rc.status == AcquireResult::Status::Acquired);
    CHECK(rc.granted[0].fence > ra.granted[0].fence);
    CHECK(r.record("x")["holders"][0]["session"] == "c");
}
TEST_CASE("fences strictly increase across releases, take-overs and a FLUSHALL") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b");
    std::vector<uint64_t> fences;
    for (int i = 0; i < 20; ++i) {
        SessionRecord& who = i % 2 ? a : b;
        AcquireResult g = r.take(who, {"x"});
        REQUIRE(g.status == AcquireResult::Status::Acquired);
        fences.push_back(g.granted[0].fence);
        if (i % 3 == 0) {
            // Left behind by a session that ended: the next one takes over.
            r.c.command({"DEL", r.k.session(who.id)});
            who.nonce = new_nonce();
            REQUIRE(session_put(r.c, r.k, who, 30'000) == PutResult::Created);
        } else {
            release(r.c, r.k, caller(who), {"x"});
        }
    }
    // The counter is gone: the server's time in µs keeps the order.
    r.c.command({"FLUSHALL"});
    REQUIRE(session_put(r.c, r.k, a, 30'000) == PutResult::Created);
    AcquireResult after = r.take(a, {"x"});
    REQUIRE(after.status == AcquireResult::Status::Acquired);
    fences.push_back(after.granted[0].fence);
    for (size_t i = 1; i < fences.size(); ++i) {
        CAPTURE(i);
        CHECK(fences[i] > fences[i - 1]);
    }
    Value t = r.c.command({"TIME"});
    const uint64_t server_us =
        std::stoull(t.elements.at(0).str) * 1'000'000 + std::stoull(t.elements.at(1).str);
    CHECK(after.granted[0].fence <= server_us);
    CHECK(r.c.command({"GET", r.k.fence("x")}).str == std::to_string(after.granted[0].fence));
}

TEST_CASE("fences and claims survive a restart of Redis with persistence") {
    LOOP_REQUIRE_REDIS();
    RedisServer server(RedisServer::Options{true, {}});
    Keys k;
    SessionRecord a = make_session("a"), b = make_session("b");
    uint64_t before = 0;
    {
        RedisClient c(server.url());
        REQUIRE(session_put(c, k, a, 30'000) == PutResult::Created);
        REQUIRE(session_put(c, k, b, 30'000) == PutResult::Created);
        AcquireResult g = acquire(c, k, args(a, {"x"}));
        REQUIRE(g.status == AcquireResult::Status::Acquired);
        before = g.granted[0].fence;
    }
    server.restart();
    RedisClient c(server.url());
    CHECK(acquire(c, k, args(b, {"x"})).status == AcquireResult::Status::Busy);
    release(c, k, caller(a), {"x"});
    AcquireResult g = acquire(c, k, args(b, {"x"}));
    REQUIRE(g.status == AcquireResult::Status::Acquired);
    CHECK(g.granted[0].fence > before);
}
TEST_CASE("a corrupt record stops the script before it writes") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a");
    r.c.command({"SET", r.k.claim("bad"), "{not json"});
    try {
        r.take(a, {"a-first", "bad"});
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Failure);
        CHECK(e.message().find("corrupt claim record at loop:claim:bad") != std::string::npos);
    }
    CHECK_FALSE(r.exists(r.k.claim("a-first")));
    CHECK_FALSE(r.exists(r.k.fence("a-first")));
}

TEST_CASE("records keep every integer exact, and text that looks like a swapped one stays text") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b");
    // The scripts' JSON writer swaps integers of 15 digits and more (fences)
    // for "\1DIGITS" around cjson; a caller's own text of that shape must
    // come back as it was given.
    const std::string marked = std::string("\x01") + "1234567890123456";
    AcquireArgs plain = args(a, {"p"});
    AcquireResult rp = acquire(r.c, r.k, plain);
    REQUIRE(rp.status == AcquireResult::Status::Acquired);
    CHECK(rp.granted[0].fence >= 1'000'000'000'000'000ULL); // the server's time in µs
    auto rec = r.record("p");
    CHECK(rec["holders"][0]["fence"].get<uint64_t>() == rp.granted[0].fence);
    CHECK(rec["holders"][0]["reason"] == "");

    AcquireArgs odd = args(a, {"q"});
    odd.reason = marked;
    odd.meta = {{marked, marked}, {"k", std::string("\x01") + "7"}};
    AcquireResult rq = acquire(r.c, r.k, odd);
    REQUIRE(rq.status == AcquireResult::Status::Acquired);
    rec = r.record("q");
    CHECK(rec["holders"][0]["fence"].get<uint64_t>() == rq.granted[0].fence);
    CHECK(rec["holders"][0]["reason"] == marked);
    CHECK(rec["holders"][0]["meta"][marked] == marked);
    CHECK(rec["holders"][0]["meta"]["k"] == std::string("\x01") + "7");
    AcquireResult busy = r.take(b, {"q"});
    REQUIRE(busy.status == AcquireResult::Status::Busy);
    CHECK(busy.busy->holder.fence == rq.granted[0].fence);
    CHECK(busy.busy->holder.reason == marked);
    CHECK(busy.busy->holder.meta.at(marked) == marked);
    bool seen = false;
    for (const auto& [ev, data] : r.events()) {
        if (ev != "claim.acquired" || data["name"] != "q") continue;
        seen = true;
        CHECK(data["fence"].get<uint64_t>() == rq.granted[0].fence);
    }
    CHECK(seen);
}
