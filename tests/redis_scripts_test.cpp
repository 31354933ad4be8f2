// The Redis backend's server-side scripts against a real redis-server:
// exclusion, shared/exclusive, all-or-nothing, idempotence, take-over of
// invalid holders, owner-only release, force, renew, fences, key prefixes,
// and many processes racing with their own connections.
#include "core/error.hpp"
#include "core/sessions.hpp"
#include "redis_server.hpp"
#include "store/redis/redis_scripts.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <set>

using namespace loop;
using namespace loop::redis;
using namespace loop::test;

namespace {

SessionRecord make_session(const std::string& id) {
    SessionRecord s;
    s.id = id;
    s.nonce = new_nonce();
    s.kind = "explicit";
    s.host = "host-" + id;
    s.ttl_ms = 30'000;
    return s;
}

Caller caller(const SessionRecord& s) {
    return {s.id, s.nonce};
}

AcquireArgs args(const SessionRecord& s, std::vector<std::string> names,
                 Mode mode = Mode::Exclusive, int64_t ttl_ms = 0) {
    AcquireArgs a;
    a.who = caller(s);
    a.names = std::move(names);
    a.mode = mode;
    a.ttl_ms = ttl_ms;
    a.pid = 4242;
    a.host = s.host;
    return a;
}

struct Redis {
    explicit Redis(const std::string& prefix = "loop:") : c(server.url()) { k.prefix = prefix; }
    SessionRecord session(const std::string& id) {
        SessionRecord s = make_session(id);
        REQUIRE(session_put(c, k, s, 30'000) == PutResult::Created);
        return s;
    }
    AcquireResult take(const SessionRecord& s, std::vector<std::string> names,
                       Mode mode = Mode::Exclusive, int64_t ttl_ms = 0) {
        return acquire(c, k, args(s, std::move(names), mode, ttl_ms));
    }
    bool exists(const std::string& key) { return c.command({"EXISTS", key}).integer == 1; }
    nlohmann::json record(const std::string& name) {
        Value v = c.command({"GET", k.claim(name)});
        return v.is_nil() ? nlohmann::json() : nlohmann::json::parse(v.str);
    }
    // The events of the stream: (event, data).
    std::vector<std::pair<std::string, nlohmann::json>> events() {
        std::vector<std::pair<std::string, nlohmann::json>> out;
        for (const auto& e : c.command({"XRANGE", k.events(), "-", "+"}).elements) {
            const auto& f = e.elements.at(1).elements;
            REQUIRE(f.size() == 4);
            CHECK(f[0].str == "event");
            CHECK(f[2].str == "data");
            out.emplace_back(f[1].str, nlohmann::json::parse(f[3].str));
        }
        return out;
    }

    RedisServer server;
    RedisClient c;
    Keys k;
};

} // namespace

TEST_CASE("two sessions, one name: one wins, the other sees the holder") {
    LOOP_REQUIRE_REDIS();
    Redis r;
    SessionRecord a = r.session("a"), b = r.session("b");
    AcquireResult ra = r.take(a, {"repo-x"});
    REQUIRE(ra.status == AcquireResult::Status::Acquired);
    REQUIRE(ra.granted.size() == 1);
    CHECK(ra.granted[0].name == "repo-x");
    CHECK(ra.granted[0].fence > 0);
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

namespace {

constexpr int kRacers = 6;
constexpr int kRounds = 200;

struct RaceBoard {
    std::atomic<int> inside{0};
    std::atomic<long> overlaps{0};
    std::atomic<long> out_of_order{0};
    std::atomic<long> errors{0};
    std::atomic<long> acquisitions{0};
    std::atomic<uint64_t> last_fence{0};
    std::atomic<uint64_t> fences[kRacers * kRounds];
};

} // namespace

TEST_CASE("6 processes x 200 rounds racing for one name: never two inside, fences increase") {
    LOOP_REQUIRE_REDIS();
    RedisServer server;
    Shared<RaceBoard> board;
    Gate gate;
    std::vector<Child> kids;
    for (int i = 0; i < kRacers; ++i) {
        kids.push_back(fork_child([&, i] {
            RedisClient c(server.url(), 5'000);
            Keys k;
            SessionRecord me = make_session("racer-" + std::to_string(i));
            if (session_put(c, k, me, 60'000) != PutResult::Created) return 2;
            gate.pass();
            for (int round = 0; round < kRounds; ++round) {
                for (;;) {
                    AcquireResult r = acquire(c, k, args(me, {"hot"}));
                    if (r.status == AcquireResult::Status::Acquired) {
                        const uint64_t fence = r.granted.at(0).fence;
                        if (board->inside.fetch_add(1) != 0) board->overlaps++;
                        if (fence <= board->last_fence.load()) board->out_of_order++;
                        board->last_fence.store(fence);
                        long n = board->acquisitions.fetch_add(1);
                        if (n < kRacers * kRounds) board->fences[n].store(fence);
                        sleep_us(20);
                        board->inside.fetch_sub(1);
                        auto rel = release(c, k, caller(me), {"hot"});
                        if (rel.at(0).result != ReleaseResult::Released) board->errors++;
                        break;
                    }
                    if (r.status != AcquireResult::Status::Busy) {
                        board->errors++;
                        return 3;
                    }
                    // Wait for a release (or 50 ms) on the name's wake stream.
                    c.command({"XREAD", "BLOCK", "50", "STREAMS", k.wake("hot"), r.busy->wake_id});
                }
            }
            return 0;
        }));
    }
    gate.open();
    for (auto& kid : kids)
        CHECK(kid.finish(300'000) == 0);
    CHECK(board->overlaps.load() == 0);
    CHECK(board->out_of_order.load() == 0);
    CHECK(board->errors.load() == 0);
    REQUIRE(board->acquisitions.load() == kRacers * kRounds);
    std::set<uint64_t> unique;
    for (int i = 0; i < kRacers * kRounds; ++i) {
        unique.insert(board->fences[i].load());
        if (i > 0) CHECK(board->fences[i].load() > board->fences[i - 1].load());
    }
    CHECK(unique.size() == static_cast<size_t>(kRacers * kRounds));
}

namespace {

double median_us(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

double micros_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

TEST_CASE("figures: the acquire script's round trip, and a fresh process's claim (printed)") {
    LOOP_REQUIRE_REDIS();
    RedisServer server(RedisServer::Options{false, {"--requirepass", "bench-pw"}});
    redis::BackendUrl url = server.url();
    url.password = "bench-pw";
    RedisClient c(url);
    Keys k;
    SessionRecord me = make_session("bench");
    REQUIRE(session_put(c, k, me, 600'000) == PutResult::Created);
    std::vector<double> fresh_name, again;
    for (int i = 0; i < 1000; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        AcquireResult r = acquire(c, k, args(me, {"n" + std::to_string(i)}));
        fresh_name.push_back(micros_since(t0));
        REQUIRE(r.status == AcquireResult::Status::Acquired);
    }
    for (int i = 0; i < 1000; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        AcquireResult r = acquire(c, k, args(me, {"n0"}));
        again.push_back(micros_since(t0));
        REQUIRE(r.granted.at(0).already_held);
    }
    std::vector<double> process;
    const std::string url_text = "redis://:bench-pw@127.0.0.1:" + std::to_string(server.port());
    for (int i = 0; i < 100; ++i) {
        std::vector<std::string> argv = {LOOP_REDIS_PROBE, url_text, me.id, me.nonce, "p"};
        auto t0 = std::chrono::steady_clock::now();
        std::fflush(stdout);
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            std::vector<char*> av;
            for (auto& a : argv)
                av.push_back(a.data());
            av.push_back(nullptr);
            ::execv(av[0], av.data());
            ::_exit(127);
        }
        Child probe(pid);
        int code = probe.finish(20'000);
        process.push_back(micros_since(t0));
        REQUIRE(code == 0);
    }
    MESSAGE("acquire script, one new name, one connection: median " << median_us(fresh_name)
                                                                    << " us of 1000");
    MESSAGE("acquire script, re-claim (already held): median " << median_us(again)
                                                               << " us of 1000");
    MESSAGE("fresh process: exec + connect + AUTH + acquire + close: median " << median_us(process)
                                                                              << " us of 100");
}
