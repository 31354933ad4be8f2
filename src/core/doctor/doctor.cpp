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
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>

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

void Doctor::check_claims(std::vector<Finding>& out) {
    if (!usable("claims")) return;
    const bool judge = !std::count(unusable_.begin(), unusable_.end(), "locks");
    int dir = home_.claims();
    ClaimStore& store = claims_.store();
    VerdictCache verdicts(sessions_); // each session judged once for the check
    // Every file, also those whose name decodes to no claim name (which
    // the store does not list).
    for (const auto& file : list_or_throw(dir, path_of("claims", ""))) {
        if (file.empty() || file[0] == '.') continue; // the home's own (temp files)
        const std::string path = path_of("claims", file);
        bool gone = false;
        ClaimRecord seen;
        auto defect = claim_defect(dir, file, home_.sub_path("claims") + "/" + file, &gone, &seen);
        if (gone) continue;
        if (defect) {
            Finding x;
            x.kind = "corrupt-claim";
            x.path = path;
            x.sub = "claims";
            x.subject = file;
            x.problem = *defect;
            x.fix = "move it aside to " + home_.path() +
                    "/corrupt/; it was never a valid claim, so no holder can depend on it";
            x.repairable = true;
            out.push_back(std::move(x));
            continue;
        }
        if (!judge) continue;
        const auto decoded = file_name_claim(file);
        if (!decoded) continue; // a defect, reported above
        const std::string& name = *decoded;
        // Live holders outside a multi-name acquisition need no lock: there
        // is nothing to report about them.
        if (std::all_of(seen.holders.begin(), seen.holders.end(), [&](const Holder& h) {
                return h.txn.empty() &&
                       claims_.holder_verdict(h, false, nullptr, &verdicts).life == Life::Alive;
            }))
            continue;
        // Judge the others as a claimer would: under the name's lock.
        auto lock = store.lock({name});
        std::optional<ClaimRecord> rec;
        try {
            rec = store.read(name);
        } catch (const Error&) {
            continue; // changed meanwhile; the next run sees it
        }
        if (!rec) continue;
        for (const auto& h : rec->holders) {
            Verdict v = claims_.holder_verdict(h, true, nullptr, &verdicts);
            if (v.life == Life::Alive) continue;
            Finding x;
            x.path = path;
            x.sub = "claims";
            x.subject = name;
            x.session = h.session;
            x.fence = h.fence;
            const std::string who =
                "held by session " + h.session + " (fence " + std::to_string(h.fence) + ")";
            if (v.life == Life::Unknown) {
                x.kind = "undecidable";
                x.severity = Severity::Info;
                x.problem = who + ", whose liveness cannot be decided: " + v.why;
                x.fix = "none: such a holder is treated as alive and never removed";
                out.push_back(std::move(x));
                continue;
            }
            bool unknown = false;
            try {
                unknown = !sessions_.registry().read(h.session).has_value();
            } catch (const Error&) {
            }
            if (unknown) {
                x.kind = "unknown-session";
                x.problem = who + ", a session that has no record";
            } else {
                x.kind = "stale";
                x.problem = who + ", which is stale: " + v.why;
            }
            x.fix = "reap it, deciding again under the name's lock";
            x.repairable = true;
            out.push_back(std::move(x));
        }
    }
}

void Doctor::check_fences(std::vector<Finding>& out) {
    if (!usable("locks")) return;
    int dir = home_.locks();
    for (const auto& name : list_or_throw(dir, path_of("locks", ""))) {
        if (name.empty() || name[0] == '.') continue;
        int err = 0;
        auto text = os::read_file_at(dir, name, &err);
        std::string problem;
        if (!text) {
            if (err == ENOENT) continue;
            problem = std::string("cannot read it: ") + os::read_error_text(err);
        } else if (!fence_text_ok(*text)) {
            problem = "corrupt fence counter (not a whole number below 2^64), so every claim "
                      "of '" +
                      printable(file_name_claim(name).value_or(name)) + "' fails";
        } else {
            continue;
        }
        Finding x;
        x.kind = "corrupt-fence";
        x.path = path_of("locks", name);
        x.sub = "locks";
        x.subject = name;
        x.problem = problem;
        x.fix = "reset it above every fence ever handed out (to the current time in "
                "microseconds), under the name's lock";
        x.repairable = true;
        out.push_back(std::move(x));
    }
}

void Doctor::check_sessions(std::vector<Finding>& out) {
    if (!usable("sessions")) return;
    bool supervisor_running = false;
    if (auto info = read_supervisor(home_, sessions_.probe()))
        supervisor_running = anchor_verdict(info->anchor, sessions_.probe()).life != Life::Dead;
    int dir = home_.sessions();
    SessionRegistry& reg = sessions_.registry();
    auto ids = reg.ids();
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids) {
        const std::string origin = home_.sub_path("sessions") + "/" + id;
        bool gone = false;
        auto defect = session_defect(dir, id, origin, &gone);
        if (gone) continue;
        Finding x;
        x.path = path_of("sessions", id);
        x.sub = "sessions";
        x.subject = id;
        x.session = id;
        if (defect) {
            x.kind = "corrupt-session";
            x.problem = *defect;
            x.fix = "move it aside to " + home_.path() +
                    "/corrupt/; claims it holds then belong to no session, and 'loop reap' "
                    "removes them";
            x.repairable = true;
            out.push_back(std::move(x));
            continue;
        }
        if (supervisor_running) continue; // dead workers are the supervisor's to clean up
        std::optional<SessionRecord> s;
        try {
            s = reg.read(id);
        } catch (const Error&) {
            continue;
        }
        if (!s || s->kind != "worker") continue;
        Verdict v = sessions_.verdict(*s);
        if (v.life != Life::Dead) continue;
        x.kind = "dead-worker";
        x.nonce = s->nonce;
        x.problem = "session of worker " + s->worker.value_or("?") +
                    (s->replica ? " (replica " + std::to_string(*s->replica) + ")" : "") +
                    " is dead (" + v.why + ") and no supervisor is running to clean it up";
        x.fix = "reap its claims, then remove the record";
        x.repairable = true;
        out.push_back(std::move(x));
    }
}

void Doctor::check_txns(std::vector<Finding>& out) {
    if (!usable("txn")) return;
    ClaimStore& store = claims_.store();
    auto ids = store.txns();
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids) {
        Finding x;
        x.path = path_of("txn", id);
        x.sub = "txn";
        x.subject = id;
        x.repairable = true;
        if (auto owner = store.txn_owner(id)) {
            Verdict v = anchor_verdict(*owner, sessions_.probe());
            if (v.life != Life::Dead) continue;
            x.kind = "txn";
            x.problem = "commit marker of a multi-name claim whose process is gone (" + v.why + ")";
            x.fix = "clear the claims that still refer to it, then remove it";
            out.push_back(std::move(x));
            continue;
        }
        int err = 0;
        auto text = os::read_file_at(home_.txns(), id, &err);
        if (!text && err == ENOENT) continue; // dropped meanwhile
        x.kind = "corrupt-txn";
        x.problem = text ? "corrupt commit marker (expected 'PID START-TICKS BOOT-ID')"
                         : std::string("cannot read it: ") + os::read_error_text(err);
        x.fix = "clear the claims that refer to it (under their locks), then remove it";
        out.push_back(std::move(x));
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
