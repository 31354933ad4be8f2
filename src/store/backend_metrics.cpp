// `loop metrics` on any backend: what is counted comes from the engine,
// the gauges from the claims and sessions it lists, the text from core.
#include "store/backend.hpp"

namespace loop {

std::string render_backend_metrics(Backend& b, EventCounters& c, bool supervisor_up) {
    b.read_counters(c);
    MetricGauges g;
    std::vector<std::string> errors;
    for (const auto& v : b.all(&errors))
        count_active(c, g, v);
    for (const auto& s : b.sessions(&errors))
        if (s.verdict.life == Life::Alive) g.sessions_alive++;
    g.supervisor_up = supervisor_up;
    return render_exposition(c, g);
}

} // namespace loop
