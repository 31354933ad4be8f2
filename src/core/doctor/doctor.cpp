#include "core/doctor/doctor.hpp"
#include "core/doctor/doctor_detail.hpp"

#include "core/error.hpp"
#include "core/supervisor/supervisor_lock.hpp"
#include "core/text.hpp"
#include "os/doctor_fs.hpp"
#include "os/fs.hpp"
#include "os/proc.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace loop {

const char* severity_name(Severity s) {
    return s == Severity::Info ? "info" : "problem";
}

using namespace doctor_detail;

Doctor::Doctor(Home& home, Sessions& sessions, Claims& claims, EventLog& events, DoctorOptions opts)
    : home_(home), sessions_(sessions), claims_(claims), events_(events), opts_(opts) {}

bool Doctor::healthy(const std::vector<Finding>& findings) {
    return std::none_of(findings.begin(), findings.end(), [](const Finding& f) {
        return f.severity == Severity::Problem && !f.repaired;
    });
}

bool Doctor::usable(const std::string& sub) const {
    return std::find(unusable_.begin(), unusable_.end(), sub) == unusable_.end() && !absent(sub);
}

bool Doctor::absent(const std::string& sub) const {
    return std::find(absent_.begin(), absent_.end(), sub) != absent_.end();
}

std::string Doctor::path_of(const std::string& sub, const std::string& name) const {
    std::string p = home_.path();
    if (!sub.empty()) p += "/" + sub;
    if (!name.empty()) p += "/" + printable(name);
    return p;
}

// Checks.

std::vector<Finding> Doctor::check() {
    std::vector<Finding> out;
    unusable_.clear();
    absent_.clear();
    check_permissions(out);
    check_temps(out);
    check_claims(out);
    check_fences(out);
    check_sessions(out);
    check_txns(out);
    check_supervisor_lock(out);
    check_events(out);
    return out;
}

void Doctor::check_permissions(std::vector<Finding>& out) {
    const unsigned me = os::effective_uid();
    auto check_dir = [&](const std::string& sub, const os::FileFacts& f) {
        const std::string path = path_of(sub, "");
        if (f.type != os::FileFacts::Type::Directory) {
            Finding x;
            x.kind = "not-a-directory";
            x.path = path;
            x.sub = sub;
            x.problem = std::string("it is ") + type_name(f.type) + ", not a directory";
            x.fix = "none: loop refuses to use it; move it away";
            out.push_back(std::move(x));
            unusable_.push_back(sub);
            return;
        }
        if (f.uid != me) {
            Finding x;
            x.kind = "owner";
            x.path = path;
            x.sub = sub;
            x.problem = "owned by uid " + std::to_string(f.uid) + ", not by this user (uid " +
                        std::to_string(me) + ")";
            x.fix = "none: give it back with chown (as root) or use another home";
            out.push_back(std::move(x));
        }
        if (f.mode != 0700) {
            Finding x;
            x.kind = "permissions";
            x.path = path;
            x.sub = sub;
            x.problem = "mode " + octal(f.mode) + ", should be 0700";
            x.repairable = f.uid == me;
            x.fix = x.repairable ? "chmod 0700" : "none: only its owner can change its mode";
            out.push_back(std::move(x));
        }
        if ((f.mode & 0700) != 0700 && !sub.empty()) unusable_.push_back(sub);
    };
    int err = 0;
    auto root = os::facts_at(home_.root(), "", &err);
    if (!root) throw io_error("cannot examine " + home_.path(), err);
    check_dir("", *root);
    for (const char* sub : kSubdirs) {
        auto f = os::facts_at(home_.root(), sub, &err);
        if (!f) {
            if (err != ENOENT) throw io_error("cannot examine " + path_of(sub, ""), err);
            absent_.push_back(sub);
            continue;
        }
        check_dir(sub, *f);
    }
}

void Doctor::check_temps(std::vector<Finding>& out) {
    const int64_t now = os::now_ms();
    for (const char* sub : {"claims", "sessions", "txn"}) {
        if (!usable(sub)) continue;
        int err = 0;
        os::Fd dir = os::open_dir(home_.root(), sub, &err);
        if (!dir) throw io_error("cannot open " + path_of(sub, ""), err);
        for (const auto& name : list_or_throw(dir.get(), path_of(sub, ""))) {
            if (name.rfind(".tmp.", 0) != 0) continue;
            auto facts = os::facts_at(dir.get(), name, &err);
            if (!facts) continue; // renamed or removed meanwhile: a write completed
            const int pid = temp_pid(name);
            bool writer_gone = false;
            if (pid > 0) {
                os::ProcInfo info = sessions_.probe().info(pid);
                writer_gone = info.state == os::ProcInfo::State::Gone || info.zombie;
            }
            const int64_t age = now - facts->mtime_ms;
            if (!writer_gone && age <= opts_.temp_age_ms) continue; // a write in progress
            Finding x;
            x.kind = "temp";
            x.path = path_of(sub, name);
            x.sub = sub;
            x.subject = name;
            if (writer_gone) {
                x.problem = "temporary file left behind by pid " + std::to_string(pid) +
                            ", which is no longer running";
            } else {
                x.problem = "temporary file " + format_age(age) +
                            " old (a write takes milliseconds)" +
                            (pid > 0 ? ", of pid " + std::to_string(pid) : std::string());
            }
            x.fix = "remove it";
            x.repairable = true;
            out.push_back(std::move(x));
        }
    }
}

void Doctor::check_supervisor_lock(std::vector<Finding>& out) {
    auto info = read_supervisor(home_, sessions_.probe());
    if (!info) return;
    Verdict v = anchor_verdict(info->anchor, sessions_.probe());
    if (v.life != Life::Dead) return;
    Finding x;
    x.kind = "supervisor-lock";
    x.path = path_of("", "supervisor.lock");
    x.subject = "supervisor.lock";
    x.severity = Severity::Info;
    x.problem = "stale supervisor.lock (pid " + std::to_string(info->anchor.pid) +
                " not running); harmless, as its lock died with the process";
    x.fix = "empty it, if no supervisor holds its lock";
    x.repairable = true;
    out.push_back(std::move(x));
}

// The event log is read whole for its line check up to this size; a larger
// one is reported for rotation (check_events) instead.

void Doctor::check_event_lines(std::vector<Finding>& out) {
    int err = 0;
    auto text = os::read_file_at(home_.root(), "events.jsonl", &err, kEventsReadMax);
    if (!text) return;
    size_t bad = 0, line_no = 0, first = 0;
    std::string first_problem;
    size_t start = 0;
    while (start < text->size()) {
        size_t nl = text->find('\n', start);
        if (nl == std::string::npos) break; // a line being written
        ++line_no;
        if (nl == start) { // an empty line (two writers ending one torn line)
            start = nl + 1;
            continue;
        }
        if (auto p = event_line_problem(text->substr(start, nl - start))) {
            if (bad++ == 0) {
                first = line_no;
                first_problem = *p;
            }
        }
        start = nl + 1;
    }
    if (bad == 0) return;
    Finding x;
    x.kind = "events-bad-line";
    x.path = path_of("", "events.jsonl");
    x.subject = "events.jsonl";
    x.problem = std::to_string(bad) + " malformed line(s), the first at line " +
                std::to_string(first) + " (" + first_problem +
                "); `loop events` and the metrics skip them";
    x.fix = "move the malformed lines to " + home_.path() + "/corrupt/ and keep the others";
    x.repairable = true;
    out.push_back(std::move(x));
}

void Doctor::check_events(std::vector<Finding>& out) {
    check_event_lines(out);
    int err = 0;
    auto f = os::facts_at(home_.root(), "events.jsonl", &err);
    if (!f || f->size <= opts_.events_max_bytes) return;
    char size[32];
    std::snprintf(size, sizeof size, "%.1f MiB", static_cast<double>(f->size) / (1024.0 * 1024.0));
    Finding x;
    x.kind = "events-size";
    x.path = path_of("", "events.jsonl");
    x.subject = "events.jsonl";
    x.severity = Severity::Info;
    x.problem = std::string("the event log is ") + size + " (over " +
                std::to_string(opts_.events_max_bytes / (1024 * 1024)) +
                " MiB); it is append-only and only grows";
    x.fix = "rotate it to events.jsonl.1 (replacing an older events.jsonl.1)";
    x.repairable = true;
    out.push_back(std::move(x));
}

} // namespace loop
