#include "core/error.hpp"
#include "core/supervisor/control.hpp"
#include "core/supervisor/playbook.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace loop;

namespace {

Playbook book(const std::string& workers, const std::string& top = "") {
    return parse_playbook("{" + top + "\"workers\": {" + workers + "}}", "p.json", "/");
}

Exit code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    return Exit::Ok;
}

using Phase = RolloutReplica::Phase;

} // namespace

TEST_CASE("control: a target is WORKER or WORKER.N, N from 1") {
    CHECK(parse_target("w").worker == "w");
    CHECK(parse_target("w").replica == 0);
    CHECK(parse_target("idx-2.12").worker == "idx-2");
    CHECK(parse_target("idx-2.12").replica == 12);
    for (const char* bad :
         {"", ".1", "w.", "w.0", "w.01", "w.+1", "w.x", "w.1.2", "w.-1", "a b", "w.99999999999"})
        CHECK_MESSAGE(code_of([&] { parse_target(bad); }) == Exit::Usage, bad);
}

TEST_CASE("control: a target names replicas the playbook has, else usage") {
    Playbook pb = book(R"("w": {"run": "true", "replicas": 3}, "z": {"run": "true"})");
    CHECK(resolve_target(pb, parse_target("w")) == std::vector<int>{1, 2, 3});
    CHECK(resolve_target(pb, parse_target("w.2")) == std::vector<int>{2});
    CHECK(code_of([&] { resolve_target(pb, parse_target("w.4")); }) == Exit::Usage);
    try {
        resolve_target(pb, parse_target("nope"));
        FAIL("accepted");
    } catch (const Error& e) {
        CHECK(e.message().find("no worker 'nope'") != std::string::npos);
        CHECK(e.message().find("workers: w, z") != std::string::npos);
    }
}

TEST_CASE("control: the diff of a reload") {
    Playbook old = book(R"("keep": {"run": "a"}, "grow": {"run": "a", "replicas": 2},
                           "change": {"run": "a"}, "tune": {"run": "a"}, "gone": {"run": "a"})");
    Playbook next = book(R"("keep": {"run": "a"}, "grow": {"run": "a", "replicas": 3},
                            "change": {"run": "b", "replicas": 2, "rollout": "all-at-once"},
                            "tune": {"run": "a", "stop_timeout": "1s"}, "new": {"run": "a"})",
                         R"("reap_interval": "1m", )");
    PlaybookDiff d = diff_playbooks(old, next);
    CHECK(d.added == std::vector<std::string>{"new"});
    CHECK(d.removed == std::vector<std::string>{"gone"});
    CHECK(d.changed == std::vector<std::string>{"change"});
    CHECK(d.settings == std::vector<std::string>{"tune"});
    REQUIRE(d.resized.size() == 2);
    CHECK(d.resized[0].worker == "change");
    CHECK(d.resized[1].worker == "grow");
    CHECK(d.resized[1].from == 2);
    CHECK(d.resized[1].to == 3);
    CHECK(d.reap_changed);
    auto lines = describe_diff(diff_json(d, next));
    auto has = [&lines](const std::string& l) {
        return std::find(lines.begin(), lines.end(), l) != lines.end();
    };
    CHECK(has("added new (1 replica)"));
    CHECK(has("removed gone"));
    CHECK(has("changed change: restarting 2 replicas all at once"));
    CHECK(has("replicas grow: 2 -> 3"));
    CHECK(has("settings tune: applied without a restart"));
    CHECK(has("reap_interval 30s -> 1m00s"));
    CHECK_FALSE(std::any_of(lines.begin(), lines.end(),
                            [](const std::string& l) { return l.find("keep") != l.npos; }));
    CHECK(diff_playbooks(old, old).empty());
    CHECK(describe_diff(diff_json(diff_playbooks(old, old), old)) ==
          std::vector<std::string>{"no change"});
}

TEST_CASE("control: a rollout restarts the lowest outdated replica once none is restarting") {
    const int64_t up = 1000;
    // All outdated: the first.
    RolloutStep s = next_rollout_step({{1, Phase::Outdated}, {2, Phase::Outdated}}, up);
    CHECK(s.restart == 1);
    // One restarting: nothing now, no timer (its exit or start brings the next look).
    s = next_rollout_step({{1, Phase::Restarting}, {2, Phase::Outdated}}, up);
    CHECK(s.restart == 0);
    CHECK(s.wait_ms < 0);
    // Started 400 ms ago: look again in 600 ms.
    s = next_rollout_step({{1, Phase::Starting, 400}, {2, Phase::Outdated}}, up);
    CHECK(s.restart == 0);
    CHECK(s.wait_ms == 600);
    // Up: the next one; stopped ones are skipped.
    s = next_rollout_step({{1, Phase::Up}, {2, Phase::Other}, {3, Phase::Outdated}}, up);
    CHECK(s.restart == 3);
    // Nothing outdated: done, no timer even while one is starting.
    s = next_rollout_step({{1, Phase::Starting, 10}, {2, Phase::Up}}, up);
    CHECK(s.restart == 0);
    CHECK(s.wait_ms < 0);
}

TEST_CASE("control: an error reply carries its exit code") {
    auto j = control_error(Exit::Usage, "bad");
    CHECK(j["ok"] == false);
    CHECK(j["exit"] == 2);
    CHECK(j["error"] == "bad");
}
