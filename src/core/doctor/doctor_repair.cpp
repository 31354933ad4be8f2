// Repairs of what Doctor::check() finds.
#include "core/doctor/doctor.hpp"
#include "core/doctor/doctor_detail.hpp"

#include "core/error.hpp"
#include "core/events.hpp"
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

using namespace doctor_detail;

// Repairs.

std::vector<Finding> Doctor::repair() {
    // Permissions first: the other checks need to get into the directories.
    std::vector<Finding> perms;
    unusable_.clear();
    absent_.clear();
    check_permissions(perms);
    for (auto& f : perms)
        if (f.repairable) {
            try {
                repair_one(f, perms);
            } catch (const Error& e) {
                f.outcome = e.message();
            }
        }

    std::vector<Finding> all;
    for (auto& f : check()) {
        bool dir_finding =
            f.kind == "permissions" || f.kind == "owner" || f.kind == "not-a-directory";
        if (!dir_finding) all.push_back(std::move(f));
    }
    for (auto& f : all) {
        if (!f.repairable || !f.outcome.empty()) continue;
        try {
            repair_one(f, all);
        } catch (const Error& e) {
            f.outcome = e.message();
        }
    }
    perms.insert(perms.end(), std::make_move_iterator(all.begin()),
                 std::make_move_iterator(all.end()));
    return perms;
}

int Doctor::corrupt_dir() {
    if (corrupt_) return corrupt_.get();
    os::Status s = os::make_dir_at(home_.root(), "corrupt", 0700);
    if (!s.ok()) throw io_error("cannot create " + path_of("corrupt", ""), s.err);
    int err = 0;
    corrupt_ = os::open_dir(home_.root(), "corrupt", &err);
    if (!corrupt_) throw io_error("cannot open " + path_of("corrupt", ""), err);
    return corrupt_.get();
}

std::string Doctor::move_aside(int dir, const char* sub, const std::string& name) {
    const int to = corrupt_dir();
    // <sub>.<name>.<time>: records of different kinds may share a name.
    std::string base =
        std::string(sub) + "." + name.substr(0, 180) + "." + format_time(os::now_ms());
    for (int n = 0;; ++n) {
        std::string target = n == 0 ? base : base + "." + std::to_string(n);
        os::Status s = os::rename_noreplace_at(dir, name, to, target);
        if (s.ok()) return path_of("corrupt", target);
        if (s.err != EEXIST || n >= 100)
            throw io_error("cannot move " + path_of(sub, name) + " to " + path_of("corrupt", ""),
                           s.err);
    }
}

void Doctor::repair_one(Finding& f, std::vector<Finding>& all) {
    ClaimStore& store = claims_.store();
    if (f.kind == "permissions") {
        os::Status s = os::chmod_dir_at(home_.root(), f.sub, 0700);
        if (!s.ok()) throw io_error("cannot chmod " + f.path, s.err);
        f.repaired = true;
        f.outcome = "changed its mode to 0700";
    } else if (f.kind == "temp") {
        int err = 0;
        os::Fd dir = os::open_dir(home_.root(), f.sub, &err);
        if (!dir) throw io_error("cannot open " + path_of(f.sub, ""), err);
        os::Status s = os::unlink_at(dir.get(), f.subject);
        if (!s.ok() && s.err != ENOENT) throw io_error("cannot remove " + f.path, s.err);
        f.repaired = true;
        f.outcome = s.ok() ? "removed" : "already gone";
    } else if (f.kind == "corrupt-claim") {
        // Under the name's lock, so that no claimer acts on it meanwhile (a
        // file name that is no claim name has no claimers, nor a lock).
        std::unique_ptr<ClaimLock> lock;
        if (auto name = file_name_claim(f.subject)) lock = store.lock({*name});
        bool gone = false;
        int dir = home_.claims();
        auto defect =
            claim_defect(dir, f.subject, home_.sub_path("claims") + "/" + f.subject, &gone);
        f.repaired = true;
        if (gone) {
            f.outcome = "already gone";
        } else if (!defect) {
            f.outcome = "valid again (rewritten meanwhile): left alone";
        } else {
            f.outcome = "moved to " + move_aside(dir, "claims", f.subject) + "; the name is free";
        }
    } else if (f.kind == "corrupt-session") {
        auto guard = sessions_.registry().lock();
        bool gone = false;
        int dir = home_.sessions();
        auto defect =
            session_defect(dir, f.subject, home_.sub_path("sessions") + "/" + f.subject, &gone);
        f.repaired = true;
        if (gone) {
            f.outcome = "already gone";
        } else if (!defect) {
            f.outcome = "valid again (rewritten meanwhile): left alone";
        } else {
            f.outcome = "moved to " + move_aside(dir, "sessions", f.subject) +
                        "; claims it held now belong to no session: 'loop reap' removes them";
        }
    } else if (f.kind == "corrupt-fence") {
        int err = 0;
        // A directory, FIFO or symlink in place of the counter cannot be
        // rewritten: it goes aside, and a new counter is reset below.
        std::string moved;
        auto facts = os::facts_at(home_.locks(), f.subject, &err);
        if (facts && facts->type != os::FileFacts::Type::File)
            moved = "moved to " + move_aside(home_.locks(), "locks", f.subject) + ", ";
        os::Fd fd = os::open_lock_file(home_.locks(), f.subject, &err);
        if (!fd) throw io_error("cannot open " + f.path, err);
        os::Status s = os::lock_exclusive(fd.get());
        if (!s.ok()) throw io_error("cannot lock " + f.path, s.err);
        auto text = os::pread_all(fd.get(), &err);
        if (!text) throw io_error("cannot read " + f.path, err);
        f.repaired = true;
        if (fence_text_ok(*text)) {
            f.outcome = "valid again (rewritten meanwhile): left alone";
            return;
        }
        uint64_t next = static_cast<uint64_t>(os::now_us());
        try {
            if (auto name = file_name_claim(f.subject))
                if (auto rec = store.read(*name))
                    for (const auto& h : rec->holders)
                        next = std::max(next, h.fence);
        } catch (const Error&) {
        }
        char buf[32];
        std::snprintf(buf, sizeof buf, "%020llu\n", static_cast<unsigned long long>(next));
        s = os::truncate_fd(fd.get());
        if (s.ok()) s = os::pwrite_all(fd.get(), buf);
        if (!s.ok()) {
            f.repaired = false;
            throw io_error("cannot write " + f.path, s.err);
        }
        f.outcome = moved + "reset to " + std::to_string(next) + "; the next claim gets fence " +
                    std::to_string(next + 1);
    } else if (f.kind == "stale" || f.kind == "unknown-session") {
        repair_claim_holders(f.subject, all);
    } else if (f.kind == "dead-worker") {
        repair_dead_worker(f);
    } else if (f.kind == "txn") {
        repair_dead_txns(all);
    } else if (f.kind == "corrupt-txn") {
        repair_corrupt_txn(f);
    } else if (f.kind == "supervisor-lock") {
        int err = 0;
        if (!os::facts_at(home_.root(), "supervisor.lock", &err)) {
            f.repaired = true;
            f.outcome = "already gone";
            return;
        }
        os::Fd fd = os::open_lock_file(home_.root(), "supervisor.lock", &err);
        if (!fd) throw io_error("cannot open " + f.path, err);
        os::Status s = os::try_lock_exclusive(fd.get());
        f.repaired = true;
        if (!s.ok()) {
            if (s.err != EWOULDBLOCK) {
                f.repaired = false;
                throw io_error("cannot lock " + f.path, s.err);
            }
            f.outcome = "a supervisor holds it now: left alone";
            return;
        }
        // Emptied rather than removed: a supervisor that opened the file just
        // before a removal would lock an unlinked file while another one
        // created and locked a new file, and both would run.
        s = os::truncate_fd(fd.get());
        if (!s.ok()) {
            f.repaired = false;
            throw io_error("cannot empty " + f.path, s.err);
        }
        f.outcome = "emptied (the file stays: it is only a lock)";
    } else if (f.kind == "events-bad-line") {
        repair_event_lines(f);
    } else if (f.kind == "events-size") {
        os::Status s = os::rename_at(home_.root(), "events.jsonl", home_.root(), "events.jsonl.1");
        if (!s.ok() && s.err != ENOENT) throw io_error("cannot rotate " + f.path, s.err);
        f.repaired = true;
        f.outcome = s.ok() ? "rotated to " + path_of("", "events.jsonl.1") : "already gone";
    }
}

// Keeps the well-formed lines of the event log and moves the others to
// corrupt/. The log has no lock: an event appended between the read and
// the rename would be lost, so the size is compared just before it.
void Doctor::repair_event_lines(Finding& f) {
    for (int attempt = 0; attempt < 5; ++attempt) {
        int err = 0;
        auto text = os::read_file_at(home_.root(), "events.jsonl", &err, kEventsReadMax);
        if (!text) throw io_error("cannot read " + f.path, err);
        std::string good, bad;
        size_t start = 0;
        while (start < text->size()) {
            size_t nl = text->find('\n', start);
            if (nl == std::string::npos) nl = text->size(); // torn last line
            std::string line = text->substr(start, nl - start);
            start = nl + 1;
            if (line.empty()) continue;
            (event_line_problem(line) ? bad : good) += line + "\n";
        }
        if (bad.empty()) {
            f.repaired = true;
            f.outcome = "no malformed line left";
            return;
        }
        const std::string saved = "events.jsonl." + format_time(os::now_ms()) + ".bad";
        os::Status s = os::create_file_at(corrupt_dir(), saved, bad);
        if (!s.ok()) throw io_error("cannot write " + path_of("corrupt", saved), s.err);
        auto now = os::facts_at(home_.root(), "events.jsonl", &err);
        if (now && static_cast<uint64_t>(now->size) == text->size()) {
            s = os::replace_file_at(home_.root(), "events.jsonl", good);
            if (!s.ok()) throw io_error("cannot rewrite " + f.path, s.err);
            f.repaired = true;
            f.outcome = "malformed lines moved to " + path_of("corrupt", saved);
            return;
        }
        os::unlink_at(corrupt_dir(), saved); // appended meanwhile: read it again
    }
    throw Error(Exit::Failure, f.path + ": it keeps growing; repair it when nothing is running");
}

void Doctor::repair_claim_holders(const std::string& name, std::vector<Finding>& all) {
    std::vector<std::string> warnings;
    std::vector<ReapItem> reaped = claims_.reap_name(name, false, &warnings);
    std::optional<ClaimRecord> after;
    try {
        after = claims_.store().read(name);
    } catch (const Error&) {
    }
    for (auto& f : all) {
        if ((f.kind != "stale" && f.kind != "unknown-session") || f.subject != name ||
            !f.outcome.empty())
            continue;
        auto same = [&](const Holder& h) { return h.session == f.session && h.fence == f.fence; };
        bool was_reaped = std::any_of(reaped.begin(), reaped.end(),
                                      [&](const ReapItem& it) { return same(it.holder); });
        bool still = after && std::any_of(after->holders.begin(), after->holders.end(), same);
        if (was_reaped) {
            f.repaired = true;
            f.outcome = "reaped";
        } else if (!still) {
            f.repaired = true;
            f.outcome = "already gone";
        } else {
            f.outcome = "left alone: not stale when decided again under the lock";
        }
    }
}

void Doctor::repair_dead_worker(Finding& f) {
    size_t released = 0;
    for (const auto& name :
         claims_.names_with_holder([&](const Holder& h) { return h.session == f.subject; })) {
        for (const auto& it : claims_.reap_name(name, false, nullptr))
            if (it.holder.session == f.subject) ++released;
    }
    SessionRegistry& reg = sessions_.registry();
    auto guard = reg.lock();
    std::optional<SessionRecord> again;
    try {
        again = reg.read(f.subject);
    } catch (const Error& e) {
        f.outcome = "left alone: " + e.message();
        return;
    }
    f.repaired = true;
    if (!again) {
        f.outcome = "already removed";
        return;
    }
    if (again->nonce != f.nonce || sessions_.verdict(*again).life != Life::Dead) {
        f.outcome = "restarted meanwhile: left alone";
        return;
    }
    reg.erase(f.subject);
    nlohmann::json ev = {{"session", f.subject}, {"by", "doctor"}};
    if (again->worker) ev["worker"] = *again->worker;
    if (again->replica) ev["replica"] = *again->replica;
    events_.append("session.ended", std::move(ev));
    f.outcome = "reaped " + plural(released, "claim", "claims") + " and removed the record";
}

void Doctor::repair_dead_txns(std::vector<Finding>& all) {
    if (txns_reaped_) return;
    txns_reaped_ = true;
    std::vector<std::string> removed = claims_.reap_txns(false);
    for (auto& f : all) {
        if (f.kind != "txn" || !f.outcome.empty()) continue;
        if (std::find(removed.begin(), removed.end(), f.subject) != removed.end()) {
            f.repaired = true;
            f.outcome = "cleared what referred to it and removed it";
        } else if (!claims_.store().txn_committed(f.subject)) {
            f.repaired = true;
            f.outcome = "already gone";
        } else {
            f.outcome = "left alone: its owner is not dead on a second look";
        }
    }
}

void Doctor::repair_corrupt_txn(Finding& f) {
    // Its owner is unknown, but every acquisition keeps the locks of all its
    // names until it has dropped its marker: once a name's lock is ours,
    // the marker only stands for a completed acquisition, and reap_name
    // clears the reference (or reaps a holder that is stale anyway).
    size_t cleared = 0;
    for (const auto& name :
         claims_.names_with_holder([&](const Holder& h) { return h.txn == f.subject; })) {
        claims_.reap_name(name, false, nullptr);
        ++cleared;
    }
    os::Status s = os::unlink_at(home_.txns(), f.subject);
    if (!s.ok() && s.err != ENOENT) throw io_error("cannot remove " + f.path, s.err);
    f.repaired = true;
    f.outcome = "cleared " + plural(cleared, "claim", "claims") + " referring to it and removed it";
}

} // namespace loop
