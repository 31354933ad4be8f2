// Command families. Each registers its subcommands on the CLI11 tree; the
// selected one stores its action, which main runs after parsing.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace loop::cmd {

struct Globals {
    std::string home;                  // --home
    std::vector<std::string> trailing; // arguments after "--" (for `with`)
};

using Action = std::function<int()>;

void add_claim_commands(CLI::App& underscore, Globals& g, Action& action);
void add_with_command(CLI::App& underscore, Globals& g, Action& action);
void add_session_commands(CLI::App& underscore, CLI::App& app, Globals& g, Action& action);
void add_list_commands(CLI::App& app, Globals& g, Action& action);
void add_reap_command(CLI::App& app, Globals& g, Action& action);
void add_supervise_command(CLI::App& app, Globals& g, Action& action);
void add_status_command(CLI::App& app, Globals& g, Action& action);
void add_events_command(CLI::App& app, Globals& g, Action& action);
void add_version_command(CLI::App& app, Globals& g, Action& action);

} // namespace loop::cmd
