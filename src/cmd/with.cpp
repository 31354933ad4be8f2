// loop _ with NAME... -- COMMAND [ARG...]
#include "cmd/acquire.hpp"
#include "cmd/cmd.hpp"
#include "cmd/output.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"
#include "os/process.hpp"

#include <cstdio>
#include <cstring>
#include <memory>

namespace loop::cmd {

namespace {

struct WithOpts {
    std::vector<std::string> names;
    std::string session, wait = "0", ttl;
    bool shared = false;
    int conflict_exit = 1;
};

int run_with(const Globals& g, const WithOpts& o) {
    if (g.trailing.empty())
        throw Error(Exit::Usage, "with: no command given: loop _ with NAME... -- COMMAND [ARG...]");
    AcquireRequest req = make_request(o.names, o.shared, o.ttl);
    int64_t wait = parse_duration_or_throw(o.wait, "--wait");
    // Unless a session is named, this process is the session: two `with`s
    // from one shell exclude each other.
    std::string sid = session_flag_or_env(o.session);
    if (!sid.empty()) parse_session_ref(sid);

    Core core(Home::resolve(g.home));
    SessionRecord me = sid.empty() ? core.sessions.process_session(os::self_pid(), "with")
                                   : core.sessions.resolve_live(sid, os::self_pid());
    AcquireOutcome out = acquire_reporting(core, me, req, wait, o.wait);
    if (!out.acquired) {
        if (sid.empty()) core.sessions.end(me.id);
        return o.conflict_exit;
    }

    std::string fences;
    if (out.granted.size() == 1) {
        fences = std::to_string(out.granted[0].holder.fence);
    } else {
        for (const auto& gr : out.granted) {
            if (!fences.empty()) fences += ' ';
            fences += gr.name + "=" + std::to_string(gr.holder.fence);
        }
    }
    os::EnvVars env = {{"LOOP_CLAIM_FENCE", fences}, {"LOOP_HOME", core.home.path()}};
    if (!sid.empty()) env.push_back({"LOOP_SESSION_ID", sid});

    std::vector<std::string> acquired;
    for (const auto& gr : out.granted)
        if (!gr.already_held) acquired.push_back(gr.name);

    int err = 0;
    int pid = os::spawn_guarded(g.trailing, env, &err);
    int code;
    if (pid < 0) {
        std::fprintf(stderr, "loop: with: cannot run '%s': %s\n", g.trailing[0].c_str(),
                     std::strerror(err));
        code = err == ENOENT ? 127 : 126;
    } else {
        code = os::exit_code_of(os::wait_forwarding_signals(pid));
    }
    if (!acquired.empty()) core.claims.release(me.id, me.nonce, acquired, false);
    if (sid.empty()) core.sessions.end(me.id);
    return code;
}

} // namespace

void add_with_command(CLI::App& u, Globals& g, Action& action) {
    if (CLI::App* with = subcommand(u, g, "with", "Run a command while holding claims")) {
        auto o = std::make_shared<WithOpts>();
        with->add_option("names", o->names, "Claim names")->required();
        with->add_option("--session", o->session, "Session that holds the claims");
        with->add_option("--wait", o->wait, "Wait up to DUR for the claims (0, 10s, inf)");
        with->add_option("--ttl", o->ttl, "The claims expire after DUR");
        with->add_flag("--shared", o->shared, "Take shared claims");
        with->add_option("--conflict-exit-code", o->conflict_exit,
                         "Exit code when busy (default 1)");
        with->callback([&g, &action, o] { action = [&g, o] { return run_with(g, *o); }; });
    }
}

} // namespace loop::cmd
