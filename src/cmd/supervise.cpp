// loop supervise [PLAYBOOK]
#include "cmd/cmd.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "core/supervisor/outage.hpp"
#include "core/supervisor/playbook.hpp"
#include "core/supervisor/shared_link.hpp"
#include "core/supervisor/supervisor.hpp"
#include "core/supervisor/supervisor_lock.hpp"
#include "os/path.hpp"
#include "os/proc.hpp"
#include "os/spawn.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <memory>

namespace loop::cmd {

namespace {

struct SuperviseOpts {
    std::string playbook, metrics_file, metrics_listen;
    int verbose = 0;
    bool quiet = false;
};

std::string default_playbook() {
    std::string exe = os::self_exe();
    std::string dir = exe.substr(0, exe.rfind('/'));
    for (const std::string& candidate : {dir + "/../share/loop/playbooks/demo.json",
                                         std::string(LOOP_SOURCE_DIR) + "/playbooks/demo.json"}) {
        if (os::readable(candidate)) return candidate;
    }
    throw Error(Exit::Usage, "no playbook given and the demo playbook is not installed: "
                             "loop supervise PLAYBOOK");
}

void set_up_logging(const SuperviseOpts& o) {
    auto logger = spdlog::stderr_color_st("loop");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %v", spdlog::pattern_time_type::utc);
    spdlog::set_default_logger(logger);
    spdlog::level::level_enum level = spdlog::level::info;
    if (const char* e = std::getenv("LOOP_LOG"); e && *e) level = spdlog::level::from_str(e);
    if (o.verbose > 0) level = spdlog::level::debug;
    if (o.quiet) level = spdlog::level::warn;
    spdlog::set_level(level);
}

int run_supervise(const Globals& g, const SuperviseOpts& o) {
    Playbook pb = load_playbook(o.playbook.empty() ? default_playbook() : o.playbook);
    std::string home = Home::resolve(g.home);
    if (!home.empty() && home[0] != '/') {
        if (std::string cwd = os::current_dir(); !cwd.empty()) home = cwd + "/" + home;
    }
    // On a shared backend the workers' sessions and claims live there; the
    // home keeps the lock, the logs and the supervisor's own events.
    std::unique_ptr<Backend> shared;
    if (!chosen_backend(home, g.backend).empty()) {
        shared = open_backend(home, g.backend);
        if (std::string(shared->kind()) == "file") shared.reset();
    }
    Core core(home);
    SupervisorLock lock(core.home);
    set_up_logging(o);
    SupervisorOptions so;
    so.metrics_file = o.metrics_file;
    so.metrics_listen = o.metrics_listen;
    so.lock = &lock;
    Outage record_outage; // the record's writes back off like the link's calls
    if (shared && shared->supervisor_period_ms() > 0) {
        // Every host's `loop status` shows this supervisor by its record.
        so.record_period_ms = shared->supervisor_period_ms();
        so.put_record = [b = shared.get(), &record_outage](const SupervisorRecord& r) {
            const int64_t now = os::monotonic_ms();
            if (!record_outage.may_try(now))
                throw Error(Exit::Failure, "the shared backend is not answering (backing off)");
            try {
                b->put_supervisor(r);
            } catch (const Error&) {
                record_outage.failed(now);
                throw;
            }
            record_outage.succeeded();
        };
        so.drop_record = [b = shared.get()](const SupervisorRecord& r) { b->drop_supervisor(r); };
    }
    EventCounters counters;
    std::unique_ptr<SharedLink> link;
    if (shared) {
        // Every call to the shared backend goes through the outage policy
        // (core/supervisor/shared_link.hpp): a server that does not answer does not
        // stall the supervisor.
        Backend* b = shared.get();
        SharedLink::Hooks hooks;
        hooks.workers = &b->workers();
        hooks.record_event = [b](const std::string& event, const nlohmann::json& fields) {
            b->record_event(event, fields);
        };
        hooks.render = [b, &counters](bool up) { return render_backend_metrics(*b, counters, up); };
        hooks.reconnect = [b] { b->reconnect(); };
        link = std::make_unique<SharedLink>(std::move(hooks));
        so.workers = link.get();
        so.shared = link.get();
        so.render_metrics = [l = link.get()](bool up) {
            std::optional<std::string> text = l->render(up);
            if (!text) throw Error(Exit::Failure, "the shared backend is not answering");
            return *text;
        };
        // The fleet's event stream shows this supervisor's events too
        // (session.started is written there by the script that records
        // the session).
        core.events.set_forward(
            [l = link.get()](const std::string& event, const nlohmann::json& fields) {
                if (event != "session.started") l->forward(event, fields);
            });
    }
    Supervisor sup(core, std::move(pb), std::move(so));
    return sup.run();
}

} // namespace

void add_supervise_command(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* s =
            subcommand(app, g, "supervise", "Run the workers of a playbook (foreground)")) {
        auto o = std::make_shared<SuperviseOpts>();
        s->add_option("playbook", o->playbook, "Playbook file (default: the shipped demo)");
        s->add_option("--metrics-file", o->metrics_file,
                      "Keep metrics in this file (for node_exporter's textfile collector)");
        s->add_option("--metrics-listen", o->metrics_listen,
                      "Serve metrics over HTTP on HOST:PORT (/metrics)");
        s->add_flag("-v,--verbose", o->verbose, "Log debug detail");
        s->add_flag("-q,--quiet", o->quiet, "Log only warnings and errors");
        s->callback([&g, &action, o] { action = [&g, o] { return run_supervise(g, *o); }; });
    }
}

} // namespace loop::cmd
