// loop _ session start | heartbeat | end
#include "cmd/cmd.hpp"
#include "cmd/output.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"

#include <cstdio>
#include <memory>

namespace loop::cmd {

namespace {

struct StartOpts {
    int pid = 0;
    std::string ttl, label;
    bool json = false;
};

int run_start(const Globals& g, const StartOpts& o) {
    StartOptions opts;
    if (o.pid != 0) {
        if (o.pid < 0) throw Error(Exit::Usage, "--pid: must be a positive process id");
        opts.pid = o.pid;
    }
    if (!o.ttl.empty()) {
        opts.ttl_ms = parse_duration_or_throw(o.ttl, "--ttl");
        if (opts.ttl_ms == kInfinite) opts.ttl_ms = 0;
        if (opts.ttl_ms == 0 && !opts.pid)
            throw Error(Exit::Usage, "--ttl: must be positive for a session without --pid");
    }
    check_utf8(o.label, "--label");
    opts.label = o.label;
    auto backend = backend_of(g);
    SessionRecord s = backend->start_session(opts, os::parent_pid());
    if (o.json) {
        print_json(session_json(s, backend->verdict(s)));
    } else {
        std::printf("%s\n", s.id.c_str());
    }
    return 0;
}

std::string id_or_env(const std::string& id, const char* verb) {
    std::string s = session_flag_or_env(id);
    if (s.empty())
        throw Error(Exit::Usage, std::string("session ") + verb +
                                     ": no session id given and LOOP_SESSION_ID is not set");
    return s;
}

} // namespace

void add_session_commands(CLI::App& u, CLI::App& app, Globals& g, Action& action) {
    (void)app;
    if (CLI::App* session = subcommand(u, g, "session", "Open, keep alive and end sessions")) {
        session->require_subcommand(1);

        auto st = std::make_shared<StartOpts>();
        CLI::App* start = session->add_subcommand("start", "Start a session and print its id");
        start->add_option("--pid", st->pid, "Process the session lives with (default: the caller)");
        start->add_option("--ttl", st->ttl, "Alive while heartbeats come within DUR");
        start->add_option("--label", st->label, "Free text shown in listings");
        start->add_flag("--json", st->json, "Print the session as JSON");
        start->callback([&g, &action, st] { action = [&g, st] { return run_start(g, *st); }; });

        auto hb_id = std::make_shared<std::string>();
        CLI::App* hb = session->add_subcommand("heartbeat", "Keep a --ttl session alive");
        hb->add_option("id", *hb_id, "Session id (default: $LOOP_SESSION_ID)");
        hb->callback([&g, &action, hb_id] {
            action = [&g, hb_id] {
                std::string id = id_or_env(*hb_id, "heartbeat");
                parse_session_ref(id);
                backend_of(g)->heartbeat(id);
                return 0;
            };
        });

        auto end_id = std::make_shared<std::string>();
        CLI::App* end = session->add_subcommand("end", "End a session and release its claims");
        end->add_option("id", *end_id, "Session id (default: $LOOP_SESSION_ID)");
        end->callback([&g, &action, end_id] {
            action = [&g, end_id] {
                std::string id = id_or_env(*end_id, "end");
                parse_session_ref(id);
                bool was_running = false;
                for (const auto& n : backend_of(g)->end_session(id, &was_running))
                    std::printf("released %s\n", n.c_str());
                if (!was_running)
                    std::fprintf(stderr, "loop: session %s was not running\n", id.c_str());
                return 0;
            };
        });
    }

} // namespace loop::cmd

} // namespace loop::cmd