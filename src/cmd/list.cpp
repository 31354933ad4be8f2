// loop claims | sessions
#include "cmd/cmd.hpp"
#include "cmd/output.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>

namespace loop::cmd {

namespace {

int run_claims(const Globals& g, bool json) {
    std::vector<std::string> errors;
    auto all = backend_of(g)->all(&errors);
    if (json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& v : all)
            arr.push_back(holder_json(v));
        print_json(arr);
    } else {
        const int64_t now = os::now_ms();
        std::vector<std::vector<std::string>> rows;
        for (const auto& v : all) {
            int pid = v.session && v.session->anchor ? v.session->anchor->pid : v.holder.pid;
            rows.push_back({v.name, mode_name(v.mode), v.holder.session,
                            pid > 0 ? std::to_string(pid) : "-", std::to_string(v.holder.fence),
                            format_age(now - v.holder.acquired_ms),
                            v.holder.expires_ms > 0 ? format_age(v.holder.expires_ms - now) : "-",
                            alive_cell(v.verdict.life, use_colour())});
        }
        print_table({"NAME", "MODE", "SESSION", "PID", "FENCE", "AGE", "TTL", "ALIVE"}, rows);
    }
    for (const auto& e : errors)
        std::fprintf(stderr, "loop: %s\n", e.c_str());
    return errors.empty() ? 0 : static_cast<int>(Exit::Failure);
}

int run_sessions(const Globals& g, bool json) {
    std::vector<std::string> errors;
    std::vector<std::pair<SessionRecord, Verdict>> list;
    for (auto& v : backend_of(g)->sessions(&errors))
        list.push_back({std::move(v.record), std::move(v.verdict)});
    if (json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& [s, v] : list)
            arr.push_back(session_json(s, v));
        print_json(arr);
    } else {
        const int64_t now = os::now_ms();
        std::vector<std::vector<std::string>> rows;
        for (const auto& [s, v] : list) {
            rows.push_back({s.id, s.kind, s.anchor ? std::to_string(s.anchor->pid) : "-",
                            alive_cell(v.life, use_colour()), format_age(now - s.started_ms),
                            s.worker ? *s.worker : "-", s.label.empty() ? "-" : s.label});
        }
        print_table({"ID", "KIND", "PID", "ALIVE", "AGE", "WORKER", "LABEL"}, rows);
    }
    for (const auto& e : errors)
        std::fprintf(stderr, "loop: %s\n", e.c_str());
    return errors.empty() ? 0 : static_cast<int>(Exit::Failure);
}

} // namespace

void add_list_commands(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* claims = subcommand(app, g, "claims", "List held claims")) {
        auto cj = std::make_shared<bool>(false);
        claims->add_flag("--json", *cj, "Print JSON");
        claims->callback([&g, &action, cj] { action = [&g, cj] { return run_claims(g, *cj); }; });
    }

    if (CLI::App* sessions = subcommand(app, g, "sessions", "List sessions")) {
        auto sj = std::make_shared<bool>(false);
        sessions->add_flag("--json", *sj, "Print JSON");
        sessions->callback(
            [&g, &action, sj] { action = [&g, sj] { return run_sessions(g, *sj); }; });
    }
}

} // namespace loop::cmd
