// Many processes racing for one name over many rounds, while holders are
// killed at random and a reaper runs all the time. A critical-section
// occupancy slot in shared memory catches any overlap; fences are checked
// to be unique and increasing in the order the section was entered.
#include "core/core.hpp"
#include "core/error.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <set>

using namespace loop;
using namespace loop::test;

namespace {

constexpr int kMaxIncarnations = 4096;
constexpr int kMaxAcquisitions = 8192;

struct Board {
    std::atomic<int> stop{0};
    std::atomic<int> slot{0}; // incarnation + 1 inside the critical section, 0 when empty
    std::atomic<long> acquisitions{0};
    std::atomic<long> overlaps{0};     // entered while a live other was inside
    std::atomic<long> slot_stolen{0};  // the slot changed while we were inside
    std::atomic<long> out_of_order{0}; // a fence not above the previous holder's
    std::atomic<long> errors{0};
    std::atomic<long> timeouts{0};
    std::atomic<long> takeovers{0}; // entered after a killed holder
    std::atomic<uint64_t> last_fence{0};
    std::atomic<long> reaper_passes{0}, reaped{0}, reaper_errors{0};
    struct Incarnation {
        std::atomic<int> pid{0};
        std::atomic<uint64_t> ticks{0};
    } inc[kMaxIncarnations];
    std::atomic<uint64_t> fences[kMaxAcquisitions];
};

// Is incarnation `i` (pid plus start time) still running?
bool running(Board& b, int i) {
    int pid = b.inc[i].pid.load();
    if (pid <= 0) return false;
    os::ProcInfo p = os::proc_info(pid);
    return p.state == os::ProcInfo::State::Running && !p.zombie &&
           p.start_ticks == b.inc[i].ticks.load();
}

// The critical section, entered with `fence` by incarnation `me`.
void critical_section(Board& b, int me, uint64_t fence, Rng& rng) {
    int prev = b.slot.exchange(me + 1);
    if (prev != 0 && prev != me + 1) {
        if (running(b, prev - 1)) {
            b.overlaps.fetch_add(1);
        } else {
            b.takeovers.fetch_add(1);
        }
    }
    uint64_t last = b.last_fence.load();
    if (fence <= last) b.out_of_order.fetch_add(1);
    b.last_fence.store(fence);
    long k = b.acquisitions.fetch_add(1);
    if (k < kMaxAcquisitions) b.fences[k].store(fence);
    // Hold it a little, sometimes long enough to be killed inside.
    if (rng.below(4) == 0) sleep_us(static_cast<int64_t>(rng.below(500)));
    int expected = me + 1;
    if (!b.slot.compare_exchange_strong(expected, 0)) b.slot_stolen.fetch_add(1);
}

AcquireRequest req(const std::string& name) {
    AcquireRequest r;
    r.names = {name};
    return r;
}

// A worker using the library: its own process session.
int library_worker(const std::string& home, Board& b, int me, long target) {
    Core core(home);
    SessionRecord s = core.sessions.process_session(::getpid());
    b.inc[me].ticks.store(s.anchor->start_ticks);
    b.inc[me].pid.store(::getpid());
    Rng rng(os::random_u64());
    while (!b.stop.load() && b.acquisitions.load() < target) {
        try {
            AcquireOutcome out = core.claims.acquire(s, req("x"), 20'000);
            if (!out.acquired) {
                b.timeouts.fetch_add(1);
                continue;
            }
            critical_section(b, me, out.granted[0].holder.fence, rng);
            core.claims.release(s.id, s.nonce, {"x"}, false);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "worker %d: %s\n", me, e.what());
            b.errors.fetch_add(1);
        }
    }
    return 0;
}

// A worker using the binary: an explicit session anchored to itself,
// `loop _ claim x --session ID --wait 20s`, `loop _ unclaim x --session ID`.
int binary_worker(const std::string& home, Board& b, int me, long target) {
    Core core(home);
    StartOptions o;
    o.pid = ::getpid();
    SessionRecord s = core.sessions.start(o, ::getpid());
    b.inc[me].ticks.store(s.anchor->start_ticks);
    b.inc[me].pid.store(::getpid());
    Rng rng(os::random_u64());
    const Env env = {{"LOOP_HOME", home}};
    while (!b.stop.load() && b.acquisitions.load() < target) {
        Run r = run_loop({"_", "claim", "x", "--session", s.id, "--wait", "20s"}, env, 60'000);
        if (r.code == 1) {
            b.timeouts.fetch_add(1);
            continue;
        }
        unsigned long long fence = 0;
        if (r.code != 0 || std::sscanf(r.out.c_str(), "claimed x (fence %llu)", &fence) != 1) {
            std::fprintf(stderr, "worker %d: claim exited %d: %s%s\n", me, r.code, r.out.c_str(),
                         r.err.c_str());
            b.errors.fetch_add(1);
            continue;
        }
        critical_section(b, me, fence, rng);
        r = run_loop({"_", "unclaim", "x", "--session", s.id}, env, 60'000);
        if (r.code != 0) {
            std::fprintf(stderr, "worker %d: unclaim exited %d: %s\n", me, r.code, r.err.c_str());
            b.errors.fetch_add(1);
        }
    }
    return 0;
}

// The same critical section without taking the claim: the detector must
// see overlaps, or a run of the stress test proves nothing.
int unlocked_worker(Board& b, int me, long target) {
    b.inc[me].ticks.store(os::proc_info(::getpid()).start_ticks);
    b.inc[me].pid.store(::getpid());
    Rng rng(os::random_u64());
    while (!b.stop.load() && b.acquisitions.load() < target) {
        critical_section(b, me, b.last_fence.load() + 1, rng);
        sleep_us(static_cast<int64_t>(rng.below(50)));
    }
    return 0;
}

struct StressResult {
    long acquisitions = 0;
    int kills = 0;
    int holder_kills = 0;
};

// Runs `workers` processes (the first `binary_workers` of them through the
// binary) until `target` acquisitions, killing holders at random, with a
// reaper running throughout.
StressResult run_stress(int workers, int binary_workers, long target, uint64_t seed) {
    TempDir home;
    Shared<Board> b;
    Rng rng(seed);
    StressResult res;
    int next_inc = 0;

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
            b->reaper_passes.fetch_add(1);
            sleep_us(200);
        }
        return 0;
    });

    struct Worker {
        Child child;
        int inc = -1;
        bool binary = false;
    };
    std::vector<Worker> pool(static_cast<size_t>(workers));
    auto spawn = [&](Worker& w) {
        REQUIRE(next_inc < kMaxIncarnations);
        w.inc = next_inc++;
        const int me = w.inc;
        const bool binary = w.binary;
        w.child = fork_child([&, me, binary] {
            return binary ? binary_worker(home.path(), *b, me, target)
                          : library_worker(home.path(), *b, me, target);
        });
    };
    for (int i = 0; i < workers; ++i) {
        pool[static_cast<size_t>(i)].binary = i < binary_workers;
        spawn(pool[static_cast<size_t>(i)]);
    }

    const int64_t deadline = os::monotonic_ms() + 240'000;
    while (b->acquisitions.load() < target) {
        REQUIRE(os::monotonic_ms() < deadline);
        sleep_us(static_cast<int64_t>(1'000 + rng.below(9'000)));
        for (auto& w : pool) {
            if (w.child.poll()) {
                // A worker only leaves when the target is reached.
                CHECK(b->acquisitions.load() >= target);
                CHECK(code_of(w.child.status()) == 0);
            }
        }
        // Kill the holder now inside (or, sometimes, any worker), and
        // start a new incarnation in its place.
        int inside = b->slot.load();
        Worker* victim = nullptr;
        if (inside > 0 && rng.below(3) == 0) {
            for (auto& w : pool)
                if (w.inc == inside - 1 && !w.child.reaped()) victim = &w;
            if (victim) ++res.holder_kills;
        } else if (rng.below(20) == 0) {
            victim = &pool[rng.below(pool.size())];
            if (victim->child.reaped()) victim = nullptr;
        }
        if (victim && b->acquisitions.load() < target) {
            victim->child.kill_and_reap();
            ++res.kills;
            spawn(*victim);
        }
    }
    b->stop.store(1);
    for (auto& w : pool)
        CHECK(w.child.finish(60'000) == 0);
    CHECK(reaper.finish(60'000) == 0);

    res.acquisitions = b->acquisitions.load();
    CHECK(b->overlaps.load() == 0);
    CHECK(b->slot_stolen.load() == 0);
    CHECK(b->out_of_order.load() == 0);
    CHECK(b->errors.load() == 0);
    CHECK(b->reaper_errors.load() == 0);
    CHECK(b->timeouts.load() == 0);

    // Every recorded acquisition has its own fence. A worker killed between
    // counting and recording leaves a 0.
    std::vector<uint64_t> fences;
    long unrecorded = 0;
    const long n = std::min<long>(res.acquisitions, kMaxAcquisitions);
    for (long i = 0; i < n; ++i) {
        uint64_t f = b->fences[i].load();
        if (f == 0) {
            ++unrecorded;
        } else {
            fences.push_back(f);
        }
    }
    CHECK(unrecorded <= res.kills);
    REQUIRE_FALSE(fences.empty());
    std::set<uint64_t> distinct(fences.begin(), fences.end());
    CHECK(distinct.size() == fences.size());
    CHECK(std::is_sorted(fences.begin(), fences.end()));

    // Everyone is gone now: a last reap leaves nothing held.
    Core core(home.path());
    auto report = core.reaper.run(false, 0);
    CHECK(report.warnings.empty());
    CHECK(core.store.names().empty());
    CHECK(core.store.txns().empty());
    // The fence counter is past every fence handed out.
    CHECK(fences.back() <= b->last_fence.load());

    MESSAGE(workers << " workers (" << binary_workers << " via the binary), " << res.acquisitions
                    << " acquisitions, " << distinct.size() << " distinct fences (last "
                    << b->last_fence.load() << "), " << res.kills << " kills (" << res.holder_kills
                    << " inside the critical section), " << b->takeovers.load()
                    << " take-overs of killed holders, " << b->reaper_passes.load()
                    << " reaper passes reaping " << b->reaped.load() << " claims, seed " << seed);
    return res;
}

} // namespace

TEST_CASE("stress: 8 processes x 300 acquisitions of one name, holders killed, reaper running") {
    const uint64_t seed = test_seed();
    StressResult r = run_stress(8, 0, 8 * 300, seed);
    CHECK(r.acquisitions >= 8 * 300);
    CHECK(r.kills > 0);
}

TEST_CASE("stress: half of the processes claim through the binary") {
    const uint64_t seed = test_seed();
    StressResult r = run_stress(8, 4, 600, seed);
    CHECK(r.acquisitions >= 600);
}

TEST_CASE("stress: the overlap detector sees overlaps when nothing is claimed") {
    Shared<Board> b;
    std::vector<Child> kids;
    for (int i = 0; i < 4; ++i)
        kids.push_back(fork_child([&, i] { return unlocked_worker(*b, i, 20'000); }));
    bool seen =
        wait_until([&] { return b->overlaps.load() > 0 && b->slot_stolen.load() > 0; }, 30'000);
    b->stop.store(1);
    for (auto& k : kids)
        CHECK(k.finish() == 0);
    CHECK(seen);
    CHECK(b->overlaps.load() > 0);
    CHECK(b->slot_stolen.load() > 0);
}
