// The event log: lines appended by many processes at once stay whole events,
// and a line torn by a failed write never swallows the next one.
#include "core/events.hpp"
#include "core/home.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <set>

using namespace loop;
using namespace loop::test;

namespace {

// Appends `rounds` events one by one and `rounds` batches of events as big
// as a reaper's (over a page each, so that each is copied in several steps).
int append_many(const std::string& home_path, int writer, int rounds) {
    Home home(home_path);
    EventLog log(home);
    for (int r = 0; r < rounds; ++r) {
        log.append("test.single", {{"writer", writer}, {"n", r}});
        EventBatch batch(log);
        for (int i = 0; i < 60; ++i)
            batch.add("test.batched",
                      {{"writer", writer}, {"n", r}, {"i", i}, {"pad", std::string(100, 'x')}});
    }
    return 0;
}

} // namespace

TEST_CASE("events: appends from many processes at once are whole lines, none lost, none blank") {
    TempDir home;
    constexpr int kWriters = 4, kRounds = 150;
    std::vector<Child> writers;
    for (int w = 0; w < kWriters; ++w)
        writers.push_back(fork_child([&, w] { return append_many(home.path(), w, kRounds); }));
    for (auto& c : writers)
        CHECK(c.finish(120'000) == 0);

    int blank = 0, bad = 0;
    std::set<std::tuple<int, int, int>> seen;
    for (const auto& l : lines_of(read_text(home.path() + "/events.jsonl"))) {
        if (l.empty()) {
            ++blank;
            continue;
        }
        if (event_line_problem(l)) {
            ++bad;
            continue;
        }
        auto j = nlohmann::json::parse(l);
        seen.insert({j["writer"].get<int>(), j["n"].get<int>(), j.value("i", -1)});
    }
    CHECK(blank == 0);
    CHECK(bad == 0);
    CHECK(seen.size() == static_cast<size_t>(kWriters * kRounds * 61));
}

TEST_CASE("events: a line torn by an earlier failed write is ended, and the next event is whole") {
    TempDir home;
    write_text(home.path() + "/events.jsonl",
               "{\"ts\":\"2026-01-01T00:00:00.000Z\",\"event\":\"a\"}\n{\"ts\":\"2026-01-0");
    Home h(home.path());
    EventLog log(h);
    log.append("after.torn", {{"n", 1}});
    log.append("after.torn", {{"n", 2}});

    auto lines = lines_of(read_text(home.path() + "/events.jsonl"));
    REQUIRE(lines.size() >= 4);
    CHECK_FALSE(event_line_problem(lines[0]));
    CHECK(event_line_problem(lines[1])); // the torn one stays bad, on its own
    std::vector<int> whole;
    for (size_t i = 1; i < lines.size(); ++i) {
        CHECK_FALSE(lines[i].empty());
        if (event_line_problem(lines[i])) continue;
        whole.push_back(nlohmann::json::parse(lines[i])["n"].get<int>());
    }
    CHECK(whole == std::vector<int>{1, 2});
}

TEST_CASE("events: a line is one JSON object, keys in order, ts and event among them") {
    const std::string line = EventLog::line_of("claim.acquired", {{"name", "x"}, {"fence", 7}});
    REQUIRE(!line.empty());
    CHECK(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
    auto j = nlohmann::json::parse(line);
    CHECK(j["event"] == "claim.acquired");
    CHECK(j["name"] == "x");
    CHECK(j["fence"] == 7);
    CHECK_FALSE(event_problem(j).has_value());
    // Sorted keys, as every line before was written.
    CHECK(line.rfind("{\"event\":\"claim.acquired\",\"fence\":7,\"name\":\"x\",\"ts\":\"", 0) == 0);
    // No fields at all is an event still.
    auto bare = nlohmann::json::parse(EventLog::line_of("supervisor.started", {}));
    CHECK(bare.size() == 2);
    CHECK_FALSE(event_problem(bare).has_value());
}
