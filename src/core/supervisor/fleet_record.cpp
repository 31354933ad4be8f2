#include "core/supervisor/fleet_record.hpp"

#include "core/text.hpp"

#include <charconv>
#include <map>

namespace loop {

using nlohmann::json;

namespace {

bool to_int(const std::string& s, int64_t* out) {
    const char* end = s.data() + s.size();
    auto [p, ec] = std::from_chars(s.data(), end, *out);
    return ec == std::errc() && p == end && !s.empty();
}

// "HOSTKEY8.HOME8" of "HOSTKEY16.HOME8": short, still one per home and host.
std::string short_id(const std::string& id) {
    auto dot = id.find('.');
    if (dot == std::string::npos || dot <= 8) return id;
    return id.substr(0, 8) + id.substr(dot);
}

json time_or_null(int64_t ms) {
    return ms > 0 ? json(format_time(ms)) : json();
}

} // namespace

const char* state_name(SupervisorRecord::State s) {
    switch (s) {
    case SupervisorRecord::State::Running:
        return "running";
    case SupervisorRecord::State::Gone:
        return "gone";
    case SupervisorRecord::State::Stopped:
        return "stopped";
    }
    return "?";
}

std::vector<std::string> record_fields(const SupervisorRecord& r) {
    return {"id",         r.id,
            "host",       r.host,
            "host_id",    r.host_id,
            "home",       r.home,
            "playbook",   r.playbook,
            "pid",        std::to_string(r.pid),
            "started_ms", std::to_string(r.started_ms),
            "replicas",   r.replicas.dump(-1, ' ', false, json::error_handler_t::replace)};
}

std::optional<SupervisorRecord> record_of_fields(const std::vector<std::string>& pairs,
                                                 std::string* why) {
    auto bad = [why](const std::string& w) -> std::optional<SupervisorRecord> {
        if (why) *why = w;
        return std::nullopt;
    };
    if (pairs.size() % 2 != 0) return bad("an odd number of fields");
    std::map<std::string, std::string> f;
    for (size_t i = 0; i + 1 < pairs.size(); i += 2)
        f[pairs[i]] = pairs[i + 1];
    SupervisorRecord r;
    int64_t pid = 0;
    if (!to_int(f["pid"], &pid) || pid <= 0 || pid > INT32_MAX) return bad("no valid pid");
    if (!to_int(f["started_ms"], &r.started_ms)) return bad("no valid started_ms");
    if (!to_int(f["heartbeat_ms"], &r.heartbeat_ms)) return bad("no valid heartbeat_ms");
    if (f["id"].empty()) return bad("no id");
    r.pid = static_cast<int>(pid);
    r.id = f["id"];
    r.host = f["host"];
    r.host_id = f["host_id"];
    r.home = f["home"];
    r.playbook = f["playbook"];
    json reps = json::parse(f["replicas"], nullptr, false);
    if (!reps.is_array()) return bad("replicas is not a JSON array");
    r.replicas = std::move(reps);
    return r;
}

std::string summary_text(const SupervisorRecord& r) {
    json j = {{"host", r.host},
              {"host_id", r.host_id},
              {"home", r.home},
              {"playbook", r.playbook},
              {"pid", r.pid},
              {"started_ms", r.started_ms},
              {"stopped_ms", r.stopped_ms}};
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<SupervisorRecord> record_of_summary(const std::string& id, const std::string& text) {
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return std::nullopt;
    SupervisorRecord r;
    r.id = id;
    try {
        r.host = j.value("host", "");
        r.host_id = j.value("host_id", "");
        r.home = j.value("home", "");
        r.playbook = j.value("playbook", "");
        r.pid = j.value("pid", 0);
        r.started_ms = j.value("started_ms", int64_t{0});
        r.stopped_ms = j.value("stopped_ms", int64_t{0});
    } catch (const json::exception&) {
        return std::nullopt; // a field of another type
    }
    r.state = r.stopped_ms > 0 ? SupervisorRecord::State::Stopped : SupervisorRecord::State::Gone;
    return r;
}

json published_replicas(const json& replicas) {
    json out = json::array();
    if (!replicas.is_array()) return out;
    for (const auto& r : replicas) {
        json e = r;
        if (e.is_object()) e.erase("backoff_left_ms");
        out.push_back(std::move(e));
    }
    return out;
}

json supervisor_json(const SupervisorRecord& r, int64_t now_ms) {
    const bool running = r.state == SupervisorRecord::State::Running;
    json j = {{"id", r.id},
              {"host", r.host},
              {"host_id", r.host_id},
              {"home", r.home},
              {"playbook", r.playbook},
              {"pid", r.pid},
              {"local", r.local},
              {"running", running},
              {"state", state_name(r.state)},
              {"started_at", time_or_null(r.started_ms)},
              {"uptime_s", nullptr},
              {"heartbeat_at", time_or_null(r.heartbeat_ms)},
              {"stopped_at", time_or_null(r.stopped_ms)},
              {"replicas", running ? r.replicas : json::array()}};
    if (running && r.started_ms > 0) j["uptime_s"] = (now_ms - r.started_ms) / 1000;
    return j;
}

std::string workers_cell(const json& replicas) {
    std::map<std::string, std::pair<int, int>> counts; // worker -> running, total
    if (replicas.is_array())
        for (const auto& r : replicas) {
            if (!r.is_object() || !r.contains("worker") || !r["worker"].is_string()) continue;
            auto& c = counts[r["worker"].get<std::string>()];
            c.second++;
            if (r.value("state", "") == "running") c.first++;
        }
    std::string out;
    for (const auto& [w, c] : counts)
        out += (out.empty() ? "" : ", ") + escape_controls(w) + " " + std::to_string(c.first) +
               "/" + std::to_string(c.second) + " running";
    return out.empty() ? "-" : out;
}

std::vector<std::string> supervisor_header() {
    return {"HOST", "ID", "PID", "STATE", "UPTIME", "HEARTBEAT", "WORKERS"};
}

std::vector<std::string> supervisor_row(const SupervisorRecord& r, int64_t now_ms) {
    const bool running = r.state == SupervisorRecord::State::Running;
    std::string state = state_name(r.state);
    if (r.state == SupervisorRecord::State::Stopped && r.stopped_ms > 0)
        state += " " + format_age(now_ms - r.stopped_ms) + " ago";
    std::string host = escape_controls(r.host.empty() ? "?" : r.host);
    if (r.local) host += " (here)";
    return {host,
            short_id(r.id),
            std::to_string(r.pid),
            state,
            running && r.started_ms > 0 ? format_age(now_ms - r.started_ms) : "-",
            r.heartbeat_ms > 0 ? format_age(now_ms - r.heartbeat_ms) + " ago" : "-",
            running ? workers_cell(r.replicas) : "-"};
}

} // namespace loop
