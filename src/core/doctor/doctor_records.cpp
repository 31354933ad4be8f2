// The doctor's checks of the records: claims, fences, sessions and
// unfinished multi-name claims (doctor.cpp runs them; doctor_repair.cpp
// fixes what they find).
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
#include <optional>

namespace loop {

using namespace doctor_detail;

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

} // namespace loop
