// loop metrics
#include "core/metrics.hpp"
#include "cmd/cmd.hpp"
#include "core/core.hpp"

#include <cstdio>

namespace loop::cmd {

void add_metrics_command(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* m = subcommand(app, g, "metrics", "Print metrics (Prometheus text format)")) {
        m->callback([&g, &action] {
            action = [&g] {
                require_file_backend(g, "loop metrics");
                Core core(Home::resolve(g.home));
                EventCounters counters;
                std::string text = render_metrics(core, counters);
                std::fwrite(text.data(), 1, text.size(), stdout);
                return 0;
            };
        });
    }
}

} // namespace loop::cmd
