#include "core/events.hpp"

#include "core/text.hpp"
#include "os/file_tail.hpp"
#include "os/fs.hpp"
#include "os/proc.hpp"

#include <cstdio>
#include <cstring>

namespace loop {

std::optional<std::string> event_problem(const nlohmann::json& j) {
    if (!j.is_object()) return "not a JSON object";
    for (const char* key : {"ts", "event"}) {
        auto it = j.find(key);
        if (it == j.end() || !it->is_string()) return std::string("no string \"") + key + "\"";
    }
    for (const char* key : {"restarts", "waited_ms", "replica", "pid", "fence", "code", "signal",
                            "tries", "flushes"}) {
        auto it = j.find(key);
        if (it != j.end() && !it->is_number() && !it->is_null())
            return std::string("\"") + key + "\" is not a number";
    }
    return std::nullopt;
}

std::optional<std::string> event_line_problem(const std::string& line) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) return "not valid JSON";
    return event_problem(j);
}

std::map<std::pair<std::string, int>, int> last_restart_counts(const std::string& path) {
    std::map<std::pair<std::string, int>, int> out;
    os::FileTail file(path);
    int err = 0;
    if (!file.open(&err)) return out;
    std::string partial;
    auto take = [&out](const std::string& line) {
        if (line.find("\"session.started\"") == std::string::npos) return;
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded() || event_problem(j) || j["event"] != "session.started") return;
        auto w = j.find("worker"), r = j.find("replica"), n = j.find("restarts");
        if (w == j.end() || !w->is_string() || r == j.end() || !r->is_number_integer() ||
            n == j.end() || !n->is_number_integer())
            return;
        out[{w->get<std::string>(), r->get<int>()}] = n->get<int>();
    };
    file.read_new([&](std::string_view chunk) {
        partial.append(chunk);
        size_t start = 0, nl;
        while ((nl = partial.find('\n', start)) != std::string::npos) {
            take(partial.substr(start, nl - start));
            start = nl + 1;
        }
        partial.erase(0, start);
    });
    return out;
}

std::string EventLog::line_of(const std::string& event, nlohmann::json fields) {
    // Into `fields` itself (a field of the same name wins): no copy of it.
    if (!fields.is_object()) fields = nlohmann::json::object();
    fields.emplace("ts", format_time(os::now_ms()));
    fields.emplace("event", event);
    std::string line = fields.dump();
    line += '\n';
    return line;
}

void EventLog::append(const std::string& event, nlohmann::json fields) {
    if (forward_) forward_(event, fields);
    append_lines(line_of(event, std::move(fields)));
}

void EventLog::append_lines(const std::string& lines) {
    if (lines.empty()) return;
    os::Status s = os::append_line_at(home_.root(), "events.jsonl", lines);
    if (!s.ok() && !warned_.exchange(true)) {
        std::fprintf(stderr, "loop: warning: cannot append to %s: %s\n", path().c_str(),
                     std::strerror(s.err));
    }
}

} // namespace loop

namespace loop {

void EventBatch::add(const std::string& event, nlohmann::json fields) {
    lines_ += EventLog::line_of(event, std::move(fields));
    if (lines_.size() >= kFlushBytes) flush();
}

void EventBatch::flush() {
    if (lines_.empty()) return;
    log_.append_lines(lines_);
    lines_.clear();
}

} // namespace loop
