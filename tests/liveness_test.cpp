// Liveness decisions (anchor, TTL heartbeat) with an injected process
// probe, the same decisions against real processes, and session records.
#include "core/core.hpp"
#include "core/error.hpp"
#include "core/sessions/liveness.hpp"
#include "core/sessions/sessions.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <limits>
#include <map>

using namespace loop;
using namespace loop::test;

namespace {

const std::string kBoot = "11111111-2222-3333-4444-555555555555";

os::ProcInfo running(uint64_t ticks, bool zombie = false) {
    os::ProcInfo i;
    i.state = os::ProcInfo::State::Running;
    i.start_ticks = ticks;
    i.zombie = zombie;
    return i;
}

os::ProcInfo gone() {
    os::ProcInfo i;
    i.state = os::ProcInfo::State::Gone;
    return i;
}

os::ProcInfo unknown(int err) {
    os::ProcInfo i;
    i.state = os::ProcInfo::State::Unknown;
    i.err = err;
    return i;
}

// A probe answering from a table; pids not in it are gone.
ProcessProbe table_probe(std::map<int, os::ProcInfo> table, std::string boot = kBoot) {
    ProcessProbe p;
    p.boot_id = std::move(boot);
    p.info = [table = std::move(table)](int pid) {
        auto it = table.find(pid);
        return it == table.end() ? gone() : it->second;
    };
    return p;
}

Anchor anchor(int pid, uint64_t ticks, std::string boot = kBoot) {
    return Anchor{pid, ticks, std::move(boot), "", ""};
}

} // namespace

TEST_CASE("anchor: the same running process is alive") {
    auto v = anchor_verdict(anchor(100, 5000), table_probe({{100, running(5000)}}));
    CHECK(v.life == Life::Alive);
    CHECK(v.alive_or_unknown());
}

TEST_CASE("anchor: a gone pid is dead") {
    auto v = anchor_verdict(anchor(100, 5000), table_probe({}));
    CHECK(v.life == Life::Dead);
    CHECK_FALSE(v.alive_or_unknown());
    CHECK(v.why.find("100") != std::string::npos);
}

TEST_CASE("anchor: a reused pid (other start time) is dead") {
    // Later and earlier start times both mean another process.
    CHECK(anchor_verdict(anchor(100, 5000), table_probe({{100, running(5001)}})).life ==
          Life::Dead);
    CHECK(anchor_verdict(anchor(100, 5000), table_probe({{100, running(4999)}})).life ==
          Life::Dead);
    CHECK(anchor_verdict(anchor(100, 5000), table_probe({{100, running(0)}})).life == Life::Dead);
}

TEST_CASE("anchor: a zombie is dead") {
    auto v = anchor_verdict(anchor(100, 5000), table_probe({{100, running(5000, true)}}));
    CHECK(v.life == Life::Dead);
}

TEST_CASE("anchor: a process of an earlier boot of this machine is dead") {
    const std::string machine = "0123456789abcdef0123456789abcdef";
    Anchor a = anchor(100, 5000, "99999999-other-boot");
    a.machine_id = machine;
    ProcessProbe probe = table_probe({{100, running(5000)}});
    probe.machine_id = machine;
    auto v = anchor_verdict(a, probe);
    CHECK(v.life == Life::Dead);
    CHECK(v.why.find("earlier boot") != std::string::npos);
}

TEST_CASE("anchor: another machine, boot or pid namespace is undecidable, never dead") {
    const std::string here = "0123456789abcdef0123456789abcdef";
    const std::string there = "fedcba9876543210fedcba9876543210";
    ProcessProbe probe = table_probe({}); // no such pid here: a local judge would say dead
    probe.machine_id = here;
    probe.pid_ns = "4026531836";

    Anchor other_machine = anchor(100, 5000);
    other_machine.machine_id = there;
    auto v = anchor_verdict(other_machine, probe);
    CHECK(v.life == Life::Unknown);
    CHECK(v.why.find("another machine") != std::string::npos);

    Anchor unknown_machine = anchor(100, 5000, "99999999-other-boot"); // no machine id recorded
    CHECK(anchor_verdict(unknown_machine, probe).life == Life::Unknown);

    Anchor other_ns = anchor(100, 5000);
    other_ns.machine_id = here;
    other_ns.pid_ns = "4026532999";
    v = anchor_verdict(other_ns, probe);
    CHECK(v.life == Life::Unknown);
    CHECK(v.why.find("pid namespace") != std::string::npos);

    // The same host and namespace is judged from /proc as always.
    Anchor local = anchor(100, 5000);
    local.machine_id = here;
    local.pid_ns = "4026531836";
    CHECK(anchor_verdict(local, probe).life == Life::Dead);
}

TEST_CASE("session: a foreign anchor lives by its TTL, and dies when the TTL runs out") {
    const int64_t now = 1'000'000;
    ProcessProbe probe = table_probe({});
    probe.pid_ns = "4026531836";
    SessionRecord s;
    s.id = "s-1";
    s.anchor = anchor(100, 5000);
    s.anchor->pid_ns = "4026532999";
    CHECK(session_verdict(s, now, probe).life == Life::Unknown); // no TTL: held, reported
    s.ttl_ms = 30'000;
    s.heartbeat_ms = now - 1'000;
    CHECK(session_verdict(s, now, probe).life == Life::Alive);
    s.heartbeat_ms = now - 31'000;
    CHECK(session_verdict(s, now, probe).life == Life::Dead);
}

TEST_CASE("session: it lives while its process group has members") {
    SessionRecord s;
    s.id = "w.1";
    s.anchor = anchor(100, 5000);
    s.pgid = 100;
    ProcessProbe probe = table_probe({}); // the anchor has exited
    bool group = true;
    probe.group_exists = [&](int pgid) { return pgid == 100 && group; };
    auto v = session_verdict(s, 0, probe);
    CHECK(v.life == Life::Alive);
    CHECK(v.why.find("process group 100") != std::string::npos);
    group = false;
    CHECK(session_verdict(s, 0, probe).life == Life::Dead);
    // A group is never judged for an anchor of an earlier boot.
    group = true;
    s.anchor->boot_id = "99999999-other-boot";
    s.anchor->machine_id = probe.machine_id = "0123456789abcdef0123456789abcdef";
    CHECK(session_verdict(s, 0, probe).life == Life::Dead);
}

TEST_CASE("clocks: a wall-clock step neither expires nor extends a lease on this boot") {
    int64_t wall = 1'000'000'000, boot = 50'000;
    ProcessProbe probe = table_probe({});
    probe.wall_ms = [&] { return wall; };
    probe.boot_ms = [&] { return boot; };
    Holder h;
    set_claim_expiry(h, 30'000, probe.now(), probe.boot_id);
    SessionRecord s;
    s.id = "s-1";
    s.ttl_ms = 30'000;
    set_heartbeat(s, probe);

    wall += 3'600'000; // date -s +1h
    CHECK(*claim_ttl_left(h, probe) == 30'000);
    CHECK(session_verdict(s, wall, probe).life == Life::Alive);
    wall -= 7'200'000; // and back past where it was
    CHECK(*claim_ttl_left(h, probe) == 30'000);
    CHECK(session_verdict(s, wall, probe).life == Life::Alive);

    boot += 30'001; // real time passes
    CHECK(*claim_ttl_left(h, probe) < 0);
    CHECK(session_verdict(s, wall, probe).life == Life::Dead);

    // Judged from another boot (another host), the wall clock is all there is.
    ProcessProbe elsewhere = probe;
    elsewhere.boot_id = "99999999-other-boot";
    wall = h.expires_ms - 10;
    CHECK(*claim_ttl_left(h, elsewhere) == 10);
}

TEST_CASE("clocks: extreme values in records saturate instead of overflowing") {
    ProcessProbe probe = table_probe({});
    Holder h;
    h.expires_ms = 1; // long gone
    CHECK(*claim_ttl_left(h, probe) < 0);
    h.expires_ms = std::numeric_limits<int64_t>::max();
    CHECK(*claim_ttl_left(h, probe) > 0);
    SessionRecord s;
    s.id = "s-1";
    s.ttl_ms = 1'000;
    s.heartbeat_ms = std::numeric_limits<int64_t>::min();
    CHECK(session_verdict(s, std::numeric_limits<int64_t>::max(), probe).life == Life::Dead);
    CHECK(*heartbeat_ttl_left(s, probe) < 0);
}

TEST_CASE("anchor: an unreadable /proc entry is unknown, never dead") {
    for (int err : {EACCES, EIO, EPROTO, EMFILE, ENOMEM}) {
        CAPTURE(err);
        auto v = anchor_verdict(anchor(100, 5000), table_probe({{100, unknown(err)}}));
        CHECK(v.life == Life::Unknown);
        CHECK(v.alive_or_unknown());
        CHECK(v.why.find("/proc/100") != std::string::npos);
    }
}

TEST_CASE("session: heartbeat TTL without an anchor") {
    const int64_t now = 1'000'000;
    SessionRecord s;
    s.id = "s-1";
    s.ttl_ms = 30'000;
    auto probe = table_probe({});
    s.heartbeat_ms = now - 10'000;
    CHECK(session_verdict(s, now, probe).life == Life::Alive);
    s.heartbeat_ms = now - 30'000; // exactly at the limit: still alive
    CHECK(session_verdict(s, now, probe).life == Life::Alive);
    s.heartbeat_ms = now - 30'001;
    auto v = session_verdict(s, now, probe);
    CHECK(v.life == Life::Dead);
    CHECK(v.why.find("heartbeat") != std::string::npos);
    s.heartbeat_ms = now - 3'600'000;
    CHECK(session_verdict(s, now, probe).life == Life::Dead);
}

TEST_CASE("session: neither an anchor nor a TTL is dead") {
    SessionRecord s;
    s.id = "s-1";
    CHECK(session_verdict(s, 1'000, table_probe({})).life == Life::Dead);
}

TEST_CASE("session: with an anchor and a TTL, both must hold") {
    const int64_t now = 1'000'000;
    SessionRecord s;
    s.id = "s-1";
    s.anchor = anchor(100, 5000);
    s.ttl_ms = 1'000;
    s.heartbeat_ms = now - 500;
    CHECK(session_verdict(s, now, table_probe({{100, running(5000)}})).life == Life::Alive);
    // Anchor dead, heartbeat fresh.
    CHECK(session_verdict(s, now, table_probe({})).life == Life::Dead);
    CHECK(session_verdict(s, now, table_probe({{100, running(7)}})).life == Life::Dead);
    // Anchor alive, heartbeat too old.
    s.heartbeat_ms = now - 5'000;
    CHECK(session_verdict(s, now, table_probe({{100, running(5000)}})).life == Life::Dead);
    // Anchor undecidable: an expired heartbeat still decides...
    CHECK(session_verdict(s, now, table_probe({{100, unknown(EACCES)}})).life == Life::Dead);
    // ...a fresh one keeps it alive: the TTL decides what /proc cannot.
    s.heartbeat_ms = now - 500;
    auto v = session_verdict(s, now, table_probe({{100, unknown(EACCES)}}));
    CHECK(v.life == Life::Alive);
    CHECK(v.why.find("heartbeat") != std::string::npos);
}

TEST_CASE("session: anchor only, no TTL") {
    SessionRecord s;
    s.id = "p100-5000";
    s.anchor = anchor(100, 5000);
    CHECK(session_verdict(s, 0, table_probe({{100, running(5000)}})).life == Life::Alive);
    CHECK(session_verdict(s, 0, table_probe({{100, running(5000, true)}})).life == Life::Dead);
    CHECK(session_verdict(s, 0, table_probe({{100, unknown(EIO)}})).life == Life::Unknown);
    CHECK(session_verdict(s, 0, table_probe({})).life == Life::Dead);
}

TEST_CASE("anchor_of: records a live process, refuses a gone or dead one") {
    auto probe =
        table_probe({{100, running(5000)}, {101, running(6000, true)}, {102, unknown(EIO)}});
    Anchor a = anchor_of(100, probe);
    CHECK(a.pid == 100);
    CHECK(a.start_ticks == 5000);
    CHECK(a.boot_id == kBoot);
    try {
        anchor_of(99, probe);
        FAIL("anchor of a gone pid");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Usage);
    }
    try {
        anchor_of(101, probe);
        FAIL("anchor of a zombie");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Usage);
    }
    try {
        anchor_of(102, probe);
        FAIL("anchor of an unreadable pid");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Failure);
    }
}

TEST_CASE("implicit_anchor_now: the anchor implicit_anchor_of finds, /proc read once for it") {
    // ppid 0: no parent to be a forked copy of, so pid 100 is its own anchor.
    auto table = table_probe({{100, running(5000)}, {101, running(6000, true)}});
    int reads = 0;
    ProcessProbe probe = table;
    probe.info = [&](int pid) {
        ++reads;
        return table.info(pid);
    };
    Anchor a = implicit_anchor_now(100, probe);
    CHECK(reads == 1);
    CHECK(a.pid == implicit_anchor_of(100, probe));
    CHECK(a.start_ticks == anchor_of(100, probe).start_ticks);
    CHECK(a.boot_id == kBoot);
    // What anchor_of refuses, this refuses too.
    CHECK_THROWS_AS(implicit_anchor_now(99, probe), Error);
    CHECK_THROWS_AS(implicit_anchor_now(101, probe), Error);
}

TEST_CASE("real processes: running, zombie, reaped") {
    ProcessProbe probe = ProcessProbe::system();
    REQUIRE(probe.boot_id.size() == 36);
    Anchor me = anchor_of(::getpid(), probe);
    CHECK(anchor_verdict(me, probe).life == Life::Alive);

    Gate gate;
    Child c = fork_child([&] {
        gate.pass();
        return 0;
    });
    Anchor a = anchor_of(c.pid(), probe);
    CHECK(a.start_ticks > 0);
    CHECK(anchor_verdict(a, probe).life == Life::Alive);
    // A different start time for the same live pid: another process.
    Anchor reused = a;
    reused.start_ticks += 1;
    CHECK(anchor_verdict(reused, probe).life == Life::Dead);

    gate.open();
    // Exited but not yet waited for: a zombie, already dead.
    const int64_t deadline = os::monotonic_ms() + 20'000;
    while (!os::proc_info(c.pid()).zombie && os::monotonic_ms() < deadline)
        sleep_ms(1);
    REQUIRE(os::proc_info(c.pid()).zombie);
    CHECK(anchor_verdict(a, probe).life == Life::Dead);
    CHECK(c.finish() == 0);
    CHECK(anchor_verdict(a, probe).life == Life::Dead);
    CHECK(os::proc_info(c.pid()).state == os::ProcInfo::State::Gone);
}

TEST_CASE("proc_info: pids that cannot exist are gone") {
    CHECK(os::proc_info(0).state == os::ProcInfo::State::Gone);
    CHECK(os::proc_info(-1).state == os::ProcInfo::State::Gone);
    CHECK(os::proc_info(0x7ffffff0).state == os::ProcInfo::State::Gone);
}

TEST_CASE("sessions: the implicit session of a process is stable while it lives") {
    TempDir home;
    Core core(home.path());
    SessionRecord a = core.sessions.process_session(::getpid());
    SessionRecord b = core.sessions.process_session(::getpid());
    CHECK(a.id == b.id);
    CHECK(a.nonce == b.nonce);
    CHECK(a.kind == "process");
    REQUIRE(a.anchor);
    CHECK(a.anchor->pid == ::getpid());
    CHECK(a.id == Sessions::process_session_id(::getpid(), a.anchor->start_ticks));
    CHECK(core.sessions.verdict(a).life == Life::Alive);
    // Another Core over the same home (another `loop` call) finds the same.
    Core other(home.path());
    CHECK(other.sessions.process_session(::getpid()).nonce == a.nonce);
    CHECK(list_dir(home.sub("sessions")) == std::vector<std::string>{a.id});
}

TEST_CASE("sessions: the implicit session of a gone process cannot be made") {
    TempDir home;
    Core core(home.path());
    Child c = fork_child([] { return 0; });
    int pid = c.pid();
    REQUIRE(c.finish() == 0);
    try {
        core.sessions.process_session(pid);
        FAIL("session for a gone pid");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Usage);
    }
    CHECK(list_dir(home.sub("sessions")).empty());
}

TEST_CASE("sessions: start, heartbeat, end") {
    TempDir home;
    Core core(home.path());

    SUBCASE("anchored to the caller by default") {
        SessionRecord s = core.sessions.start({}, ::getpid());
        CHECK(s.kind == "explicit");
        CHECK(s.id.rfind("s-", 0) == 0);
        REQUIRE(s.anchor);
        CHECK(s.anchor->pid == ::getpid());
        CHECK(core.sessions.verdict(s).life == Life::Alive);
        auto found = core.sessions.find(s.id);
        REQUIRE(found);
        CHECK(found->nonce == s.nonce);
        auto ended = core.sessions.end(s.id);
        REQUIRE(ended);
        CHECK(ended->nonce == s.nonce);
        CHECK_FALSE(core.sessions.find(s.id));
        CHECK_FALSE(core.sessions.end(s.id)); // ending twice: nothing to end
    }
    SUBCASE("two sessions of one process are different sessions") {
        SessionRecord a = core.sessions.start({}, ::getpid());
        SessionRecord b = core.sessions.start({}, ::getpid());
        CHECK(a.id != b.id);
        CHECK(a.nonce != b.nonce);
    }
    SUBCASE("heartbeat-only session") {
        StartOptions o;
        o.ttl_ms = 60'000;
        o.label = "remote";
        SessionRecord s = core.sessions.start(o, ::getpid());
        CHECK_FALSE(s.anchor);
        CHECK(core.sessions.verdict(s).life == Life::Alive);
        int64_t before = core.sessions.find(s.id)->heartbeat_ms;
        sleep_ms(5);
        core.sessions.heartbeat(s.id);
        CHECK(core.sessions.find(s.id)->heartbeat_ms > before);
    }
    SUBCASE("heartbeat of an expired session is refused") {
        StartOptions o;
        o.ttl_ms = 20;
        SessionRecord s = core.sessions.start(o, ::getpid());
        sleep_ms(60);
        CHECK(core.sessions.verdict(s).life == Life::Dead);
        try {
            core.sessions.heartbeat(s.id);
            FAIL("heartbeat revived a dead session");
        } catch (const Error& e) {
            CHECK(e.code() == Exit::Busy);
        }
    }
    SUBCASE("heartbeat of an unknown session is refused") {
        try {
            core.sessions.heartbeat("s-nothere");
            FAIL("heartbeat of an unknown session");
        } catch (const Error& e) {
            CHECK(e.code() == Exit::Busy);
        }
    }
    SUBCASE("anchored to another pid") {
        Gate gate;
        Child c = fork_child([&] {
            gate.pass();
            return 0;
        });
        StartOptions o;
        o.pid = c.pid();
        SessionRecord s = core.sessions.start(o, ::getpid());
        REQUIRE(s.anchor);
        CHECK(s.anchor->pid == c.pid());
        CHECK(core.sessions.verdict(s).life == Life::Alive);
        gate.open();
        CHECK(c.finish() == 0);
        CHECK(core.sessions.verdict(s).life == Life::Dead);
    }
    SUBCASE("a session for a gone pid is refused and nothing is written") {
        Child c = fork_child([] { return 0; });
        int pid = c.pid();
        REQUIRE(c.finish() == 0);
        StartOptions o;
        o.pid = pid;
        try {
            core.sessions.start(o, ::getpid());
            FAIL("session anchored to a gone pid");
        } catch (const Error& e) {
            CHECK(e.code() == Exit::Usage);
        }
        CHECK(list_dir(home.sub("sessions")).empty());
    }
}

TEST_CASE("sessions: a record of another boot with the same id is replaced, not reused") {
    TempDir home;
    Core core(home.path());
    Anchor me = anchor_of(::getpid(), ProcessProbe::system());
    SessionRecord old;
    old.id = Sessions::process_session_id(me.pid, me.start_ticks);
    old.nonce = "0000000000000001";
    old.kind = "process";
    old.anchor = Anchor{me.pid, me.start_ticks, "00000000-0000-0000-0000-000000000000",
                        os::machine_id(), ""};
    REQUIRE(core.registry.create(old));
    CHECK(core.sessions.verdict(old).life == Life::Dead);

    SessionRecord now = core.sessions.process_session(::getpid());
    CHECK(now.id == old.id);
    CHECK(now.nonce != old.nonce);
    CHECK(core.sessions.find(old.id)->nonce == now.nonce);
    CHECK(core.sessions.verdict(now).life == Life::Alive);
}

TEST_CASE("sessions: an unreadable record is not replaced") {
    TempDir home;
    Core core(home.path());
    Anchor me = anchor_of(::getpid(), ProcessProbe::system());
    std::string id = Sessions::process_session_id(me.pid, me.start_ticks);
    core.home.sessions();
    write_text(home.sub("sessions/" + id), "{\"id\":");
    try {
        core.sessions.process_session(::getpid());
        FAIL("an unreadable session record was replaced");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Failure);
        CHECK(e.message().find(id) != std::string::npos);
    }
    CHECK(read_text(home.sub("sessions/" + id)) == "{\"id\":");
}

TEST_CASE("sessions: resolve_live refuses unknown, dead and malformed ids") {
    TempDir home;
    Core core(home.path());
    auto code_of_resolve = [&](const std::string& id) {
        try {
            core.sessions.resolve_live(id, ::getpid());
        } catch (const Error& e) {
            return e.code();
        }
        return Exit::Ok;
    };
    CHECK(code_of_resolve("s-unknown") == Exit::Usage);
    CHECK(code_of_resolve("../sessions/x") == Exit::Usage);
    CHECK(code_of_resolve(".lock") == Exit::Usage);
    CHECK(code_of_resolve("a b") == Exit::Usage);

    SessionRecord dead = dead_session(home.path());
    CHECK(code_of_resolve(dead.id) == Exit::Usage);

    StartOptions o;
    o.ttl_ms = 20;
    SessionRecord expired = core.sessions.start(o, ::getpid());
    sleep_ms(60);
    CHECK(code_of_resolve(expired.id) == Exit::Usage);

    SessionRecord live = core.sessions.start({}, ::getpid());
    CHECK(code_of_resolve(live.id) == Exit::Ok);
    CHECK(core.sessions.resolve_live(live.id, ::getpid()).nonce == live.nonce);
    // No id: the implicit session of the given process.
    SessionRecord implicit = core.sessions.resolve_live("", ::getpid());
    CHECK(implicit.id == core.sessions.process_session(::getpid()).id);
}

TEST_CASE("sessions: a reference to an earlier incarnation is a dead session") {
    TempDir home;
    Core core(home.path());
    SessionRecord first = core.sessions.start({}, ::getpid());
    const std::string old_ref = pinned_ref(first);
    CHECK(core.sessions.resolve_live(old_ref, ::getpid()).nonce == first.nonce);
    // The same id, a new incarnation (what the supervisor does on a restart).
    SessionRecord next = first;
    next.nonce = new_nonce();
    core.sessions.put(next);
    try {
        core.sessions.resolve_live(old_ref, ::getpid());
        FAIL("an earlier incarnation was taken for the new one");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Usage);
        CHECK(e.message().find("later incarnation") != std::string::npos);
    }
    CHECK_THROWS_AS(core.sessions.end(old_ref), Error);
    CHECK(core.sessions.find(first.id)->nonce == next.nonce); // not ended
    CHECK(core.sessions.resolve_live(pinned_ref(next), ::getpid()).nonce == next.nonce);
    CHECK(core.sessions.resolve_live(first.id, ::getpid()).nonce == next.nonce);
    CHECK(parse_session_ref("w.1@0123456789abcdef").id == "w.1");
    CHECK(parse_session_ref("w.1@0123456789abcdef").nonce == "0123456789abcdef");
    CHECK_FALSE(parse_session_ref("user@host").nonce);
    CHECK_THROWS_AS(parse_session_ref("bad id@0123456789abcdef"), Error);
}

TEST_CASE("sessions: the implicit anchor skips forked copies of the caller, not jobs or programs") {
    TempDir home;
    Core core(home.path());
    Shared<std::atomic<int>> seen;
    // A forked copy of this process that stays in its process group: a
    // subshell such as bash's for $(...).
    Child copy = fork_child([&] {
        seen->store(core.sessions.implicit_anchor(::getpid()));
        return 0;
    });
    REQUIRE(copy.finish() == 0);
    CHECK(seen->load() == ::getpid());
    // A copy that leads a process group of its own is a job: it is the anchor.
    Child job = fork_child([&] {
        ::setpgid(0, 0);
        seen->store(core.sessions.implicit_anchor(::getpid()));
        return 0;
    });
    REQUIRE(job.finish() == 0);
    CHECK(seen->load() == job.pid());
    // Another program is never skipped.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::execlp("sleep", "sleep", "100", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    Child sleeper(pid);
    REQUIRE(wait_until([&] { return !os::same_program(pid, ::getpid()); }));
    CHECK(core.sessions.implicit_anchor(pid) == pid);
}

TEST_CASE("sessions: a process session asked for with a group is created with it, or given it") {
    TempDir home;
    Core core(home.path());
    SessionRecord first = core.sessions.process_session(::getpid(), "with", 4242);
    REQUIRE(first.pgid);
    CHECK(*first.pgid == 4242);
    auto rec = core.sessions.find(first.id);
    REQUIRE(rec);
    REQUIRE(rec->pgid);
    CHECK(*rec->pgid == 4242);
    // Recorded before with another group (or none): the record gets this one.
    SessionRecord again = core.sessions.process_session(::getpid(), "with", 4343);
    CHECK(again.nonce == first.nonce);
    rec = core.sessions.find(first.id);
    REQUIRE(rec);
    REQUIRE(rec->pgid);
    CHECK(*rec->pgid == 4343);
}

TEST_CASE("sessions: set_group records the group the session lives with, not for another") {
    TempDir home;
    Core core(home.path());
    SessionRecord me = core.sessions.process_session(::getpid(), "with");
    core.sessions.set_group(me, 4242);
    auto rec = core.sessions.find(me.id);
    REQUIRE(rec);
    REQUIRE(rec->pgid);
    CHECK(*rec->pgid == 4242);
    CHECK(rec->nonce == me.nonce);
    // An earlier incarnation, or an ended session, gets no group.
    SessionRecord stale = me;
    stale.nonce = "0000000000000000";
    CHECK_THROWS_AS(core.sessions.set_group(stale, 1), Error);
    core.sessions.end(me.id);
    CHECK_THROWS_AS(core.sessions.set_group(me, 4242), Error);
    CHECK_FALSE(core.sessions.find(me.id));
}
