#include "core/metrics/metrics.hpp"

#include "core/error.hpp"
#include "core/events.hpp"
#include "core/supervisor/supervisor_lock.hpp"

#include "os/fs.hpp"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace loop {

void EventCounters::update(const std::string& path) {
    long long size = 0;
    auto text = os::read_from(path, offset_, &size);
    if (!text) return;
    if (size < offset_) { // rotated or truncated: start over
        *this = EventCounters();
        text = os::read_from(path, 0, &size);
        if (!text) return;
    }
    offset_ += static_cast<long long>(text->size());
    partial_ += *text;
    size_t start = 0, nl;
    while ((nl = partial_.find('\n', start)) != std::string::npos) {
        count(partial_.substr(start, nl - start));
        start = nl + 1;
    }
    partial_.erase(0, start);
}

namespace {

// A label value taken from `value`, or "other" once `seen` holds `cap`
// others: the number of series stays bounded whatever the names are.
std::string bounded(std::set<std::string>& seen, size_t cap, std::string value) {
    if (seen.count(value)) return value;
    if (seen.size() >= cap) return "other";
    seen.insert(value);
    return value;
}

} // namespace

std::string EventCounters::type_of(const std::string& name) {
    auto colon = name.find(':');
    if (colon == std::string::npos || colon == 0) return "none";
    return bounded(types_, kMaxTypes, name.substr(0, colon));
}

std::string EventCounters::worker_of(const std::string& session) {
    // Worker sessions are <worker>.<n> (on Redis <worker>.<n>.<host hash>);
    // worker names never contain '.', and no other session id has that form.
    auto first = session.find('.');
    if (first == std::string::npos || first == 0) return "none";
    auto second = session.find('.', first + 1);
    const std::string n = session.substr(
        first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos) return "none";
    if (second != std::string::npos) {
        const std::string host = session.substr(second + 1);
        if (host.empty() || host.find_first_not_of("0123456789abcdef") != std::string::npos)
            return "none";
    }
    return bounded(workers_, kMaxWorkers, session.substr(0, first));
}

EventCounters::Labels EventCounters::labels_of(const nlohmann::json& j, const char* name_field) {
    auto str = [&](const char* f) {
        auto it = j.find(f);
        return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    std::string worker = str("worker");
    return {type_of(str(name_field)),
            worker.empty() ? worker_of(str("session")) : bounded(workers_, kMaxWorkers, worker)};
}

void EventCounters::count(const std::string& line) {
    // Cheap filter before parsing: every event we count names itself.
    if (line.find("\"event\":\"claim.") == std::string::npos &&
        line.find("\"event\":\"session.started\"") == std::string::npos)
        return;
    auto j = nlohmann::json::parse(line, nullptr, false);
    // A malformed event is skipped (loop doctor reports it), never fatal.
    if (j.is_discarded() || event_problem(j)) return;
    const std::string ev = j["event"].get<std::string>();
    if (ev == "claim.acquired") {
        acquisitions[labels_of(j, "name")]++;
        if (auto it = j.find("waited_ms"); it != j.end() && it->is_number()) {
            double s = it->get<double>() / 1000.0;
            wait_count++;
            wait_sum += s;
            for (size_t i = 0; i < kWaitBuckets.size(); ++i)
                if (s <= kWaitBuckets[i]) wait_buckets[i]++;
        }
    } else if (ev == "claim.released") {
        releases[labels_of(j, "name")]++;
    } else if (ev == "claim.contended") {
        // One event can stand for several tries (`tries`, see claims.cpp).
        uint64_t n = 1;
        if (auto it = j.find("tries"); it != j.end() && it->is_number_unsigned())
            n = it->get<uint64_t>();
        contentions[labels_of(j, "name")] += n;
        auto f = j.find("flushes");
        auto name = j.find("name");
        if (f != j.end() && f->is_number_unsigned() && name != j.end() && name->is_string()) {
            uint64_t& e = flushed[name->get<std::string>()];
            e = std::max(e, f->get<uint64_t>());
        }
    } else if (ev == "claim.timeout") {
        timeouts[labels_of(j, "name")]++;
    } else if (ev == "claim.reaped") {
        reaped_dead[labels_of(j, "name")]++;
    } else if (ev == "claim.expired") {
        reaped_ttl[labels_of(j, "name")]++;
    } else if (ev == "claim.forced") {
        forced[labels_of(j, "name")]++;
    } else if (ev == "session.started") {
        auto w = j.find("worker");
        auto n = j.find("restarts");
        if (w != j.end() && w->is_string() && n != j.end() && n->is_number() &&
            n->get<double>() > 0)
            restarts[w->get<std::string>()]++;
    }
}

namespace {

void metric(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
}

std::string label_value(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\' || c == '"') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        out += c;
    }
    return out;
}

std::string labels(const EventCounters::Labels& l, const std::string& more = "") {
    return "{" + more + "type=\"" + label_value(l.first) + "\",worker=\"" + label_value(l.second) +
           "\"}";
}

void series(std::string& out, const char* name, const EventCounters::Series& s,
            const std::string& more = "") {
    for (const auto& [l, n] : s)
        out += name + labels(l, more) + " " + std::to_string(n) + "\n";
}

} // namespace

void read_file_counters(Core& core, EventCounters& c) {
    // The notes before the log: a note's tries that an event logged
    // meanwhile are then seen in the log, and not counted twice.
    auto notes = core.claims.store().contention_notes();
    c.update(core.events.path());
    c.unlogged_contentions.clear();
    for (const auto& [name, note] : notes) {
        auto f = c.flushed.find(name);
        if (note.pending == 0 || (f != c.flushed.end() && f->second >= note.epoch)) continue;
        c.unlogged_contentions[{c.type_of(name), c.worker_of(note.contender)}] += note.pending;
    }
}

void count_active(EventCounters& c, MetricGauges& g, const HolderView& v) {
    if (v.verdict.life == Life::Dead) return;
    (v.mode == Mode::Shared ? g.shared
                            : g.exclusive)[{c.type_of(v.name), c.worker_of(v.holder.session)}]++;
}

bool supervisor_running(Core& core) {
    auto sup = read_supervisor(core.home, core.sessions.probe());
    return sup && sup->running;
}

std::string render_metrics(Core& core, EventCounters& c, std::optional<bool> supervisor_up) {
    // The claims before the counters, as in render_backend_metrics.
    std::vector<std::string> errors;
    const auto held = core.claims.all(&errors);
    read_file_counters(core, c);
    MetricGauges g;
    for (const auto& v : held)
        count_active(c, g, v);
    for (const auto& id : core.registry.ids()) {
        try {
            if (auto s = core.registry.read(id))
                if (core.sessions.verdict(*s).life == Life::Alive) g.sessions_alive++;
        } catch (const Error&) {
        }
    }
    g.supervisor_up = supervisor_up ? *supervisor_up : supervisor_running(core);
    return render_exposition(c, g);
}

std::string render_exposition(const EventCounters& c, const MetricGauges& g) {
    EventCounters::Series contentions = c.contentions;
    for (const auto& [l, n] : c.unlogged_contentions)
        contentions[l] += n;
    std::string o;
    metric(o, "loop_claims_active", "gauge", "Claims held by live sessions, by mode.");
    series(o, "loop_claims_active", g.exclusive, "mode=\"exclusive\",");
    series(o, "loop_claims_active", g.shared, "mode=\"shared\",");
    metric(o, "loop_claim_acquisitions_total", "counter", "Claims acquired.");
    series(o, "loop_claim_acquisitions_total", c.acquisitions);
    metric(o, "loop_claim_releases_total", "counter", "Claims released by their holder.");
    series(o, "loop_claim_releases_total", c.releases);
    metric(o, "loop_claim_contentions_total", "counter",
           "Claim attempts that found the name held by another session.");
    series(o, "loop_claim_contentions_total", contentions);
    metric(o, "loop_claim_timeouts_total", "counter",
           "Claims with --wait that gave up before they got the name.");
    series(o, "loop_claim_timeouts_total", c.timeouts);
    metric(o, "loop_claim_wait_seconds", "histogram",
           "How long claims taken with --wait waited before they were acquired.");
    for (size_t i = 0; i < c.kWaitBuckets.size(); ++i)
        o += "loop_claim_wait_seconds_bucket{le=\"" + num(c.kWaitBuckets[i]) + "\"} " +
             std::to_string(c.wait_buckets[i]) + "\n";
    o += "loop_claim_wait_seconds_bucket{le=\"+Inf\"} " + std::to_string(c.wait_count) + "\n";
    o += "loop_claim_wait_seconds_sum " + num(c.wait_sum) + "\n";
    o += "loop_claim_wait_seconds_count " + std::to_string(c.wait_count) + "\n";
    metric(o, "loop_claims_reaped_total", "counter",
           "Stale claims removed, by reason (dead session or expired TTL).");
    series(o, "loop_claims_reaped_total", c.reaped_dead, "reason=\"dead_session\",");
    series(o, "loop_claims_reaped_total", c.reaped_ttl, "reason=\"ttl\",");
    metric(o, "loop_claims_forced_total", "counter", "Claims released with --force.");
    series(o, "loop_claims_forced_total", c.forced);
    metric(o, "loop_sessions_alive", "gauge", "Sessions whose process or heartbeat is alive.");
    o += "loop_sessions_alive " + std::to_string(g.sessions_alive) + "\n";
    metric(o, "loop_worker_restarts_total", "counter", "Restarts of supervised workers.");
    for (const auto& [w, n] : c.restarts)
        o += "loop_worker_restarts_total{worker=\"" + label_value(w) + "\"} " + std::to_string(n) +
             "\n";
    metric(o, "loop_supervisor_up", "gauge", "1 when a supervisor runs for this home.");
    o += std::string("loop_supervisor_up ") + (g.supervisor_up ? "1" : "0") + "\n";
    return o;
}

} // namespace loop
