// `loop _ claim a b c` killed with SIGKILL at random moments: no file is
// left half-written, the three names are held all together or not at all,
// fences never repeat, and the state stays usable.
#include "core/core.hpp"
#include "core/error.hpp"
#include "store/file/lock_file.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>

using namespace loop;
using namespace loop::test;

namespace {

const std::vector<std::string> kNames = {"a", "b", "c"};

// Holders of `name` that belong to session `s` and are valid, judged as
// under the lock (the claimer is dead, so nothing is in progress).
bool held_by(Core& core, const std::string& name, const std::optional<SessionRecord>& s,
             bool as_locked) {
    if (!s) return false;
    auto rec = core.store.read(name);
    if (!rec) return false;
    for (const auto& h : rec->holders) {
        if (h.session != s->id || h.nonce != s->nonce) continue;
        if (core.claims.holder_verdict(h, as_locked, nullptr).life != Life::Dead) return true;
    }
    return false;
}

int64_t monotonic_us() {
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1'000;
}

// How long one uncontended `loop _ claim a b c` takes from fork to exit
// here (the median of three): the kill delays must cover all of it, also in
// a sanitizer build where it takes much longer.
int64_t claim_duration_us(const Env& env) {
    std::vector<int64_t> took;
    for (int i = 0; i < 3; ++i) {
        const int64_t t0 = monotonic_us();
        Child c = spawn_loop({"_", "claim", "a", "b", "c"}, env);
        REQUIRE(c.finish() == 0);
        took.push_back(monotonic_us() - t0);
        REQUIRE(run_loop({"_", "unclaim", "a", "b", "c"}, env).code == 0);
    }
    std::sort(took.begin(), took.end());
    return took[1];
}

} // namespace

TEST_CASE("crash: `loop _ claim a b c` killed at random moments") {
    TempDir home;
    const Env env = {{"LOOP_HOME", home.path()}};
    const uint64_t seed = test_seed();
    MESSAGE("seed " << seed << " (replay with LOOP_TEST_SEED=" << seed << ")");
    Rng rng(seed);
    // The implicit session of the `loop` processes is this process.
    Anchor me = anchor_of(::getpid(), ProcessProbe::system());
    const std::string my_id = Sessions::process_session_id(me.pid, me.start_ticks);

    // Kill delays: 0 to 3 ms, or up to 1.2 times the time a claim takes
    // when that is longer.
    const int64_t window_us = std::max<int64_t>(3'000, claim_duration_us(env) * 6 / 5);
    MESSAGE("kill delays from 0 to " << window_us << " us");
    constexpr int kRounds = 200;
    std::map<std::string, uint64_t> last_fence;
    int all_held = 0, none_held = 0, finished = 0, killed = 0, interrupted_holders = 0;
    int torn_event_lines = 0;
    for (int round = 0; round < kRounds; ++round) {
        CAPTURE(round);
        const int64_t delay_us =
            static_cast<int64_t>(rng.below(static_cast<uint64_t>(window_us) + 1));
        CAPTURE(delay_us);
        Child c = spawn_loop({"_", "claim", "a", "b", "c"}, env);
        sleep_us(delay_us);
        c.signal(SIGKILL);
        const int code = c.finish();
        CHECK((code == 0 || code == 128 + SIGKILL));
        if (code == 0) {
            ++finished;
        } else {
            ++killed;
        }

        Core core(home.path());
        // Every record parses.
        for (const auto& n : core.store.names()) {
            CAPTURE(n);
            CHECK_NOTHROW(core.store.read(n));
        }
        std::optional<SessionRecord> session;
        CHECK_NOTHROW(session = core.sessions.find(my_id));
        for (const auto& id : core.registry.ids())
            CHECK_NOTHROW(core.registry.read(id));

        // All or none, judged as a claimer under the lock would judge.
        int held = 0;
        for (const auto& n : kNames)
            held += held_by(core, n, session, true);
        CHECK((held == 0 || held == 3));
        if (code == 0) CHECK(held == 3);
        held == 3 ? ++all_held : ++none_held;

        // Fences are new: every holder on record, valid or not, has a fence
        // above every fence seen in earlier rounds (each round starts clean).
        for (const auto& n : kNames) {
            auto rec = core.store.read(n);
            if (!rec) continue;
            for (const auto& h : rec->holders) {
                CHECK(h.fence > last_fence[n]);
                last_fence[n] = std::max(last_fence[n], h.fence);
                if (!h.txn.empty() && !core.store.txn_committed(h.txn)) ++interrupted_holders;
            }
        }

        // A reaping pass removes the interrupted holders and the markers of
        // the dead claimer, and changes nothing about what is held.
        auto report = core.reaper.run(false);
        CHECK(report.warnings.empty());
        CHECK(core.store.txns().empty());
        int held_after = 0;
        for (const auto& n : kNames)
            held_after += held_by(core, n, session, false);
        CHECK(held_after == held);
        for (const auto& n : core.store.names()) {
            auto rec = core.store.read(n);
            REQUIRE(rec);
            for (const auto& h : rec->holders)
                CHECK(h.txn.empty());
        }

        // The fence counters are whole numbers of this boot.
        for (const auto& n : kNames) {
            if (!exists(home.sub("locks/" + n))) continue;
            const std::string t = read_text(home.sub("locks/" + n));
            uint64_t fence = 0;
            CHECK((t.empty() || (parse_fence_counter(t, &fence) == CounterText::Number &&
                                 header_boot(t) == os::boot_id())));
        }

        Run listing = run_loop({"claims", "--json"}, env);
        CHECK(listing.code == 0);
        auto j = nlohmann::json::parse(listing.out, nullptr, false);
        CHECK((j.is_array() && j.size() == static_cast<size_t>(held)));

        // Release everything for the next round.
        Run un = run_loop({"_", "unclaim", "a", "b", "c"}, env);
        CHECK(un.code == 0);
        for (const auto& n : kNames)
            CHECK_FALSE(exists(home.sub("claims/" + n)));
    }

    // The event log: one JSON object per line, none torn.
    for (const auto& line : lines_of(read_text(home.sub("events.jsonl")))) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || !j.is_object()) ++torn_event_lines;
    }
    CHECK(torn_event_lines == 0);

    // Still fully usable: a claim that runs to the end gets all three with
    // new fences.
    Run r = run_loop({"_", "claim", "a", "b", "c", "--json"}, env);
    REQUIRE(r.code == 0);
    auto j = nlohmann::json::parse(r.out);
    REQUIRE(j.size() == 3);
    for (const auto& g : j)
        CHECK(g["fence"].get<uint64_t>() > last_fence[g["name"]]);
    CHECK(run_loop({"_", "unclaim", "a", "b", "c"}, env).code == 0);

    MESSAGE(kRounds << " rounds: " << killed << " killed, " << finished << " finished; " << all_held
                    << " left all three held, " << none_held << " none; " << interrupted_holders
                    << " interrupted holders cleaned up");
}

TEST_CASE("crash: a killed `loop _ claim --wait` leaves nothing behind") {
    TempDir home;
    const Env env = {{"LOOP_HOME", home.path()}};
    Core core(home.path());
    SessionRecord other = core.sessions.start({}, ::getpid());
    AcquireRequest r;
    r.names = {"b"};
    REQUIRE(core.claims.try_acquire(other, r).acquired);
    const uint64_t seed = test_seed();
    MESSAGE("seed " << seed);
    Rng rng(seed);
    for (int round = 0; round < 20; ++round) {
        CAPTURE(round);
        // Waits for "b" (held): killed while waiting, or while giving up.
        Child c = spawn_loop({"_", "claim", "a", "b", "c", "--wait", "inf"}, env);
        sleep_us(static_cast<int64_t>(rng.below(20'000)));
        c.signal(SIGKILL);
        CHECK(c.finish() == 128 + SIGKILL);
        CHECK_FALSE(core.store.read("a"));
        CHECK_FALSE(core.store.read("c"));
        CHECK(core.store.read("b")->holders[0].session == other.id);
    }
}
