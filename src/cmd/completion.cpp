// loop completion
#include "cmd/cmd.hpp"

namespace loop::cmd {

void add_completion_command(CLI::App& app, Globals& g, Action& action) {
    (void)app;
    (void)g;
    (void)action;
}

} // namespace loop::cmd
