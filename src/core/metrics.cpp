#include "core/metrics.hpp"

#include "core/error.hpp"
#include "core/events.hpp"
#include "core/supervisor_lock.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <nlohmann/json.hpp>

namespace loop {

void EventCounters::update(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st;
    if (::fstat(fd, &st) == 0 && st.st_size < offset_) { // rotated or truncated: start over
        *this = EventCounters();
    }
    char buf[65536];
    ssize_t n;
    while ((n = ::pread(fd, buf, sizeof buf, offset_)) > 0) {
        offset_ += n;
        partial_.append(buf, static_cast<size_t>(n));
        size_t start = 0, nl;
        while ((nl = partial_.find('\n', start)) != std::string::npos) {
            count(partial_.substr(start, nl - start));
            start = nl + 1;
        }
        partial_.erase(0, start);
    }
    ::close(fd);
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
        acquisitions++;
        if (auto it = j.find("waited_ms"); it != j.end() && it->is_number()) {
            double s = it->get<double>() / 1000.0;
            wait_count++;
            wait_sum += s;
            for (size_t i = 0; i < kWaitBuckets.size(); ++i)
                if (s <= kWaitBuckets[i]) wait_buckets[i]++;
        }
    } else if (ev == "claim.contended") {
        contentions++;
    } else if (ev == "claim.reaped") {
        reaped_dead++;
    } else if (ev == "claim.expired") {
        reaped_ttl++;
    } else if (ev == "claim.forced") {
        forced++;
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

} // namespace

std::string render_metrics(Core& core, EventCounters& c, std::optional<bool> supervisor_up) {
    c.update(core.events.path());
    uint64_t exclusive = 0, shared = 0;
    std::vector<std::string> errors;
    for (const auto& v : core.claims.all(&errors)) {
        if (v.verdict.life == Life::Dead) continue;
        (v.mode == Mode::Shared ? shared : exclusive)++;
    }
    uint64_t alive = 0;
    for (const auto& id : core.registry.ids()) {
        try {
            if (auto s = core.registry.read(id))
                if (core.sessions.verdict(*s).life == Life::Alive) alive++;
        } catch (const Error&) {
        }
    }
    bool up = false;
    if (supervisor_up) {
        up = *supervisor_up;
    } else if (auto sup = read_supervisor(core.home, core.sessions.probe())) {
        up = sup->running;
    }

    std::string o;
    metric(o, "loop_claims_active", "gauge", "Claims held by live sessions, by mode.");
    o += "loop_claims_active{mode=\"exclusive\"} " + std::to_string(exclusive) + "\n";
    o += "loop_claims_active{mode=\"shared\"} " + std::to_string(shared) + "\n";
    metric(o, "loop_claim_acquisitions_total", "counter", "Claims acquired.");
    o += "loop_claim_acquisitions_total " + std::to_string(c.acquisitions) + "\n";
    metric(o, "loop_claim_contentions_total", "counter",
           "Claim attempts that found the name held by another session.");
    o += "loop_claim_contentions_total " + std::to_string(c.contentions) + "\n";
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
    o +=
        "loop_claims_reaped_total{reason=\"dead_session\"} " + std::to_string(c.reaped_dead) + "\n";
    o += "loop_claims_reaped_total{reason=\"ttl\"} " + std::to_string(c.reaped_ttl) + "\n";
    metric(o, "loop_claims_forced_total", "counter", "Claims released with --force.");
    o += "loop_claims_forced_total " + std::to_string(c.forced) + "\n";
    metric(o, "loop_sessions_alive", "gauge", "Sessions whose process or heartbeat is alive.");
    o += "loop_sessions_alive " + std::to_string(alive) + "\n";
    metric(o, "loop_worker_restarts_total", "counter", "Restarts of supervised workers.");
    for (const auto& [w, n] : c.restarts)
        o += "loop_worker_restarts_total{worker=\"" + label_value(w) + "\"} " + std::to_string(n) +
             "\n";
    metric(o, "loop_supervisor_up", "gauge", "1 when a supervisor runs for this home.");
    o += std::string("loop_supervisor_up ") + (up ? "1" : "0") + "\n";
    return o;
}

} // namespace loop
