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

// What `loop status` shows, read once.
struct StatusData {
    int64_t now = 0;
    std::optional<SupervisorInfo> sup;
    std::vector<HolderView> claims;
    std::map<std::string, int> held;
    std::vector<std::pair<SessionRecord, Verdict>> sessions;
    std::optional<nlohmann::json> replicas;
    std::map<std::string, std::string> state_of;
    // Every host's supervisor (a shared backend), nullopt on the file backend.
    std::optional<std::vector<SupervisorRecord>> fleet;
    std::vector<std::string> errors;
};

StatusData read_status(const Globals& g) {
    auto backend = backend_of(g);
    Home home(Home::resolve(g.home));
    StatusData d;
    d.now = os::now_ms();
    d.sup = read_supervisor(home, ProcessProbe::system());
    d.claims = backend->all(&d.errors);
    for (const auto& c : d.claims)
        if (c.verdict.life != Life::Dead) d.held[c.holder.session]++;
    for (auto& v : backend->sessions(&d.errors))
        d.sessions.push_back({std::move(v.record), std::move(v.verdict)});
    // What the supervisor knows of its replicas (stopped ones have no session).
    if (d.sup && d.sup->running) d.replicas = supervisor_replicas(home, kReplicasTimeoutMs);
    if (d.replicas)
        for (const auto& r : *d.replicas)
            d.state_of[r.value("session", "")] = r.value("state", "");
    if (backend->supervisor_period_ms() > 0) {
        d.fleet = backend->supervisors(&d.errors);
        // This home's supervisor is judged here by its lock, as on the file
        // backend: one that died is gone at once, not at its record's TTL.
        const bool up_here = d.sup && d.sup->running;
        for (auto& r : *d.fleet)
            if (r.local && r.state == SupervisorRecord::State::Running && !up_here)
                r.state = SupervisorRecord::State::Gone;
    }
    return d;
}

nlohmann::json local_supervisor_json(const StatusData& d) {
    if (!d.sup || !d.sup->running) return nullptr;
    const SupervisorInfo& sup = *d.sup;
    nlohmann::json j = {{"pid", sup.anchor.pid},
                        {"running", true},
                        {"started_at", format_time(sup.started_ms)},
                        {"uptime_s", (d.now - sup.started_ms) / 1000},
                        {"reload_failed", nullptr}};
    if (sup.reload_failed_ms > 0)
        j["reload_failed"] = {{"at", format_time(sup.reload_failed_ms)},
                              {"reason", sup.reload_failed_reason}};
    return j;
}

void print_status_json(StatusData& d) {
    nlohmann::json j;
    j["supervisor"] = local_supervisor_json(d);
    j["supervisors"] = nullptr;
    if (d.fleet) {
        j["supervisors"] = nlohmann::json::array();
        for (const auto& r : *d.fleet)
            j["supervisors"].push_back(supervisor_json(r, d.now));
    }
    j["sessions"] = nlohmann::json::array();
    for (const auto& [s, v] : d.sessions) {
        auto sj = session_json(s, v);
        sj["claims_held"] = d.held.count(s.id) ? d.held[s.id] : 0;
        sj["uptime_s"] = (d.now - s.started_ms) / 1000;
        auto st = d.state_of.find(s.id);
        sj["state"] = st != d.state_of.end() ? nlohmann::json(st->second) : nlohmann::json();
        j["sessions"].push_back(std::move(sj));
    }
    j["replicas"] = d.replicas ? *d.replicas : nlohmann::json();
    j["claims"] = nlohmann::json::array();
    for (const auto& c : d.claims)
        j["claims"].push_back(holder_json(c));
    print_json(j);
}

void print_supervisors_text(const StatusData& d) {
    if (d.sup && d.sup->running) {
        std::printf("supervisor: pid %d, up %s\n", d.sup->anchor.pid,
                    format_age(d.now - d.sup->started_ms).c_str());
        if (d.sup->reload_failed_ms > 0)
            std::printf("last reload refused %s ago, still running the previous playbook: "
                        "%s\n",
                        format_age(d.now - d.sup->reload_failed_ms).c_str(),
                        d.sup->reload_failed_reason.c_str());
    } else {
        std::printf("supervisor: not running\n");
    }
    std::printf("\n");
    if (!d.fleet) return;
    // Every host's supervisor on the shared backend.
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : *d.fleet)
        rows.push_back(supervisor_row(r, d.now));
    print_table(supervisor_header(), rows);
    std::printf("\n");
}

void print_status_text(StatusData& d) {
    bool colour = use_colour();
    print_supervisors_text(d);
    std::vector<std::vector<std::string>> rows;
    for (const auto& [s, v] : d.sessions) {
        rows.push_back({s.id, s.worker ? *s.worker : "-",
                        s.anchor ? std::to_string(s.anchor->pid) : "-", alive_cell(v.life, colour),
                        format_age(d.now - s.started_ms), std::to_string(s.restarts),
                        std::to_string(d.held.count(s.id) ? d.held[s.id] : 0)});
    }
    print_table({"SESSION", "WORKER", "PID", "ALIVE", "UPTIME", "RESTARTS", "CLAIMS"}, rows);
    std::printf("\n");
    if (d.replicas) {
        print_replica_table(*d.replicas);
        std::printf("\n");
    }
    rows.clear();
    for (const auto& c : d.claims) {
        rows.push_back({c.name, c.holder.session, mode_name(c.mode),
                        format_age(d.now - c.holder.acquired_ms),
                        c.holder.expires_ms > 0 ? format_age(c.holder.expires_ms - d.now) : "-",
                        std::to_string(c.holder.fence), alive_cell(c.verdict.life, colour)});
    }
    // ALIVE "no": a stale claim, its holder dead (reaped by the next
    // supervisor or `loop reap`).
    print_table({"CLAIM", "HOLDER", "MODE", "AGE", "TTL", "FENCE", "ALIVE"}, rows);
}

int run_status(const Globals& g, bool json) {
    StatusData d = read_status(g);
    if (json) {
        print_status_json(d);
    } else {
        print_status_text(d);
    }
    for (const auto& e : d.errors)
        std::fprintf(stderr, "loop: %s\n", e.c_str());
    return d.errors.empty() ? 0 : static_cast<int>(Exit::Failure);
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
