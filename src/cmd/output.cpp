#include "cmd/output.hpp"

#include "core/text.hpp"
#include "os/fd.hpp"
#include "os/proc.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace loop::cmd {

using nlohmann::json;

static json time_or_null(int64_t ms) {
    return ms > 0 ? json(format_time(ms)) : json(nullptr);
}

json claim_json(const std::string& name, Mode mode, const Holder& h) {
    return {{"name", name},
            {"session", h.session},
            {"mode", mode_name(mode)},
            {"fence", h.fence},
            {"acquired_at", format_time(h.acquired_ms)},
            {"expires_at", time_or_null(h.expires_ms)},
            {"reason", h.reason.empty() ? json(nullptr) : json(h.reason)},
            {"meta", h.meta}};
}

json holder_json(const HolderView& v) {
    json j = claim_json(v.name, v.mode, v.holder);
    int pid = v.session && v.session->anchor ? v.session->anchor->pid : v.holder.pid;
    j["pid"] = pid > 0 ? json(pid) : json(nullptr);
    j["alive"] = v.verdict.life == Life::Alive  ? json(true)
                 : v.verdict.life == Life::Dead ? json(false)
                                                : json(nullptr);
    j["liveness"] = v.verdict.why;
    j["worker"] = v.session && v.session->worker ? json(*v.session->worker) : json(nullptr);
    return j;
}

json session_json(const SessionRecord& s, const Verdict& v) {
    return {{"id", s.id},
            {"kind", s.kind},
            {"pid", s.anchor ? json(s.anchor->pid) : json(nullptr)},
            {"alive", v.life == Life::Alive  ? json(true)
                      : v.life == Life::Dead ? json(false)
                                             : json(nullptr)},
            {"liveness", v.why},
            {"worker", s.worker ? json(*s.worker) : json(nullptr)},
            {"replica", s.replica ? json(*s.replica) : json(nullptr)},
            {"label", s.label.empty() ? json(nullptr) : json(s.label)},
            {"host", s.host},
            {"started_at", time_or_null(s.started_ms)},
            {"ttl_ms", s.ttl_ms > 0 ? json(s.ttl_ms) : json(nullptr)},
            {"heartbeat_at", s.ttl_ms > 0 ? time_or_null(s.heartbeat_ms) : json(nullptr)},
            {"restarts", s.restarts}};
}

void print_json(const json& j) {
    std::string s = j.dump(2) + "\n";
    std::fwrite(s.data(), 1, s.size(), stdout);
}

void print_warnings(const std::vector<std::string>& warnings) {
    for (const auto& w : warnings)
        std::fprintf(stderr, "loop: warning: %s\n", w.c_str());
}

bool use_colour() {
    return os::is_terminal(1) && !std::getenv("NO_COLOR");
}

std::string alive_cell(Life l, bool colour) {
    const char* word = l == Life::Alive ? "yes" : l == Life::Dead ? "no" : "unknown";
    if (!colour) return word;
    const char* c = l == Life::Alive ? "\033[32m" : l == Life::Dead ? "\033[31m" : "\033[33m";
    return std::string(c) + word + "\033[0m";
}

static size_t visible_width(const std::string& s) {
    size_t w = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\033') {
            while (i < s.size() && s[i] != 'm')
                ++i;
            continue;
        }
        ++w;
    }
    return w;
}

void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
    std::vector<size_t> width(header.size(), 0);
    for (size_t i = 0; i < header.size(); ++i)
        width[i] = header[i].size();
    for (const auto& r : rows)
        for (size_t i = 0; i < r.size() && i < width.size(); ++i)
            width[i] = std::max(width[i], r[i].size());
    auto line = [&](const std::vector<std::string>& cells) {
        std::string out;
        for (size_t i = 0; i < cells.size(); ++i) {
            out += cells[i];
            if (i + 1 < cells.size())
                out += std::string(width[i] - visible_width(cells[i]) + 2, ' ');
        }
        while (!out.empty() && out.back() == ' ')
            out.pop_back();
        std::printf("%s\n", out.c_str());
    };
    line(header);
    for (const auto& r : rows)
        line(r);
}

WaitStatusLine::WaitStatusLine() : tty_(os::is_terminal(2)), start_ms_(os::monotonic_ms()) {}

void WaitStatusLine::update(const AcquireOutcome& out) {
    if (!tty_ || out.blockers.empty()) return;
    const HolderView& b = out.blockers.front();
    int pid = b.session && b.session->anchor ? b.session->anchor->pid : b.holder.pid;
    const int64_t now = os::now_ms();
    std::string line = "waiting for " + b.name + ": held by " + b.holder.session;
    if (pid > 0) line += " (pid " + std::to_string(pid) + ")";
    line += " for " + format_age(now - b.holder.acquired_ms) + "; waited " +
            format_age(os::monotonic_ms() - start_ms_);
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
    std::fflush(stderr);
    shown_ = true;
}

void WaitStatusLine::finish() {
    if (shown_) std::fprintf(stderr, "\r\033[K");
    shown_ = false;
}

std::function<void(const AcquireOutcome&)> WaitStatusLine::callback() {
    if (!tty_) return {};
    return [this](const AcquireOutcome& out) { update(out); };
}

std::string session_flag_or_env(const std::string& flag) {
    if (!flag.empty()) return flag;
    if (const char* e = std::getenv("LOOP_SESSION_ID"); e && *e) return e;
    return "";
}

} // namespace loop::cmd
