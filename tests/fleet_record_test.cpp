// core/supervisor/fleet_record: a supervisor's record in the fleet, as stored and shown.
#include "core/supervisor/fleet_record.hpp"

#include <doctest/doctest.h>

using namespace loop;
using nlohmann::json;

namespace {

SupervisorRecord sample() {
    SupervisorRecord r;
    r.id = "0123456789abcdef.89abcdef";
    r.host = "node-a";
    r.host_id = "0123456789abcdef";
    r.home = "/var/lib/loop";
    r.playbook = "/etc/loop/fleet.json";
    r.pid = 4242;
    r.started_ms = 1'764'646'800'000;
    r.replicas = json::array(
        {{{"session", "w.1"}, {"worker", "w"}, {"replica", 1}, {"state", "running"}, {"pid", 7}},
         {{"session", "w.2"}, {"worker", "w"}, {"replica", 2}, {"state", "backoff"}},
         {{"session", "x.1"}, {"worker", "x"}, {"replica", 1}, {"state", "running"}}});
    return r;
}

// HGETALL's reply for `r`, heartbeat_ms set as the script does.
std::vector<std::string> stored(const SupervisorRecord& r, int64_t heartbeat_ms) {
    std::vector<std::string> pairs = {"heartbeat_ms", std::to_string(heartbeat_ms)};
    for (const auto& f : record_fields(r))
        pairs.push_back(f);
    return pairs;
}

} // namespace

TEST_CASE("fleet_record: the record's fields read back as written") {
    SupervisorRecord r = sample();
    std::string why;
    auto back = record_of_fields(stored(r, r.started_ms + 5000), &why);
    REQUIRE(back);
    CHECK(back->id == r.id);
    CHECK(back->host == "node-a");
    CHECK(back->host_id == r.host_id);
    CHECK(back->home == r.home);
    CHECK(back->playbook == r.playbook);
    CHECK(back->pid == 4242);
    CHECK(back->started_ms == r.started_ms);
    CHECK(back->heartbeat_ms == r.started_ms + 5000);
    CHECK(back->replicas == r.replicas);
    CHECK(back->state == SupervisorRecord::State::Running);
}

TEST_CASE("fleet_record: fields that are not a record are refused, saying why") {
    SupervisorRecord r = sample();
    std::string why;
    CHECK_FALSE(record_of_fields({"id"}, &why));
    CHECK(why == "an odd number of fields");
    auto pairs = stored(r, 1);
    pairs[1] = "12x"; // heartbeat_ms
    CHECK_FALSE(record_of_fields(pairs, &why));
    CHECK(why == "no valid heartbeat_ms");
    r.pid = 0;
    CHECK_FALSE(record_of_fields(stored(r, 1), &why));
    CHECK(why == "no valid pid");
    r = sample();
    auto bad = stored(r, 1);
    bad.back() = "{\"not\": \"an array\"}"; // replicas
    CHECK_FALSE(record_of_fields(bad, &why));
    CHECK(why == "replicas is not a JSON array");
}

TEST_CASE("fleet_record: the summary says gone, or stopped once a stop was recorded") {
    SupervisorRecord r = sample();
    auto gone = record_of_summary(r.id, summary_text(r));
    REQUIRE(gone);
    CHECK(gone->state == SupervisorRecord::State::Gone);
    CHECK(gone->pid == 4242);
    CHECK(gone->host == "node-a");
    CHECK(gone->replicas.empty()); // not what runs now
    r.stopped_ms = r.started_ms + 60'000;
    auto stopped = record_of_summary(r.id, summary_text(r));
    REQUIRE(stopped);
    CHECK(stopped->state == SupervisorRecord::State::Stopped);
    CHECK(stopped->stopped_ms == r.stopped_ms);
    CHECK_FALSE(record_of_summary(r.id, "not json"));
    CHECK_FALSE(record_of_summary(r.id, "{\"pid\": \"x\"}"));
}

TEST_CASE("fleet_record: published replicas leave out what changes by itself") {
    json reps =
        json::array({{{"session", "w.1"}, {"backoff_left_ms", 1500}, {"state", "backoff"}}});
    json later =
        json::array({{{"session", "w.1"}, {"backoff_left_ms", 900}, {"state", "backoff"}}});
    CHECK(published_replicas(reps) == published_replicas(later));
    CHECK_FALSE(published_replicas(reps)[0].contains("backoff_left_ms"));
    CHECK(published_replicas(json()).empty());
}

TEST_CASE("fleet_record: status shows the workers per worker, and nothing of a gone one") {
    SupervisorRecord r = sample();
    CHECK(workers_cell(r.replicas) == "w 1/2 running, x 1/1 running");
    CHECK(workers_cell(json::array()) == "-");
    const int64_t now = r.started_ms + 90'000;
    json j = supervisor_json(r, now);
    CHECK(j["running"] == true);
    CHECK(j["state"] == "running");
    CHECK(j["uptime_s"] == 90);
    CHECK(j["pid"] == 4242);
    CHECK(j["replicas"].size() == 3);
    CHECK(j["stopped_at"].is_null());
    auto row = supervisor_row(r, now);
    REQUIRE(row.size() == supervisor_header().size());
    CHECK(row[1] == "01234567.89abcdef");
    CHECK(row[3] == "running");
    r.state = SupervisorRecord::State::Gone;
    r.heartbeat_ms = r.started_ms + 30'000;
    j = supervisor_json(r, now);
    CHECK(j["running"] == false);
    CHECK(j["state"] == "gone");
    CHECK(j["uptime_s"].is_null());
    CHECK(j["replicas"].empty());
    CHECK(j["heartbeat_at"].is_string());
    row = supervisor_row(r, now);
    CHECK(row[3] == "gone");
    CHECK(row[6] == "-");
    r.host = "evil\x1b[2J";
    CHECK(supervisor_row(r, now)[0].find('\x1b') == std::string::npos);
}
