// ClaimKeeper (core/claims/claim_keeper.cpp): what `with` keeps its claims alive
// with, and how it notices one lost (SPEC section 3, `with --ttl`).
#include "core/claims/claim_keeper.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

using namespace loop;
using namespace loop::test;

namespace {

// The clock the keeper schedules renewals on, moved by hand.
struct FakeClock {
    ProcessProbe probe = ProcessProbe::system();
    int64_t now = 1'000'000;
    FakeClock() {
        probe.boot_ms = [this] { return now; };
    }
};

std::vector<Granted> take(Core& core, const SessionRecord& s, std::vector<std::string> names,
                          int64_t ttl_ms = 0) {
    AcquireRequest r = req(std::move(names));
    r.ttl_ms = ttl_ms;
    auto out = core.claims.try_acquire(s, r);
    REQUIRE(out.acquired);
    return out.granted;
}

} // namespace

TEST_CASE("keeper: without a TTL nothing is due; held claims are not lost") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    FakeClock clock;
    ClaimKeeper keeper(core.claims, clock.probe, me, take(core, me, {"a", "b"}));
    CHECK(keeper.next_due_ms() == -1);
    CHECK_FALSE(keeper.check());
    CHECK(keeper.held() == std::vector<std::string>{"a", "b"});
}

TEST_CASE("keeper: a claim released by force is lost, and no longer held") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    SessionRecord other = core.sessions.start({}, ::getpid());
    FakeClock clock;
    ClaimKeeper keeper(core.claims, clock.probe, me, take(core, me, {"a", "b"}));
    core.claims.release(other.id, other.nonce, {"b"}, true);
    auto lost = keeper.check();
    REQUIRE(lost);
    CHECK(lost->name == "b");
    CHECK(lost->why == "released by another session");
    CHECK(keeper.held() == std::vector<std::string>{"a"});
    CHECK_FALSE(keeper.check()); // reported once
}

TEST_CASE("keeper: a claim taken over names the new holder") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    SessionRecord other = core.sessions.start({}, ::getpid());
    FakeClock clock;
    ClaimKeeper keeper(core.claims, clock.probe, me, take(core, me, {"a"}));
    core.claims.release(other.id, other.nonce, {"a"}, true);
    auto fence = take(core, other, {"a"})[0].holder.fence;
    auto lost = keeper.check();
    REQUIRE(lost);
    CHECK(lost->why ==
          "now held by session " + other.id + " (fence " + std::to_string(fence) + ")");
}

TEST_CASE("keeper: the claim of a session that ended is lost") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    FakeClock clock;
    ClaimKeeper keeper(core.claims, clock.probe, me, take(core, me, {"a"}));
    core.sessions.end(me.id);
    auto lost = keeper.check();
    REQUIRE(lost);
    CHECK(lost->name == "a");
    CHECK_FALSE(lost->why.empty());
}

TEST_CASE("keeper: renews every third of the TTL, moving the expiry") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    FakeClock clock;
    const int64_t ttl = 3'000'000; // long enough that the real clock never expires it
    ClaimKeeper keeper(core.claims, clock.probe, me, take(core, me, {"a"}, ttl));
    CHECK(keeper.next_due_ms() == ttl / 3);
    const int64_t before = core.store.read("a")->holders[0].expires_boot_ms;
    // Not due yet: nothing is written.
    clock.now += ttl / 3 - 1;
    CHECK_FALSE(keeper.check());
    CHECK(core.store.read("a")->holders[0].expires_boot_ms == before);
    CHECK(keeper.next_due_ms() == 1);
    clock.now += 1;
    CHECK(keeper.next_due_ms() == 0);
    sleep_ms(2); // the renewal's real clock reading is later than the grant's
    CHECK_FALSE(keeper.check());
    CHECK(core.store.read("a")->holders[0].expires_boot_ms > before);
    CHECK(keeper.next_due_ms() == ttl / 3);
}

TEST_CASE("keeper: a claim that expired is lost, also when nobody took it") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    FakeClock clock;
    ClaimKeeper keeper(core.claims, clock.probe, me, take(core, me, {"a"}, 1));
    sleep_ms(5); // past the 1 ms TTL on the real clock
    auto lost = keeper.check();
    REQUIRE(lost);
    CHECK(lost->name == "a");
    CHECK(keeper.held().empty());
}
