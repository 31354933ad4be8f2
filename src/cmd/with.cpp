// loop _ with NAME... -- COMMAND [ARG...]
#include "cmd/acquire.hpp"
#include "cmd/cmd.hpp"
#include "cmd/output.hpp"
#include "cmd/quick_args.hpp"
#include "core/claims/claim_keeper.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "os/notify.hpp"
#include "os/proc.hpp"
#include "os/process.hpp"
#include "store/redis/keeper.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

namespace loop::cmd {

namespace {

// A short COMMAND never pays for a watch on the claims: it starts after
// this long. Claims are also looked at every kCheckEveryMs (no inotify, a
// session ended from outside).
constexpr int64_t kWatchAfterMs = 100;
constexpr int64_t kCheckEveryMs = 1000;
// COMMAND starts while the names' locks are still held (their
// bookkeeping is left): with sleeps this long at most for its exec.
constexpr int kYieldToExecMs = 2;
// What is left of COMMAND's group gets SIGTERM, then SIGKILL after this.
constexpr int kGraceMs = 2000;

struct WithOpts {
    std::vector<std::string> names;
    std::string session, wait = "0", ttl, reason;
    std::vector<std::string> meta, shared_names;
    bool shared = false;
    int conflict_exit = 1;
};

std::string fences_of(const std::vector<Granted>& granted) {
    if (granted.size() == 1) return std::to_string(granted[0].holder.fence);
    std::string fences;
    for (const auto& gr : granted) {
        if (!fences.empty()) fences += ' ';
        fences += gr.name + "=" + std::to_string(gr.holder.fence);
    }
    return fences;
}

// Waits for COMMAND while keeping the claims. The claim lost, or nullopt
// once COMMAND exited.
std::optional<LostClaim> keep_while_running(Backend& backend, os::GroupChild& child,
                                            ClaimKeeper& keeper) {
    os::ChangeWaiter watch;
    bool watching = false;
    const int64_t started = os::monotonic_ms();
    for (;;) {
        int64_t timeout = watching
                              ? kCheckEveryMs
                              : std::max<int64_t>(0, started + kWatchAfterMs - os::monotonic_ms());
        if (int64_t due = keeper.next_due_ms(); due >= 0) timeout = std::min(timeout, due);
        if (child.wait(static_cast<int>(timeout), watching ? watch.fd() : -1)) return std::nullopt;
        if (!watching && os::monotonic_ms() - started >= kWatchAfterMs) {
            int err = 0;
            watch.watch_dirs(backend.watch_paths(), &err); // without: the periodic check
            watching = true;
        }
        watch.take_changes();
        if (auto lost = keeper.check()) return lost;
    }
}

// Keeps the claims while COMMAND (let through its gate already) runs.
// Returns with's exit code; `still_held` gets the claims to release after.
int run_command(Backend& backend, os::GroupChild& child, const SessionRecord& me,
                const std::vector<Granted>& granted, const std::string& program,
                std::vector<std::string>* still_held) {
    if (!child.started()) {
        std::fprintf(stderr, "loop: with: cannot run '%s': %s\n", program.c_str(),
                     std::strerror(child.err()));
        for (const auto& gr : granted)
            still_held->push_back(gr.name);
        return child.err() == ENOENT ? 127 : 126;
    }
    ClaimKeeper keeper(
        [&backend](const std::string& n) { return backend.holders(n); },
        [&backend, &me](const std::string& n, int64_t ttl) { backend.renew(me, {n}, ttl); },
        backend.probe(), me, granted);
    std::optional<LostClaim> lost = keep_while_running(backend, child, keeper);
    if (lost)
        std::fprintf(stderr, "loop: with: lost claim %s: %s\n", lost->name.c_str(),
                     lost->why.c_str());
    child.stop_all(kGraceMs);
    *still_held = keeper.held();
    return lost ? static_cast<int>(Exit::Failure) : os::exit_code_of(child.status());
}

int run_with(const Globals& g, const WithOpts& o) {
    if (g.trailing.empty())
        throw Error(Exit::Usage, "with: no command given: loop _ with NAME... -- COMMAND "
                                 "[ARG...] (see 'loop _ with --help')");
    // An exit status is 0 to 255: 256 would read as success.
    if (o.conflict_exit < 0 || o.conflict_exit > 255)
        throw Error(Exit::Usage, "--conflict-exit-code " + std::to_string(o.conflict_exit) +
                                     ": an exit status is 0 to 255");
    AcquireRequest req = make_request(o.names, o.shared, o.shared_names, o.ttl);
    int64_t wait = parse_duration_or_throw(o.wait, "--wait");
    check_utf8(o.reason, "--reason");
    req.reason = o.reason;
    req.meta = parse_meta(o.meta);
    // Unless a session is named, this process is the session: two `with`s
    // from one shell exclude each other.
    std::string sid = session_flag_or_env(o.session);
    if (!sid.empty()) parse_session_ref(sid);

    // COMMAND is forked first, in a group of its own held at a gate: the
    // session is recorded once, with that group, and the fork is not paid
    // for while holding the claims (nor is anything of the backend's,
    // connections included, inherited by it).
    os::GroupChild child(g.trailing);
    // A host keeper a claim of COMMAND started is the host's, not COMMAND's.
    child.spare(redis::is_keeper);
    if (child.pid() < 0) { // no process to run it in: nothing is taken
        std::fprintf(stderr, "loop: with: cannot run '%s': %s\n", g.trailing[0].c_str(),
                     std::strerror(child.err()));
        return 126;
    }
    auto backend = backend_of(g);
    SessionRecord me;
    if (sid.empty()) me = backend->own_session(os::self_pid(), "with", child.pid());
    // COMMAND goes through its gate the moment the claims are held, and
    // its exec comes before the bookkeeping of the grant (events, the
    // names' locks let go of): a contended name's critical section starts
    // here, and the bookkeeping is off it.
    const std::string home = Home::resolve(g.home);
    auto let_through = [&](const std::vector<Granted>& granted) {
        os::EnvVars env = {{"LOOP_CLAIM_FENCE", fences_of(granted)}, {"LOOP_HOME", home}};
        if (!sid.empty()) env.push_back({"LOOP_SESSION_ID", sid});
        if (child.open_gate(env)) child.yield_to_exec(kYieldToExecMs);
    };
    AcquireOutcome out = acquire_reporting(
        [&](const WaitReport& on_wait, const HeldReport& on_held) {
            req.on_held = on_held;
            if (sid.empty()) return backend->acquire(me, req, wait, on_wait);
            return backend->acquire_as(sid, os::self_pid(), req, wait, on_wait, &me);
        },
        wait, o.wait, let_through);
    if (!out.acquired) {
        if (sid.empty()) backend->end_own_session(me, {});
        return o.conflict_exit;
    }

    std::vector<std::string> held;
    int code = run_command(*backend, child, me, out.granted, g.trailing[0], &held);
    // What the session held before with stays held.
    std::vector<std::string> release;
    for (const auto& gr : out.granted)
        if (!gr.already_held && std::find(held.begin(), held.end(), gr.name) != held.end())
            release.push_back(gr.name);
    // A claim another session has by now is not ours to release, and
    // nothing to report.
    if (sid.empty())
        backend->end_own_session(me, release);
    else
        backend->release_own_quietly(me, release);
    return code;
}

} // namespace

Action quick_with(int end, char** argv, Globals& g) {
    auto o = std::make_shared<WithOpts>();
    std::string conflict_exit;
    if (!quick_parse(end, argv, "with",
                     {{"--session", &o->session},
                      {"--wait", &o->wait},
                      {"--ttl", &o->ttl},
                      {"--reason", &o->reason},
                      {"--conflict-exit-code", &conflict_exit},
                      {"--shared-name", nullptr, &o->shared_names},
                      {"--meta", nullptr, &o->meta},
                      {"--shared", nullptr, nullptr, &o->shared}},
                     g, o->names))
        return {};
    if (!conflict_exit.empty() && !quick_int(conflict_exit, o->conflict_exit)) return {};
    return [&g, o] { return run_with(g, *o); };
}

void add_with_command(CLI::App& u, Globals& g, Action& action) {
    if (CLI::App* with = subcommand(u, g, "with", "Run a command while holding claims")) {
        auto o = std::make_shared<WithOpts>();
        with->add_option("names", o->names, "Claim names")->required();
        with->add_option("--session", o->session, "Session that holds the claims");
        with->add_option("--wait", o->wait, "Wait up to DUR for the claims (0, 10s, inf)");
        with->add_option("--ttl", o->ttl, "The claims expire after DUR (renewed while it runs)");
        with->add_flag("--shared", o->shared, "Take shared claims (every name)");
        with->add_option("--shared-name", o->shared_names,
                         "Also take NAME, shared, in the same all-or-nothing call (repeatable)")
            ->allow_extra_args(false);
        with->add_option("--reason", o->reason, "Why the claims are held (shown to others)");
        with->add_option("--meta", o->meta, "KEY=VALUE metadata (repeatable)")
            ->allow_extra_args(false);
        with->add_option("--conflict-exit-code", o->conflict_exit,
                         "Exit code when busy (default 1)");
        with->footer("Usage: loop _ with NAME... [OPTIONS] -- COMMAND [ARG...]\n"
                     "COMMAND runs in a process group of its own; the claims are held until\n"
                     "nothing of it is left. A claim lost while it runs stops it (exit 3).");
        with->callback([&g, &action, o] { action = [&g, o] { return run_with(g, *o); }; });
    }
}

} // namespace loop::cmd
