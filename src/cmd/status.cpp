// loop status
#include "cmd/cmd.hpp"
#include "cmd/output.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "core/supervisor/control_client.hpp"
#include "core/supervisor/supervisor_lock.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>

namespace loop::cmd {

namespace {

// A supervisor that does not answer this soon is shown without its replicas.
constexpr int kReplicasTimeoutMs = 5000;

void print_replica_table(const nlohmann::json& replicas) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : replicas) {
        std::string state = r.value("state", "?");
        if (r.contains("backoff_left_ms") && r["backoff_left_ms"].is_number_integer())
            state += " (" + format_age(r["backoff_left_ms"].get<int64_t>()) + " left)";
        std::string pid = r.contains("pid") && r["pid"].is_number_integer()
                              ? std::to_string(r["pid"].get<int>())
                              : "-";
        rows.push_back(
            {r.value("session", "?"), state, pid, std::to_string(r.value("restarts", 0))});
    }
    print_table({"REPLICA", "STATE", "PID", "RESTARTS"}, rows);
}

int run_status(const Globals& g, bool json) {
    auto backend = backend_of(g);
    Home home(Home::resolve(g.home));
    const int64_t now = os::now_ms();
    auto sup = read_supervisor(home, ProcessProbe::system());
    std::vector<std::string> errors;
    auto claims = backend->all(&errors);
    std::map<std::string, int> held;
    for (const auto& c : claims)
        if (c.verdict.life != Life::Dead) held[c.holder.session]++;
    std::vector<std::pair<SessionRecord, Verdict>> sessions;
    for (auto& v : backend->sessions(&errors))
        sessions.push_back({std::move(v.record), std::move(v.verdict)});
    // What the supervisor knows of its replicas (stopped ones have no session).
    std::optional<nlohmann::json> replicas;
    if (sup && sup->running) replicas = supervisor_replicas(home, kReplicasTimeoutMs);
    std::map<std::string, std::string> state_of;
    if (replicas)
        for (const auto& r : *replicas)
            state_of[r.value("session", "")] = r.value("state", "");

    if (json) {
        nlohmann::json j;
        if (sup && sup->running) {
            j["supervisor"] = {{"pid", sup->anchor.pid},
                               {"running", true},
                               {"started_at", format_time(sup->started_ms)},
                               {"uptime_s", (now - sup->started_ms) / 1000},
                               {"reload_failed", nullptr}};
            if (sup->reload_failed_ms > 0)
                j["supervisor"]["reload_failed"] = {{"at", format_time(sup->reload_failed_ms)},
                                                    {"reason", sup->reload_failed_reason}};
        } else {
            j["supervisor"] = nullptr;
        }
        j["sessions"] = nlohmann::json::array();
        for (const auto& [s, v] : sessions) {
            auto sj = session_json(s, v);
            sj["claims_held"] = held.count(s.id) ? held[s.id] : 0;
            sj["uptime_s"] = (now - s.started_ms) / 1000;
            auto st = state_of.find(s.id);
            sj["state"] = st != state_of.end() ? nlohmann::json(st->second) : nlohmann::json();
            j["sessions"].push_back(std::move(sj));
        }
        j["replicas"] = replicas ? *replicas : nlohmann::json();
        j["claims"] = nlohmann::json::array();
        for (const auto& c : claims)
            j["claims"].push_back(holder_json(c));
        print_json(j);
    } else {
        bool colour = use_colour();
        if (sup && sup->running) {
            std::printf("supervisor: pid %d, up %s\n", sup->anchor.pid,
                        format_age(now - sup->started_ms).c_str());
            if (sup->reload_failed_ms > 0)
                std::printf("last reload refused %s ago, still running the previous playbook: "
                            "%s\n",
                            format_age(now - sup->reload_failed_ms).c_str(),
                            sup->reload_failed_reason.c_str());
            std::printf("\n");
        } else {
            std::printf("supervisor: not running\n\n");
        }
        std::vector<std::vector<std::string>> rows;
        for (const auto& [s, v] : sessions) {
            rows.push_back(
                {s.id, s.worker ? *s.worker : "-", s.anchor ? std::to_string(s.anchor->pid) : "-",
                 alive_cell(v.life, colour), format_age(now - s.started_ms),
                 std::to_string(s.restarts), std::to_string(held.count(s.id) ? held[s.id] : 0)});
        }
        print_table({"SESSION", "WORKER", "PID", "ALIVE", "UPTIME", "RESTARTS", "CLAIMS"}, rows);
        std::printf("\n");
        if (replicas) {
            print_replica_table(*replicas);
            std::printf("\n");
        }
        rows.clear();
        for (const auto& c : claims) {
            rows.push_back({c.name, c.holder.session, mode_name(c.mode),
                            format_age(now - c.holder.acquired_ms),
                            c.holder.expires_ms > 0 ? format_age(c.holder.expires_ms - now) : "-",
                            std::to_string(c.holder.fence), alive_cell(c.verdict.life, colour)});
        }
        // ALIVE "no": a stale claim, its holder dead (reaped by the next
        // supervisor or `loop reap`).
        print_table({"CLAIM", "HOLDER", "MODE", "AGE", "TTL", "FENCE", "ALIVE"}, rows);
    }
    for (const auto& e : errors)
        std::fprintf(stderr, "loop: %s\n", e.c_str());
    return errors.empty() ? 0 : static_cast<int>(Exit::Failure);
}

} // namespace

void add_status_command(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* s = subcommand(app, g, "status", "Supervisor, sessions and claims at a glance")) {
        auto json = std::make_shared<bool>(false);
        s->add_flag("--json", *json, "Print JSON");
        s->callback([&g, &action, json] { action = [&g, json] { return run_status(g, *json); }; });
    }
}

} // namespace loop::cmd
