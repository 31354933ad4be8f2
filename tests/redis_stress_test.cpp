// Many processes racing for one name on a real redis-server, each with its
// own connection: a shared-memory count of holders catches any overlap and
// fences must increase in the order the critical section was entered. Also
// prints the figures of the claim path (not asserted).
#include "redis_fixture.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <set>

using namespace loop;
using namespace loop::redis;
using namespace loop::test;

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
