// Passes over many names (reap, listing) judge each session once, and
// stay exclusive while claimers, live holders and other passes race them.
#include "core/claims/verdict_cache.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <optional>

using namespace loop;
using namespace loop::test;

namespace {

// A file registry that counts the reads of each session record.
struct CountingRegistry : FileSessionRegistry {
    using FileSessionRegistry::FileSessionRegistry;
    std::map<std::string, int> reads;
    std::optional<SessionRecord> read(const std::string& id) override {
        reads[id]++;
        return FileSessionRegistry::read(id);
    }
};

// Claims, sessions and a reaper over one home, counting the session record
// reads and the /proc reads of each pid.
struct CountingCore {
    explicit CountingCore(const std::string& path)
        : home(path), store(home), registry(home), events(home),
          sessions(registry, events, counting_probe()), claims(store, sessions, events),
          reaper(claims, sessions) {}

    ProcessProbe counting_probe() {
        ProcessProbe p = ProcessProbe::system();
        p.info = [this](int pid) {
            proc_reads[pid]++;
            return os::proc_info(pid);
        };
        return p;
    }

    std::map<int, int> proc_reads;
    Home home;
    FileClaimStore store;
    CountingRegistry registry;
    EventLog events;
    Sessions sessions;
    Claims claims;
    Reaper reaper;
};

std::vector<std::string> numbered(const std::string& prefix, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i)
        out.push_back(prefix + std::to_string(i));
    return out;
}

} // namespace

TEST_CASE("verdicts: a reap pass judges each session once, however many claims it holds") {
    TempDir home;
    SessionRecord dead = dead_session(home.path(), numbered("d", 40));
    HoldingChild live(home.path(), numbered("l", 40));
    REQUIRE(live.acquired);
    CountingCore core(home.path());
    auto r = core.reaper.run(false);
    CHECK(r.claims.size() == 40);
    CHECK(list_dir(home.sub("claims")) == [] {
        auto n = numbered("l", 40);
        std::sort(n.begin(), n.end());
        return n;
    }());
    // Once for the claims, once more by the sweep of session records.
    CHECK(core.registry.reads[dead.id] <= 2);
    CHECK(core.registry.reads[live.session.id] <= 2);
    CHECK(core.proc_reads[dead.anchor->pid] == 1);
    CHECK(core.proc_reads[live.pid()] == 1);
    // Every stale holder is still in the event log, one whole line each.
    auto lines = lines_of(read_text(home.sub("events.jsonl")));
    int reaped = 0;
    for (const auto& l : lines) {
        CHECK_FALSE(event_line_problem(l));
        if (l.find("\"claim.reaped\"") != std::string::npos) reaped++;
    }
    CHECK(reaped == 40);
}

TEST_CASE("verdicts: listing all claims judges each session once") {
    TempDir home;
    dead_session(home.path(), numbered("d", 30));
    HoldingChild live(home.path(), numbered("l", 30));
    REQUIRE(live.acquired);
    CountingCore core(home.path());
    std::vector<std::string> errors;
    auto all = core.claims.all(&errors);
    CHECK(errors.empty());
    REQUIRE(all.size() == 60);
    for (const auto& v : all) {
        CHECK(v.verdict.life == (v.name[0] == 'l' ? Life::Alive : Life::Dead));
        if (v.name[0] == 'l') CHECK(v.session);
    }
    CHECK(core.registry.reads[live.session.id] == 1);
    CHECK(core.proc_reads[live.pid()] == 1);
}

namespace {

constexpr int kContended = 16;

struct RaceBoard {
    std::atomic<int> stop{0};
    std::atomic<int> slot[kContended]; // pid of the process inside the name, 0: none
    std::atomic<long> acquired{0}, overlaps{0}, live_taken{0}, errors{0};
    std::atomic<long> passes{0}, reaped{0}, live_reaped{0}, parallel_passes{0};
};

bool running_pid(int pid) {
    os::ProcInfo p = os::proc_info(pid);
    return p.state == os::ProcInfo::State::Running && !p.zombie;
}

// A claimer: a few attempts at random names, each held a moment and then
// released, or left behind by exiting (stale, for the reapers).
int race_claimer(const std::string& home, RaceBoard& b, uint64_t seed) {
    Core core(home);
    SessionRecord s = core.sessions.process_session(::getpid());
    Rng rng(seed);
    const int me = ::getpid();
    for (int attempt = 0; attempt < 4; ++attempt) {
        std::vector<std::string> names;
        std::vector<int> idx;
        for (int k = 0, n = 1 + static_cast<int>(rng.below(3)); k < n; ++k) {
            int i = static_cast<int>(rng.below(kContended));
            if (std::find(idx.begin(), idx.end(), i) != idx.end()) continue;
            idx.push_back(i);
            names.push_back("n" + std::to_string(i));
        }
        bool live = rng.below(8) == 0;
        if (live) names.push_back("live-" + std::to_string(rng.below(4)));
        AcquireOutcome out = core.claims.try_acquire(s, req(names));
        if (!out.acquired) continue;
        if (live) b.live_taken.fetch_add(1);
        b.acquired.fetch_add(1);
        for (int i : idx) {
            int prev = b.slot[i].exchange(me);
            if (prev != 0 && prev != me && running_pid(prev)) b.overlaps.fetch_add(1);
        }
        if (rng.below(2) == 0) sleep_us(static_cast<int64_t>(rng.below(300)));
        if (rng.below(3) == 0) return 0; // dies holding them
        for (int i : idx) {
            int expected = me;
            b.slot[i].compare_exchange_strong(expected, 0);
        }
        core.claims.release(s.id, s.nonce, names, false);
    }
    return 0;
}

int race_reaper(const std::string& home, RaceBoard& b) {
    Core core(home);
    while (!b.stop.load()) {
        try {
            ReapReport r = core.reaper.run(false, 0);
            b.passes.fetch_add(1);
            if (r.workers > 1) b.parallel_passes.fetch_add(1);
            b.reaped.fetch_add(static_cast<long>(r.claims.size()));
            for (const auto& c : r.claims)
                if (c.name.rfind("live-", 0) == 0) b.live_reaped.fetch_add(1);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "reaper: %s\n", e.what());
            b.errors.fetch_add(1);
        }
    }
    return 0;
}

// Reapers race claimers over the contended names; `ballast` more names are
// held by a live session, so that with thousands every pass is shared out
// between threads (core/claims/reaper.cpp).
void race_reapers_and_claimers(int ballast) {
    TempDir home;
    HoldingChild holder_a(home.path(), {"live-0", "live-1"});
    HoldingChild holder_b(home.path(), {"live-2", "live-3"});
    REQUIRE(holder_a.acquired);
    REQUIRE(holder_b.acquired);
    std::optional<HoldingChild> heavy;
    if (ballast > 0) {
        heavy.emplace(home.path(), numbered("live-b", ballast));
        REQUIRE(heavy->acquired);
    }
    Shared<RaceBoard> b;
    const uint64_t seed = test_seed();
    INFO("seed " << seed << " (LOOP_TEST_SEED replays it)");
    Rng rng(seed);
    std::vector<Child> reapers;
    for (int i = 0; i < 2; ++i)
        reapers.push_back(fork_child([&] { return race_reaper(home.path(), *b); }));
    for (int round = 0; round < 20; ++round) {
        std::vector<Child> claimers;
        for (int i = 0; i < 6; ++i) {
            uint64_t s = rng.next();
            claimers.push_back(fork_child([&, s] { return race_claimer(home.path(), *b, s); }));
        }
        for (auto& c : claimers)
            CHECK(c.finish(60'000) == 0);
        for (auto& slot : b->slot) // every claimer of the round is gone
            slot.store(0);
    }
    b->stop.store(1);
    for (auto& r : reapers)
        CHECK(r.finish(60'000) == 0);

    CHECK(b->errors.load() == 0);
    CHECK(b->acquired.load() > 0);
    CHECK(b->passes.load() > 0);
    CHECK(b->overlaps.load() == 0);
    CHECK(b->live_taken.load() == 0);
    CHECK(b->live_reaped.load() == 0);
    if (ballast > 0 && os::cpu_count() > 1) CHECK(b->parallel_passes.load() > 0);
    // The live holders still hold their names; a last pass frees the rest.
    Core core(home.path());
    const long last = static_cast<long>(core.reaper.run(false, 0).claims.size());
    std::vector<std::string> held{"live-0", "live-1", "live-2", "live-3"};
    for (const auto& n : numbered("live-b", ballast))
        held.push_back(n);
    std::sort(held.begin(), held.end());
    CHECK(list_dir(home.sub("claims")) == held);
    for (const auto& [name, who] :
         {std::pair{"live-0", &holder_a}, std::pair{"live-1", &holder_a},
          std::pair{"live-2", &holder_b}, std::pair{"live-3", &holder_b}}) {
        auto rec = core.store.read(name);
        REQUIRE(rec);
        REQUIRE(rec->holders.size() == 1);
        CHECK(rec->holders[0].session == who->session.id);
    }
    // Every line of the log is a whole event, and every holder a pass
    // reported is in it once.
    long by_reap = 0;
    for (const auto& l : lines_of(read_text(home.sub("events.jsonl")))) {
        CHECK_FALSE(event_line_problem(l));
        auto j = nlohmann::json::parse(l, nullptr, false);
        if (j.value("by", "") == "reap") by_reap++;
    }
    CHECK(by_reap == b->reaped.load() + last);
}

} // namespace

TEST_CASE("verdicts: reap passes racing claimers and live holders over many names never break "
          "exclusion") {
    race_reapers_and_claimers(0);
}

TEST_CASE("verdicts: reap passes shared out between threads (2048 live names more) racing "
          "claimers never break exclusion") {
    race_reapers_and_claimers(2048);
}
