// loop reload | restart W[.N] | stop W[.N] | start W[.N]: requests to the
// running supervisor of the home over its control socket.
#include "core/supervisor/control.hpp"
#include "cmd/cmd.hpp"
#include "cmd/output.hpp"
#include "core/error.hpp"
#include "core/home.hpp"
#include "core/supervisor/control_client.hpp"
#include "core/text.hpp"

#include <cstdio>
#include <memory>

namespace loop::cmd {

namespace {

struct ControlOpts {
    std::string target;
    bool json = false;
};

// Exit 0 with the reply printed, or the supervisor's error and exit code.
int finish(const nlohmann::json& reply, bool json, const std::function<void()>& print) {
    if (json) {
        print_json(reply);
    } else if (reply["ok"] == true) {
        print();
    }
    if (reply["ok"] == true) return 0;
    int code = reply.value("exit", static_cast<int>(Exit::Failure));
    if (code != static_cast<int>(Exit::Usage)) code = static_cast<int>(Exit::Failure);
    std::fprintf(stderr, "loop: %s\n",
                 escape_controls(reply.value("error", std::string("refused"))).c_str());
    return code;
}

void print_replicas(const nlohmann::json& reply) {
    auto it = reply.find("replicas");
    if (it == reply.end() || !it->is_array()) return;
    for (const auto& r : *it) {
        std::string line = r.value("session", "?") + ": " + r.value("state", "?");
        if (r.contains("pid") && r["pid"].is_number_integer())
            line += " (pid " + std::to_string(r["pid"].get<int>()) + ")";
        std::printf("%s\n", escape_controls(line).c_str());
    }
}

int run_reload(const Globals& g, const ControlOpts& o) {
    Home home(Home::resolve(g.home));
    nlohmann::json reply = ask_supervisor(home, {{"op", "reload"}});
    return finish(reply, o.json, [&reply] {
        std::printf("reloaded %s\n", escape_controls(reply.value("playbook", "")).c_str());
        for (const auto& line : describe_diff(reply.value("changes", nlohmann::json::object())))
            std::printf("  %s\n", escape_controls(line).c_str());
    });
}

int run_verb(const Globals& g, const char* op, const ControlOpts& o) {
    parse_target(o.target); // a bad target is refused before anything is asked
    Home home(Home::resolve(g.home));
    nlohmann::json reply = ask_supervisor(home, {{"op", op}, {"target", o.target}});
    return finish(reply, o.json, [&reply] { print_replicas(reply); });
}

} // namespace

void add_control_commands(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* s = subcommand(app, g, "reload",
                                 "Reload the running supervisor's playbook (validated first)")) {
        auto o = std::make_shared<ControlOpts>();
        s->add_flag("--json", o->json, "Print JSON");
        s->callback([&g, &action, o] { action = [&g, o] { return run_reload(g, *o); }; });
    }
    struct Verb {
        const char* name;
        const char* description;
    };
    static const Verb verbs[] = {
        {"restart", "Stop a worker's replicas and start them again at once"},
        {"stop", "Stop a worker's replicas and keep them stopped (across reloads)"},
        {"start", "Start a worker's stopped replicas (or those backing off) at once"},
    };
    for (const Verb& v : verbs) {
        CLI::App* s = subcommand(app, g, v.name, v.description);
        if (!s) continue;
        auto o = std::make_shared<ControlOpts>();
        s->add_option("target", o->target, "WORKER (every replica) or WORKER.N")->required();
        s->add_flag("--json", o->json, "Print JSON");
        const char* op = v.name;
        s->callback([&g, &action, o, op] { action = [&g, o, op] { return run_verb(g, op, *o); }; });
    }
}

} // namespace loop::cmd
