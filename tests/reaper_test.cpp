// Reaping: what a pass removes (dead holders, expired TTLs, interrupted
// multi-name acquisitions, unneeded commit markers, old dead sessions) and
// what it must leave (live and undecidable holders).
#include "core/core.hpp"
#include "core/error.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>

using namespace loop;
using namespace loop::test;

namespace {

std::vector<std::string> reaped_names(const ReapReport& r) {
    std::vector<std::string> out;
    for (const auto& c : r.claims)
        out.push_back(c.name);
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

TEST_CASE("reap: removes dead and expired holders, keeps live ones") {
    TempDir home;
    Core core(home.path());
    SessionRecord live = core.sessions.start({}, ::getpid());
    SessionRecord dead = dead_session(home.path(), {"dead-1", "dead-2"});
    REQUIRE(core.claims.try_acquire(live, req({"live"})).acquired);
    REQUIRE(core.claims.try_acquire(live, req({"live-ttl"}, Mode::Exclusive, 3'600'000)).acquired);
    auto exp = core.claims.try_acquire(live, req({"expired"}, Mode::Exclusive, 20));
    REQUIRE(exp.acquired);
    const int64_t expires = exp.granted[0].holder.expires_ms;
    REQUIRE(wait_until([&] { return os::now_ms() > expires; }));

    SUBCASE("dry run: reports, removes nothing") {
        auto before = list_dir(home.sub("claims"));
        auto r = core.reaper.run(true, 0);
        CHECK(reaped_names(r) == std::vector<std::string>{"dead-1", "dead-2", "expired"});
        CHECK(list_dir(home.sub("claims")) == before);
        CHECK(core.registry.read(dead.id)); // nor sessions
    }
    SUBCASE("a pass") {
        auto r = core.reaper.run(false);
        CHECK(reaped_names(r) == std::vector<std::string>{"dead-1", "dead-2", "expired"});
        for (const auto& c : r.claims) {
            CHECK(c.expired == (c.name == "expired"));
            CHECK_FALSE(c.why.empty());
        }
        CHECK(list_dir(home.sub("claims")) == std::vector<std::string>{"live", "live-ttl"});
        // Dead sessions are kept for the retention period (default 1h)...
        CHECK(r.sessions.empty());
        CHECK(core.registry.read(dead.id));
        // ...and removed after it.
        auto r2 = core.reaper.run(false, 0);
        CHECK(r2.claims.empty());
        CHECK(r2.sessions == std::vector<std::string>{dead.id});
        CHECK_FALSE(core.registry.read(dead.id));
        CHECK(core.registry.read(live.id));
        // Events name what was reaped and why.
        int reaped = 0, expired = 0;
        for (const auto& line : lines_of(read_text(home.sub("events.jsonl")))) {
            auto j = nlohmann::json::parse(line);
            if (j["event"] == "claim.reaped") {
                ++reaped;
                CHECK(j["session"] == dead.id);
                CHECK(j["by"] == "reap");
            }
            if (j["event"] == "claim.expired") ++expired;
        }
        CHECK(reaped == 2);
        CHECK(expired == 1);
    }
}

TEST_CASE("reap: a shared claim loses only its dead holders") {
    TempDir home;
    Core core(home.path());
    SessionRecord live = core.sessions.start({}, ::getpid());
    HoldingChild d1(home.path(), {"s"}, Mode::Shared);
    REQUIRE(core.claims.try_acquire(live, req({"s"}, Mode::Shared)).acquired);
    HoldingChild d2(home.path(), {"s"}, Mode::Shared);
    REQUIRE(d1.acquired);
    REQUIRE(d2.acquired);
    REQUIRE(core.store.read("s")->holders.size() == 3);
    d1.kill();
    d2.kill();
    auto r = core.reaper.run(false);
    CHECK(r.claims.size() == 2);
    auto rec = core.store.read("s");
    REQUIRE(rec);
    CHECK(rec->mode == Mode::Shared);
    REQUIRE(rec->holders.size() == 1);
    CHECK(rec->holders[0].session == live.id);
    // Only dead ones: the record goes.
    core.sessions.end(live.id);
    CHECK(core.reaper.run(false).claims.size() == 1);
    CHECK_FALSE(core.store.read("s"));
}

TEST_CASE("reap: a second pass finds nothing; reaping is idempotent") {
    TempDir home;
    dead_session(home.path(), {"a", "b", "c"});
    Core core(home.path());
    CHECK(core.reaper.run(false, 0).claims.size() == 3);
    auto again = core.reaper.run(false, 0);
    CHECK(again.claims.empty());
    CHECK(again.sessions.empty());
    CHECK(again.txns.empty());
    CHECK(again.warnings.empty());
}

TEST_CASE("reap: commit markers of dead owners go, their committed holders stay valid") {
    TempDir home;
    Core core(home.path());
    SessionRecord live = core.sessions.start({}, ::getpid());
    // A claimer that committed and died before cleaning up: records still
    // refer to its marker.
    Child c = fork_child([] { return 0; });
    const int owner_pid = c.pid();
    const uint64_t owner_ticks = os::proc_info(owner_pid).start_ticks;
    REQUIRE(c.finish() == 0);
    const std::string txn = "t" + std::to_string(owner_pid) + "-00000000000000cc";
    {
        auto lock = core.store.lock({"p", "q"});
        for (const char* n : {"p", "q"}) {
            Holder h;
            h.session = live.id;
            h.nonce = live.nonce;
            h.fence = lock->next_fence(n);
            h.acquired_ms = os::now_ms();
            h.txn = txn;
            core.store.write({n, Mode::Exclusive, {h}});
        }
    }
    core.store.commit_txn(txn, Anchor{owner_pid, owner_ticks, ProcessProbe::system().boot_id,
                                      os::machine_id(), os::pid_namespace()});
    // A marker of a live owner (this process) stays.
    const std::string mine = "t" + std::to_string(::getpid()) + "-00000000000000dd";
    core.store.commit_txn(mine, anchor_of(::getpid(), ProcessProbe::system()));

    auto r = core.reaper.run(false);
    CHECK(r.claims.empty());
    CHECK(r.txns == std::vector<std::string>{txn});
    CHECK(core.store.txns() == std::vector<std::string>{mine});
    for (const char* n : {"p", "q"}) {
        auto rec = core.store.read(n);
        REQUIRE(rec);
        REQUIRE(rec->holders.size() == 1);
        CHECK(rec->holders[0].session == live.id);
        CHECK(rec->holders[0].txn.empty()); // no longer needs the marker
    }
    // And they stay valid under the lock now that the marker is gone.
    SessionRecord other = core.sessions.start({}, ::getpid());
    CHECK_FALSE(core.claims.try_acquire(other, req({"p"})).acquired);
    CHECK(core.reaper.run(false).claims.empty());
}

TEST_CASE("reap: heartbeat sessions past their TTL are dead, their claims reaped") {
    TempDir home;
    Core core(home.path());
    StartOptions o;
    o.ttl_ms = 1'000;
    SessionRecord s = core.sessions.start(o, ::getpid());
    REQUIRE(core.claims.try_acquire(s, req({"x"})).acquired);
    CHECK(core.reaper.run(false, 0).claims.empty()); // fresh heartbeat
    REQUIRE(wait_until([&] { return os::now_ms() > s.heartbeat_ms + o.ttl_ms + 1; }));
    auto r = core.reaper.run(false, 0);
    CHECK(reaped_names(r) == std::vector<std::string>{"x"});
    CHECK(r.sessions == std::vector<std::string>{s.id});
}

TEST_CASE("reap: `loop reap --json` through the binary") {
    TempDir home;
    SessionRecord dead = dead_session(home.path(), {"gone"});
    const Env env = {{"LOOP_HOME", home.path()}};
    Run dry = run_loop({"reap", "--dry-run", "--json"}, env);
    REQUIRE(dry.code == 0);
    auto j = nlohmann::json::parse(dry.out);
    CHECK(j["dry_run"] == true);
    REQUIRE(j["claims"].size() == 1);
    CHECK(j["claims"][0]["name"] == "gone");
    CHECK(j["claims"][0]["session"] == dead.id);
    CHECK(exists(home.sub("claims/gone")));

    Run real = run_loop({"reap"}, env);
    CHECK(real.code == 0);
    CHECK(real.out.find("gone") != std::string::npos);
    CHECK_FALSE(exists(home.sub("claims/gone")));
    Run claims = run_loop({"claims", "--json"}, env);
    CHECK(claims.code == 0);
    CHECK(nlohmann::json::parse(claims.out).empty());
}

TEST_CASE("reap: concurrent reapers agree, each stale holder is reaped once") {
    TempDir home;
    std::vector<std::string> names;
    for (int i = 0; i < 20; ++i)
        names.push_back("r" + std::to_string(i));
    dead_session(home.path(), names);
    struct Board {
        std::atomic<int> reaped{0}, errors{0};
    };
    Shared<Board> b;
    Gate go;
    std::vector<Child> reapers;
    for (int i = 0; i < 3; ++i) {
        reapers.push_back(fork_child([&] {
            Core core(home.path());
            go.pass();
            for (int pass = 0; pass < 3; ++pass) {
                try {
                    auto r = core.reaper.run(false, 0);
                    b->reaped.fetch_add(static_cast<int>(r.claims.size()));
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "reaper: %s\n", e.what());
                    b->errors.fetch_add(1);
                }
            }
            return 0;
        }));
    }
    go.open();
    for (auto& r : reapers)
        CHECK(r.finish() == 0);
    CHECK(b->errors.load() == 0);
    CHECK(b->reaped.load() == 20);
    CHECK(list_dir(home.sub("claims")).empty());
}

TEST_CASE("reap: a pass over thousands of names is shared out between threads, and reports each "
          "stale holder once, in name order") {
    TempDir home;
    auto numbered = [](const std::string& prefix, int n) {
        std::vector<std::string> out;
        for (int i = 0; i < n; ++i)
            out.push_back(prefix + std::to_string(i));
        return out;
    };
    dead_session(home.path(), numbered("d-a-", 1000));
    dead_session(home.path(), numbered("d-b-", 1000));
    HoldingChild live(home.path(), numbered("l-", 1000));
    REQUIRE(live.acquired);
    std::vector<std::string> dead = numbered("d-a-", 1000), kept = numbered("l-", 1000);
    for (const auto& n : numbered("d-b-", 1000))
        dead.push_back(n);
    std::sort(dead.begin(), dead.end());
    std::sort(kept.begin(), kept.end());
    Core core(home.path());
    const size_t workers = std::min<size_t>(2, static_cast<size_t>(os::cpu_count()));
    auto names_of = [](const ReapReport& r) {
        std::vector<std::string> out;
        for (const auto& c : r.claims)
            out.push_back(c.name);
        return out;
    };

    auto dry = core.reaper.run(true, 0);
    CHECK(dry.workers == workers);
    CHECK(names_of(dry) == dead); // in order, each once
    CHECK(list_dir(home.sub("claims")).size() == 3000);

    auto r = core.reaper.run(false, 0);
    CHECK(r.workers == workers);
    CHECK(names_of(r) == dead);
    CHECK(r.warnings.empty());
    CHECK(list_dir(home.sub("claims")) == kept);
    std::set<std::string> logged;
    for (const auto& line : lines_of(read_text(home.sub("events.jsonl")))) {
        auto j = nlohmann::json::parse(line); // every line a whole event
        if (j["event"] == "claim.reaped") CHECK(logged.insert(j["name"].get<std::string>()).second);
    }
    CHECK(logged.size() == dead.size());
    CHECK(core.reaper.run(false, 0).claims.empty());
}
