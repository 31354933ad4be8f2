// `loop metrics` on any backend: what is counted comes from the engine,
// the gauges from the claims and sessions it lists, the text from core.
#include "store/backend.hpp"

namespace loop {

std::string render_backend_metrics(Backend& b, EventCounters& c, bool supervisor_up) {
    // The claims before the counters: on Redis a claim and its count are
    // one script, so every claim listed is counted by then and the
    // exposition never shows more held than ever acquired (counted first,
    // a claim taken in between showed as held, never acquired). On the
    // file backend the count is the event appended just after the claim.
    std::vector<std::string> errors;
    const std::vector<HolderView> held = b.all(&errors);
    b.read_counters(c);
    MetricGauges g;
    for (const auto& v : held)
        count_active(c, g, v);
    for (const auto& s : b.sessions(&errors))
        if (s.verdict.life == Life::Alive) g.sessions_alive++;
    g.supervisor_up = supervisor_up;
    return render_exposition(c, g);
}

} // namespace loop
