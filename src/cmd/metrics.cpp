// loop metrics
#include "core/metrics/metrics.hpp"
#include "cmd/cmd.hpp"
#include "core/core.hpp"
#include "core/supervisor/supervisor_lock.hpp"
#include "store/backend.hpp"

#include <cstdio>

namespace loop::cmd {

namespace {

std::string metrics_text(const Globals& g) {
    EventCounters counters;
    if (chosen_backend(Home::resolve(g.home), g.backend).empty()) {
        Core core(Home::resolve(g.home));
        return render_metrics(core, counters);
    }
    std::unique_ptr<Backend> b = open_backend(g.home, g.backend);
    Home home(Home::resolve(g.home));
    auto sup = read_supervisor(home, b->probe());
    return render_backend_metrics(*b, counters, sup && sup->running);
}

} // namespace

void add_metrics_command(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* m = subcommand(app, g, "metrics", "Print metrics (Prometheus text format)")) {
        m->callback([&g, &action] {
            action = [&g] {
                std::string text = metrics_text(g);
                std::fwrite(text.data(), 1, text.size(), stdout);
                return 0;
            };
        });
    }
}

} // namespace loop::cmd
