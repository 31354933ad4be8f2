// Checking and repairing a home (loop doctor): each way a home can go
// wrong is made on purpose, reported with its kind and path, repaired, and
// a second check must then be healthy. Live and undecidable holders are
// never touched.
#include "core/doctor/doctor.hpp"
#include "core/error.hpp"
#include "core/metrics/metrics.hpp"
#include "os/proc.hpp"
#include "support.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <sys/file.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>

using namespace loop;
using namespace loop::test;

namespace {

std::vector<const Finding*> of_kind(const std::vector<Finding>& fs, const std::string& kind) {
    std::vector<const Finding*> out;
    for (const auto& f : fs)
        if (f.kind == kind) out.push_back(&f);
    return out;
}

const Finding* at(const std::vector<Finding>& fs, const std::string& kind,
                  const std::string& path) {
    for (const auto& f : fs)
        if (f.kind == kind && f.path == path) return &f;
    return nullptr;
}

size_t problems(const std::vector<Finding>& fs) {
    size_t n = 0;
    for (const auto& f : fs)
        if (f.severity == Severity::Problem) ++n;
    return n;
}

// Nothing at all to report.
void check_clean(Core& core) {
    auto again = Doctor(core).check();
    for (const auto& f : again)
        INFO(f.kind << " " << f.path << ": " << f.problem);
    CHECK(again.empty());
    CHECK(Doctor::healthy(again));
}

unsigned mode_of(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return 07777;
    return st.st_mode & 07777;
}

// A pid that has just exited (and been reaped).
int dead_pid() {
    Child c = fork_child([] { return 0; });
    int pid = c.pid();
    c.finish();
    return pid;
}

void set_age(const std::string& path, std::chrono::seconds age) {
    fs::last_write_time(path, fs::file_time_type::clock::now() - age);
}

std::string supervisor_text(const Anchor& a) {
    return std::to_string(a.pid) + " " + std::to_string(a.start_ticks) + " " +
           std::to_string(os::now_ms()) + " " + a.boot_id + "\n";
}

int count_events(const std::string& home, const std::string& event) {
    int n = 0;
    for (const auto& line : lines_of(read_text(home + "/events.jsonl"))) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("event", "") == event) ++n;
    }
    return n;
}

} // namespace

TEST_CASE("doctor: a home in use is healthy") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(me, req({"a", "b"})).acquired);
    REQUIRE(core.claims.try_acquire(me, req({"c"}, Mode::Shared, 3'600'000)).acquired);
    dead_session(home.path()); // a dead session without claims is kept for a while: fine
    check_clean(core);
    auto r = Doctor(core).repair();
    CHECK(r.empty());
    CHECK(list_dir(home.sub("claims")) == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("doctor: permissions of the home and its subdirectories") {
    TempDir home;
    Core core(home.path());
    core.home.claims();
    core.home.sessions();
    REQUIRE(::chmod(home.path().c_str(), 0755) == 0);
    REQUIRE(::chmod(home.sub("claims").c_str(), 0750) == 0);
    REQUIRE(::chmod(home.sub("sessions").c_str(), 0500) == 0); // cannot even be written

    auto found = Doctor(core).check();
    CHECK(of_kind(found, "permissions").size() == 3);
    const Finding* h = at(found, "permissions", home.path());
    REQUIRE(h);
    CHECK(h->problem.find("0755") != std::string::npos);
    CHECK(h->repairable);
    CHECK(at(found, "permissions", home.sub("claims")));
    CHECK(at(found, "permissions", home.sub("sessions")));
    CHECK_FALSE(Doctor::healthy(found));
    CHECK(mode_of(home.path()) == 0755); // a check changes nothing

    auto fixed = Doctor(core).repair();
    CHECK(of_kind(fixed, "permissions").size() == 3);
    for (const auto& f : fixed)
        CHECK(f.repaired);
    CHECK(Doctor::healthy(fixed));
    CHECK(mode_of(home.path()) == 0700);
    CHECK(mode_of(home.sub("claims")) == 0700);
    CHECK(mode_of(home.sub("sessions")) == 0700);
    check_clean(core);
}

TEST_CASE("doctor: a subdirectory that is a symlink is reported, not followed or repaired") {
    TempDir home;
    TempDir elsewhere;
    Core core(home.path());
    REQUIRE(::symlink(elsewhere.path().c_str(), home.sub("txn").c_str()) == 0);
    auto found = Doctor(core).check();
    const Finding* f = at(found, "not-a-directory", home.sub("txn"));
    REQUIRE(f);
    CHECK_FALSE(f->repairable);
    auto r = Doctor(core).repair();
    CHECK_FALSE(Doctor::healthy(r));
    CHECK(fs::is_symlink(home.sub("txn")));
}

TEST_CASE(
    "doctor: temp leftovers of dead writers and old ones go, fresh ones of live writers stay") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(me, req({"x"})).acquired);
    core.home.txns();
    const int gone = dead_pid();
    const int self = ::getpid();
    const std::string dead_tmp = ".tmp." + std::to_string(gone) + ".0.x";
    const std::string live_tmp = ".tmp." + std::to_string(self) + ".1." + me.id;
    const std::string old_tmp = ".tmp." + std::to_string(self) + ".2.t1-abc";
    write_text(home.sub("claims/" + dead_tmp), "{\"name\":");
    write_text(home.sub("sessions/" + live_tmp), "{}");
    write_text(home.sub("txn/" + old_tmp), "1 2 b");
    set_age(home.sub("txn/" + old_tmp), std::chrono::seconds(120));

    auto found = Doctor(core).check();
    CHECK(of_kind(found, "temp").size() == 2);
    const Finding* d = at(found, "temp", home.sub("claims/" + dead_tmp));
    REQUIRE(d);
    CHECK(d->problem.find("pid " + std::to_string(gone)) != std::string::npos);
    CHECK(at(found, "temp", home.sub("txn/" + old_tmp)));
    CHECK_FALSE(at(found, "temp", home.sub("sessions/" + live_tmp)));

    auto fixed = Doctor(core).repair();
    CHECK(Doctor::healthy(fixed));
    CHECK_FALSE(exists(home.sub("claims/" + dead_tmp)));
    CHECK_FALSE(exists(home.sub("txn/" + old_tmp)));
    CHECK(exists(home.sub("sessions/" + live_tmp)));
    CHECK(exists(home.sub("claims/x")));
    check_clean(core);
}

TEST_CASE("doctor: corrupt and misnamed claim records are moved aside") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(me, req({"other"})).acquired);
    write_text(home.sub("claims/broken"), "{\"name\": \"broken\", \"mo");
    write_text(home.sub("claims/misnamed"), read_text(home.sub("claims/other")));
    // As the error message says, the claim cannot be taken while it is corrupt.
    CHECK_THROWS_AS(core.claims.try_acquire(me, req({"broken"})), Error);

    auto found = Doctor(core).check();
    REQUIRE(of_kind(found, "corrupt-claim").size() == 2);
    const Finding* b = at(found, "corrupt-claim", home.sub("claims/broken"));
    REQUIRE(b);
    CHECK(b->problem.find("not a JSON object") != std::string::npos);
    CHECK(b->problem.find("loop doctor") == std::string::npos); // no advice to run itself
    const Finding* m = at(found, "corrupt-claim", home.sub("claims/misnamed"));
    REQUIRE(m);
    CHECK(m->problem.find("'other'") != std::string::npos);
    CHECK(problems(found) == 2);

    auto fixed = Doctor(core).repair();
    CHECK(Doctor::healthy(fixed));
    for (const auto& f : fixed) {
        CHECK(f.repaired);
        CHECK(f.outcome.find(home.sub("corrupt/")) != std::string::npos);
    }
    CHECK(list_dir(home.sub("claims")) == std::vector<std::string>{"other"});
    auto aside = list_dir(home.sub("corrupt"));
    REQUIRE(aside.size() == 2);
    CHECK(aside[0].rfind("claims.broken.", 0) == 0);
    CHECK(aside[1].rfind("claims.misnamed.", 0) == 0);
    CHECK(read_text(home.sub("corrupt/" + aside[0])) == "{\"name\": \"broken\", \"mo");
    CHECK(mode_of(home.sub("corrupt")) == 0700);
    // The name is free again, and its fences go on.
    auto got = core.claims.try_acquire(me, req({"broken"}));
    CHECK(got.acquired);
    check_clean(core);
}

TEST_CASE("doctor: a file in claims/ whose name is no claim name is moved aside") {
    TempDir home;
    Core core(home.path());
    core.home.claims();
    const std::string weird = "two words\n\xff";
    write_text(home.sub("claims/" + weird), "{}");

    auto found = Doctor(core).check();
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == "corrupt-claim");
    CHECK(found[0].path == home.sub("claims/two words\\x0a\\xff")); // printable
    CHECK(found[0].problem.find("file name contains ' '") != std::string::npos);

    auto fixed = Doctor(core).repair();
    CHECK(Doctor::healthy(fixed));
    CHECK(list_dir(home.sub("claims")).empty());
    CHECK_FALSE(exists(home.sub("locks/" + weird))); // no lock for a name nobody can claim
    CHECK(list_dir(home.sub("corrupt")).size() == 1);
    check_clean(core);
}

TEST_CASE("doctor: a corrupt session record is moved aside; its claims are left for reap") {
    TempDir home;
    Core core(home.path());
    SessionRecord holder = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(holder, req({"held"})).acquired);
    write_text(home.sub("sessions/" + holder.id), "{\"id\": 12");
    write_text(home.sub("sessions/s-lonely"), "not json at all");

    auto found = Doctor(core).check();
    REQUIRE(of_kind(found, "corrupt-session").size() == 2);
    CHECK(at(found, "corrupt-session", home.sub("sessions/" + holder.id)));
    CHECK(at(found, "corrupt-session", home.sub("sessions/s-lonely")));
    // While its record is unreadable, the holder is undecidable: reported, kept.
    auto undecided = of_kind(found, "undecidable");
    REQUIRE(undecided.size() == 1);
    CHECK(undecided[0]->path == home.sub("claims/held"));
    CHECK(undecided[0]->severity == Severity::Info);
    CHECK_FALSE(undecided[0]->repairable);

    auto fixed = Doctor(core).repair();
    CHECK(Doctor::healthy(fixed));
    for (const auto* f : of_kind(fixed, "corrupt-session")) {
        CHECK(f->repaired);
        CHECK(f->outcome.find("loop reap") != std::string::npos);
    }
    CHECK(list_dir(home.sub("sessions")) == std::vector<std::string>{".lock"});
    CHECK(list_dir(home.sub("corrupt")).size() == 2);
    // The claim was not touched by this run...
    CHECK(exists(home.sub("claims/held")));
    // ...and now belongs to no session: the next run reaps it.
    auto next = Doctor(core).check();
    REQUIRE(of_kind(next, "unknown-session").size() == 1);
    CHECK(Doctor(core).repair().size() == 1);
    CHECK_FALSE(exists(home.sub("claims/held")));
    check_clean(core);
}

TEST_CASE("doctor: claims of unknown sessions are reaped") {
    TempDir home;
    Core core(home.path());
    SessionRecord ghost = core.sessions.start({}, ::getpid());
    SessionRecord me = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(ghost, req({"g1", "g2"})).acquired);
    REQUIRE(core.claims.try_acquire(me, req({"mine"})).acquired);
    REQUIRE(::unlink(home.sub("sessions/" + ghost.id).c_str()) == 0);

    auto found = Doctor(core).check();
    auto unknown = of_kind(found, "unknown-session");
    REQUIRE(unknown.size() == 2);
    CHECK(unknown[0]->path == home.sub("claims/g1"));
    CHECK(unknown[1]->path == home.sub("claims/g2"));
    CHECK(unknown[0]->problem.find(ghost.id) != std::string::npos);
    CHECK(problems(found) == 2);

    auto fixed = Doctor(core).repair();
    CHECK(Doctor::healthy(fixed));
    CHECK(list_dir(home.sub("claims")) == std::vector<std::string>{"mine"});
    CHECK(count_events(home.path(), "claim.reaped") == 2);
    check_clean(core);
}

TEST_CASE("doctor: claims of dead sessions and expired TTLs are stale and reaped") {
    TempDir home;
    Core core(home.path());
    SessionRecord dead = dead_session(home.path(), {"d1"});
    SessionRecord me = core.sessions.start({}, ::getpid());
    auto exp = core.claims.try_acquire(me, req({"ttl"}, Mode::Exclusive, 20));
    REQUIRE(exp.acquired);
    const int64_t expires = exp.granted[0].holder.expires_ms;
    REQUIRE(wait_until([&] { return os::now_ms() > expires; }));

    auto found = Doctor(core).check();
    auto stale = of_kind(found, "stale");
    REQUIRE(stale.size() == 2);
    CHECK(stale[0]->path == home.sub("claims/d1"));
    CHECK(stale[0]->session == dead.id);
    CHECK(stale[0]->problem.find("exited") != std::string::npos);
    CHECK(stale[1]->path == home.sub("claims/ttl"));
    CHECK(stale[1]->problem.find("ttl expired") != std::string::npos);
    CHECK(exists(home.sub("claims/d1"))); // a check removes nothing

    auto fixed = Doctor(core).repair();
    CHECK(Doctor::healthy(fixed));
    for (const auto& f : fixed)
        CHECK(f.outcome == "reaped");
    CHECK(list_dir(home.sub("claims")).empty());
    check_clean(core);
}

TEST_CASE("doctor: live holders are never touched") {
    TempDir home;
    Core core(home.path());
    HoldingChild live(home.path(), {"live-1", "live-2"});
    REQUIRE(live.acquired);
    // A shared claim with a live and a dead holder: only the dead one goes.
    HoldingChild sharer(home.path(), {"both"}, Mode::Shared);
    REQUIRE(sharer.acquired);
    SessionRecord dead = dead_session(home.path(), {"both"}, Mode::Shared);
    const std::string before = read_text(home.sub("claims/live-1"));

    auto found = Doctor(core).check();
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == "stale");
    CHECK(found[0].session == dead.id);

    auto fixed = Doctor(core).repair();
    CHECK(Doctor::healthy(fixed));
    CHECK(read_text(home.sub("claims/live-1")) == before);
    CHECK(exists(home.sub("claims/live-2")));
    auto both = core.store.read("both");
    REQUIRE(both);
    REQUIRE(both->holders.size() == 1);
    CHECK(both->holders[0].session == sharer.session.id);
    check_clean(core);
    CHECK(live.exit() == 0);
    CHECK(sharer.exit() == 0);
}

TEST_CASE("doctor: an undecidable holder (unreadable /proc) is reported, never removed") {
    TempDir home;
    HoldingChild h(home.path(), {"u"});
    REQUIRE(h.acquired);
    const int victim = h.pid();
    h.kill(); // dead, but the probe below cannot tell

    ProcessProbe blind = ProcessProbe::system();
    blind.info = [victim](int pid) {
        if (pid != victim) return os::proc_info(pid);
        os::ProcInfo i;
        i.state = os::ProcInfo::State::Unknown;
        i.err = EACCES;
        return i;
    };
    ProbedCore core(home.path(), blind);
    Doctor doctor(core.home, core.sessions, core.claims, core.events);
    const std::string before = read_text(home.sub("claims/u"));

    auto found = doctor.check();
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == "undecidable");
    CHECK(found[0].path == home.sub("claims/u"));
    CHECK(found[0].severity == Severity::Info);
    CHECK_FALSE(found[0].repairable);
    CHECK(found[0].problem.find("cannot read /proc/" + std::to_string(victim)) !=
          std::string::npos);
    CHECK(found[0].problem.find(h.session.id) != std::string::npos);

    auto after = doctor.repair();
    REQUIRE(after.size() == 1);
    CHECK_FALSE(after[0].repaired);
    CHECK(Doctor::healthy(after)); // nothing doctor could fix
    CHECK(read_text(home.sub("claims/u")) == before);

    // Seen for what it is, the holder is stale and goes.
    Core seeing(home.path());
    auto r = Doctor(seeing).repair();
    REQUIRE(of_kind(r, "stale").size() == 1);
    CHECK(r[0].repaired);
    CHECK_FALSE(exists(home.sub("claims/u")));
    check_clean(seeing);
}

TEST_CASE("doctor: dead worker sessions with nobody to clean up") {
    TempDir home;
    Core core(home.path());
    // A worker whose process has exited while no supervisor ran.
    Gate gate;
    Child worker = fork_child([&] {
        gate.pass();
        return 0;
    });
    SessionRecord w;
    w.id = "builder.0";
    w.kind = "worker";
    w.nonce = new_nonce();
    w.worker = "builder";
    w.replica = 0;
    w.anchor = anchor_of(worker.pid(), core.sessions.probe());
    w.started_ms = os::now_ms();
    core.sessions.put(w);
    REQUIRE(core.claims.try_acquire(w, req({"job"})).acquired);
    gate.open();
    REQUIRE(worker.finish() == 0);
    // A live worker (this process) is left alone.
    SessionRecord alive = w;
    alive.id = "builder.1";
    alive.replica = 1;
    alive.nonce = new_nonce();
    alive.anchor = anchor_of(::getpid(), core.sessions.probe());
    core.sessions.put(alive);
    REQUIRE(core.claims.try_acquire(alive, req({"job-2"})).acquired);

    SUBCASE("reported and removed") {
        auto found = Doctor(core).check();
        const Finding* f = at(found, "dead-worker", home.sub("sessions/builder.0"));
        REQUIRE(f);
        CHECK(f->problem.find("builder") != std::string::npos);
        CHECK(of_kind(found, "dead-worker").size() == 1);
        CHECK(at(found, "stale", home.sub("claims/job")));

        auto fixed = Doctor(core).repair();
        CHECK(Doctor::healthy(fixed));
        CHECK_FALSE(exists(home.sub("sessions/builder.0")));
        CHECK_FALSE(exists(home.sub("claims/job")));
        CHECK(exists(home.sub("sessions/builder.1")));
        CHECK(exists(home.sub("claims/job-2")));
        CHECK(count_events(home.path(), "session.ended") == 1);
        check_clean(core);
    }
    SUBCASE("left to a running supervisor") {
        write_text(home.sub("supervisor.lock"),
                   supervisor_text(anchor_of(::getpid(), core.sessions.probe())));
        auto found = Doctor(core).check();
        CHECK(of_kind(found, "dead-worker").empty());
        CHECK(of_kind(found, "supervisor-lock").empty()); // its pid runs
        CHECK(at(found, "stale", home.sub("claims/job")));
    }
}

TEST_CASE("doctor: a stale supervisor.lock is a note, emptied only when nobody holds it") {
    TempDir home;
    Core core(home.path());
    SessionRecord dead = dead_session(home.path());
    const std::string text = supervisor_text(*dead.anchor);
    write_text(home.sub("supervisor.lock"), text);

    auto found = Doctor(core).check();
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == "supervisor-lock");
    CHECK(found[0].path == home.sub("supervisor.lock"));
    CHECK(found[0].severity == Severity::Info);
    CHECK(found[0].problem.find("stale supervisor.lock (pid " + std::to_string(dead.anchor->pid) +
                                " not running)") == 0);
    CHECK(Doctor::healthy(found));

    SUBCASE("nobody holds it: emptied") {
        auto fixed = Doctor(core).repair();
        REQUIRE(fixed.size() == 1);
        CHECK(fixed[0].repaired);
        CHECK(read_text(home.sub("supervisor.lock")).empty());
        check_clean(core);
    }
    SUBCASE("held (a supervisor starting): left alone") {
        os::Fd fd(::open(home.sub("supervisor.lock").c_str(), O_RDWR | O_CLOEXEC));
        REQUIRE(fd);
        REQUIRE(::flock(fd.get(), LOCK_EX) == 0);
        auto fixed = Doctor(core).repair();
        REQUIRE(fixed.size() == 1);
        CHECK(fixed[0].outcome.find("holds it") != std::string::npos);
        CHECK(read_text(home.sub("supervisor.lock")) == text);
    }
}

TEST_CASE("doctor: an oversized event log is rotated") {
    TempDir home;
    Core core(home.path());
    core.events.append("session.started", {{"session", "s-1"}});
    const std::string log = home.sub("events.jsonl");
    fs::resize_file(log, 65LL * 1024 * 1024); // sparse: takes no space

    auto found = Doctor(core).check();
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == "events-size");
    CHECK(found[0].path == log);
    CHECK(found[0].severity == Severity::Info);
    CHECK(found[0].problem.find("65.0 MiB") != std::string::npos);

    auto fixed = Doctor(core).repair();
    REQUIRE(fixed.size() == 1);
    CHECK(fixed[0].repaired);
    CHECK_FALSE(exists(log));
    CHECK(fs::file_size(home.sub("events.jsonl.1")) == 65ULL * 1024 * 1024);
    // Writers go on with a new file.
    core.events.append("session.ended", {{"session", "s-1"}});
    CHECK(lines_of(read_text(log)).size() == 1);
    check_clean(core);
}

TEST_CASE("doctor: malformed lines of the event log are reported; metrics skip them") {
    TempDir home;
    Core core(home.path());
    core.events.append("session.started", {{"session", "w.1"}, {"worker", "w"}, {"restarts", 1}});
    {
        std::ofstream out(home.sub("events.jsonl"), std::ios::app);
        // Valid JSON with a field of the wrong type, then no JSON at all.
        out << R"({"ts":"2026-01-01T00:00:00Z","event":"session.started","worker":"w","restarts":"x"})"
            << "\n"
            << "not json\n";
    }
    core.events.append("claim.acquired", {{"name", "a"}, {"waited_ms", "soon"}});
    EventCounters counters;
    std::string text;
    REQUIRE_NOTHROW(text = render_metrics(core, counters, true));
    CHECK(counters.restarts["w"] == 1);
    CHECK(counters.acquisitions.empty());

    auto found = Doctor(core).check();
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == "events-bad-line");
    CHECK(found[0].severity == Severity::Problem);
    CHECK(found[0].repairable);
    CHECK(found[0].problem.find("3 malformed line(s), the first at line 2") != std::string::npos);
    CHECK(found[0].problem.find("\"restarts\" is not a number") != std::string::npos);
    CHECK_FALSE(Doctor::healthy(found));

    // Repair keeps the good lines and moves the bad ones to corrupt/.
    auto fixed = Doctor(core).repair();
    REQUIRE(fixed.size() == 1);
    CHECK(fixed[0].repaired);
    auto kept = lines_of(read_text(home.sub("events.jsonl")));
    REQUIRE(kept.size() == 1);
    CHECK(kept[0].find("\"w.1\"") != std::string::npos);
    auto aside = list_dir(home.sub("corrupt"));
    REQUIRE(aside.size() == 1);
    CHECK(lines_of(read_text(home.sub("corrupt") + "/" + aside[0])).size() == 3);
    CHECK(Doctor::healthy(Doctor(core).check()));
}

TEST_CASE("doctor: commit markers of dead processes are cleared") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    SessionRecord dead = dead_session(home.path());
    // A committed acquisition whose process died before cleaning up: the
    // holder still refers to the marker, and is valid.
    REQUIRE(core.claims.try_acquire(me, req({"t"})).acquired);
    auto rec = core.store.read("t");
    REQUIRE(rec);
    rec->holders[0].txn = "t1-dead";
    core.store.write(*rec);
    core.store.commit_txn("t1-dead", *dead.anchor);
    // One of a live process stays.
    core.store.commit_txn("t2-live", anchor_of(::getpid(), core.sessions.probe()));

    auto found = Doctor(core).check();
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == "txn");
    CHECK(found[0].path == home.sub("txn/t1-dead"));

    auto fixed = Doctor(core).repair();
    CHECK(Doctor::healthy(fixed));
    CHECK(fixed[0].repaired);
    CHECK(list_dir(home.sub("txn")) == std::vector<std::string>{"t2-live"});
    auto after = core.store.read("t");
    REQUIRE(after); // the live holder keeps its claim
    REQUIRE(after->holders.size() == 1);
    CHECK(after->holders[0].session == me.id);
    CHECK(after->holders[0].txn.empty());
    core.store.drop_txn("t2-live");
    check_clean(core);
}

TEST_CASE("doctor: an unreadable commit marker is removed after its claims are cleared") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(me, req({"k"})).acquired);
    auto rec = core.store.read("k");
    REQUIRE(rec);
    rec->holders[0].txn = "t9-junk";
    core.store.write(*rec);
    core.home.txns();
    write_text(home.sub("txn/t9-junk"), "garbage");
    // reap leaves it alone: it cannot tell whose it is.
    CHECK(core.reaper.run(true).txns.empty());

    auto found = Doctor(core).check();
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == "corrupt-txn");
    CHECK(found[0].path == home.sub("txn/t9-junk"));

    auto fixed = Doctor(core).repair();
    CHECK(Doctor::healthy(fixed));
    CHECK(list_dir(home.sub("txn")).empty());
    auto after = core.store.read("k");
    REQUIRE(after);
    CHECK(after->holders[0].session == me.id);
    CHECK(after->holders[0].txn.empty());
    check_clean(core);
}

TEST_CASE("doctor: a corrupt fence counter is reset above every fence handed out") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(me, req({"f"})).acquired);
    REQUIRE(core.claims.release(me.id, me.nonce, {"f"}, false).size() == 1);
    write_text(home.sub("locks/f"), "garbage\n");
    CHECK_THROWS_AS(core.claims.try_acquire(me, req({"f"})), Error);

    auto found = Doctor(core).check();
    REQUIRE(found.size() == 1);
    CHECK(found[0].kind == "corrupt-fence");
    CHECK(found[0].path == home.sub("locks/f"));

    const int64_t before = os::now_ms();
    auto fixed = Doctor(core).repair();
    CHECK(Doctor::healthy(fixed));
    auto got = core.claims.try_acquire(me, req({"f"}));
    REQUIRE(got.acquired);
    CHECK(got.granted[0].holder.fence > static_cast<uint64_t>(before));
    check_clean(core);
}

TEST_CASE("doctor --repair running all the time never disturbs live claimers") {
    TempDir home;
    HoldingChild keeper(home.path(), {"kept"});
    REQUIRE(keeper.acquired);
    const std::string kept = read_text(home.sub("claims/kept"));
    struct Out {
        std::atomic<int> done{0};
        std::atomic<int> rounds{0};
        std::atomic<int> failures{0};
    };
    Shared<Out> out;
    Gate go;
    // A live claimer taking and releasing names (through temp files and
    // renames) as fast as it can.
    Child churn = fork_child([&] {
        Core core(home.path());
        SessionRecord me = core.sessions.process_session(::getpid());
        go.pass();
        for (int i = 0; i < 300; ++i) {
            try {
                std::string name = "churn-" + std::to_string(i % 3);
                if (!core.claims.try_acquire(me, req({name, "churn-x"})).acquired)
                    out->failures.fetch_add(1);
                if (core.claims.release(me.id, me.nonce, {name, "churn-x"}, false).size() != 2)
                    out->failures.fetch_add(1);
            } catch (const Error&) {
                out->failures.fetch_add(1);
            }
            out->rounds.fetch_add(1);
        }
        out->done.store(1);
        return 0;
    });
    Core core(home.path());
    go.open();
    int passes = 0;
    while (out->done.load() == 0 && passes < 100'000) {
        auto r = Doctor(core).repair();
        for (const auto& f : r)
            INFO(f.kind << " " << f.path << ": " << f.problem);
        CHECK(problems(r) == 0);
        ++passes;
    }
    CHECK(churn.finish() == 0);
    CHECK(out->rounds.load() == 300);
    CHECK(out->failures.load() == 0);
    CHECK(passes > 0);
    CHECK(read_text(home.sub("claims/kept")) == kept);
    CHECK(count_events(home.path(), "claim.reaped") == 0);
    CHECK(keeper.exit() == 0);
}
