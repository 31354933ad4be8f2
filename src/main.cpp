// The front door: parse the command line, run the chosen command, map
// errors to exit codes.
#include "cmd/cmd.hpp"
#include "cmd/quick_args.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "os/process.hpp"

#include <cstdio>
#include <cstring>

namespace {

// An option given an empty value ("--ttl ''") is a mistake, never the same
// as leaving it out: every option that takes a value refuses "".
void refuse_empty_values(CLI::App& app) {
    static const CLI::Validator nonempty(
        [](std::string& v) { return v.empty() ? std::string("must not be empty") : std::string(); },
        "", "NONEMPTY");
    for (CLI::Option* opt : app.get_options())
        if (!opt->get_positional() && opt->get_items_expected_min() > 0) opt->check(nonempty);
    for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; }))
        refuse_empty_values(*sub);
}

int run(const loop::cmd::Action& action) {
    using namespace loop;
    try {
        return action();
    } catch (const Error& e) {
        std::fprintf(stderr, "loop: %s\n", escape_controls(e.message()).c_str());
        return static_cast<int>(e.code());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "loop: internal error: %s\n", escape_controls(e.what()).c_str());
        return static_cast<int>(Exit::Failure);
    }
}

// A script's verb (claim, unclaim, renew, owner) runs in shell loops,
// where process exit is part of its cost: once its output is flushed,
// nothing is left that tearing down the parser and the static objects
// would write, so the process ends without doing so.
int finish(const loop::cmd::Globals& g, int rc) {
    if (loop::cmd::is_script_verb(g.verb)) {
        std::fflush(nullptr);
        loop::os::exit_now(rc);
    }
    return rc;
}

} // namespace

int main(int argc, char** argv) {
    using namespace loop;
    cmd::Globals g;
    g.verb = cmd::find_verb(argc, argv);
    // Everything after the first "--" is a command for `with`.
    int cut = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--") == 0) {
            cut = i;
            break;
        }
    }
    for (int i = cut + 1; i < argc; ++i)
        g.trailing.emplace_back(argv[i]);
    // The plain command line of claim, unclaim or with skips CLI11.
    if (cut == argc || g.verb == "with")
        if (cmd::Action quick = cmd::quick_action(cut, argv, g)) return finish(g, run(quick));

    CLI::App app{"loop: a local control-loop supervisor with filesystem claims", "loop"};
    app.fallthrough();
    app.require_subcommand(1);
    app.add_option("--home", g.home,
                   "State directory (default: $LOOP_HOME, "
                   "$XDG_STATE_HOME/loop, ~/.local/state/loop)");
    app.add_option("--backend", g.backend,
                   "Where claims live: file (default) or redis://HOST[:PORT][/DB] "
                   "(default: $LOOP_BACKEND, then the home's config.json)");
    cmd::Action action;
    CLI::App* u = app.add_subcommand("_", "Verbs for scripts: claim, unclaim, renew, with, "
                                          "owner, session");
    u->require_subcommand(1);
    u->fallthrough();
    cmd::add_claim_commands(*u, g, action);
    cmd::add_with_command(*u, g, action);
    cmd::add_keeper_command(*u, g, action);
    cmd::add_log_writer_command(*u, g, action);
    cmd::add_session_commands(*u, app, g, action);
    cmd::add_list_commands(app, g, action);
    cmd::add_reap_command(app, g, action);
    cmd::add_supervise_command(app, g, action);
    cmd::add_control_commands(app, g, action);
    cmd::add_status_command(app, g, action);
    cmd::add_events_command(app, g, action);
    cmd::add_logs_command(app, g, action);
    cmd::add_metrics_command(app, g, action);
    cmd::add_doctor_command(app, g, action);
    cmd::add_completion_command(app, g, action);
    cmd::add_version_command(app, g, action);

    const std::string help_hint = cmd::help_hint(g.verb);
    refuse_empty_values(app);
    try {
        app.parse(cut, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        // CLI11 reports a missing argument before an unknown one; the
        // unknown one is what the user needs to see.
        std::vector<std::string> rest = app.remaining(true);
        if (dynamic_cast<const CLI::RequiredError*>(&e) && !rest.empty()) {
            std::fprintf(stderr, "loop: unexpected argument '%s'\nRun '%s' for usage.\n",
                         escape_controls(rest.front()).c_str(), help_hint.c_str());
        } else {
            std::fprintf(stderr, "loop: %s\nRun '%s' for usage.\n",
                         escape_controls(e.what()).c_str(), help_hint.c_str());
        }
        return static_cast<int>(Exit::Usage);
    }
    if (!action) return static_cast<int>(Exit::Usage);
    bool is_with = false;
    for (const CLI::App* s : u->get_subcommands())
        is_with = is_with || s->get_name() == "with";
    if (cut < argc && !is_with) {
        std::fprintf(stderr,
                     "loop: unexpected arguments after '--' (only 'loop _ with' runs a command)\n");
        return static_cast<int>(Exit::Usage);
    }
    return finish(g, run(action));
}
