// Command families. Each registers its subcommands on the CLI11 tree; the
// selected one stores its action, which main runs after parsing.
#pragma once

#include <CLI/CLI.hpp>

#include "store/backend.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace loop::cmd {

struct Globals {
    std::string home;    // --home
    std::string backend; // --backend
    // The verb on the command line ("claim", "reap", ...), or "" when
    // unknown: only that verb's subcommand is built, which keeps the
    // start-up of `loop _ claim` short. "" builds them all (help, errors).
    std::string verb;
    std::vector<std::string> trailing; // arguments after "--" (for `with`)
};

using Action = std::function<int()>;

// Adds subcommand `name` to `parent` when it is the verb being run (or all
// are wanted); nullptr otherwise.
inline CLI::App* subcommand(CLI::App& parent, const Globals& g, const char* name,
                            const char* description) {
    if (!g.verb.empty() && g.verb != name) return nullptr;
    return parent.add_subcommand(name, description);
}

// The verb of a command line: the first word after the global options (and
// after "_" for the script verbs), if it is one of `known`.
std::string find_verb(int argc, char** argv);

// The verbs scripts run in loops: claim, unclaim, renew, owner.
bool is_script_verb(const std::string& verb);

// Where a usage error of `verb` points to: "loop _ with --help",
// "loop reap --help", or "loop --help" when the verb is unknown.
std::string help_hint(const std::string& verb);

// The backend of this invocation: --backend, $LOOP_BACKEND, the home's
// config.json, or the file backend of the home.
std::unique_ptr<Backend> backend_of(const Globals& g);
// For a verb that runs on the file backend only (for now): Error(Usage)
// naming the verb and the backend in use when it is another one.
void require_file_backend(const Globals& g, const char* verb);

void add_claim_commands(CLI::App& underscore, Globals& g, Action& action);
void add_with_command(CLI::App& underscore, Globals& g, Action& action);
void add_keeper_command(CLI::App& underscore, Globals& g, Action& action);
void add_log_writer_command(CLI::App& underscore, Globals& g, Action& action);
void add_logs_command(CLI::App& app, Globals& g, Action& action);
void add_session_commands(CLI::App& underscore, CLI::App& app, Globals& g, Action& action);
void add_list_commands(CLI::App& app, Globals& g, Action& action);
void add_reap_command(CLI::App& app, Globals& g, Action& action);
void add_supervise_command(CLI::App& app, Globals& g, Action& action);
void add_control_commands(CLI::App& app, Globals& g, Action& action);
void add_status_command(CLI::App& app, Globals& g, Action& action);
void add_events_command(CLI::App& app, Globals& g, Action& action);
void add_metrics_command(CLI::App& app, Globals& g, Action& action);
void add_doctor_command(CLI::App& app, Globals& g, Action& action);
void add_completion_command(CLI::App& app, Globals& g, Action& action);
void add_version_command(CLI::App& app, Globals& g, Action& action);

} // namespace loop::cmd
