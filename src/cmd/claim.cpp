// loop _ claim | unclaim | renew | owner
#include "cmd/acquire.hpp"
#include "cmd/cmd.hpp"
#include "cmd/output.hpp"
#include "cmd/quick_args.hpp"
#include "core/core.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"

#include <cstdio>
#include <memory>

namespace loop::cmd {

namespace {

struct ClaimOpts {
    std::vector<std::string> names;
    std::string session, wait = "0", ttl, reason;
    std::vector<std::string> meta, shared_names;
    bool shared = false, json = false;
};

int run_claim(const Globals& g, const ClaimOpts& o) {
    AcquireRequest req = make_request(o.names, o.shared, o.shared_names, o.ttl);
    int64_t wait = parse_duration_or_throw(o.wait, "--wait");
    check_utf8(o.reason, "--reason");
    req.reason = o.reason;
    req.meta = parse_meta(o.meta);
    // Everything the user typed is checked before the home is touched.
    const std::string sid = session_flag_or_env(o.session);
    if (!sid.empty()) parse_session_ref(sid);

    auto backend = backend_of(g);
    SessionRecord me;
    AcquireOutcome out = acquire_reporting(
        [&](const WaitReport& on_wait, const HeldReport&) {
            return backend->acquire_as(sid, os::parent_pid(), req, wait, on_wait, &me);
        },
        wait, o.wait);
    if (!out.acquired) return static_cast<int>(Exit::Busy);
    if (o.json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& gr : out.granted) {
            auto j = claim_json(gr.name, gr.mode, gr.holder);
            j["already_held"] = gr.already_held;
            arr.push_back(std::move(j));
        }
        print_json(arr.size() == 1 ? arr[0] : arr);
    } else {
        for (const auto& gr : out.granted)
            std::printf("claimed %s (fence %llu)\n", gr.name.c_str(),
                        static_cast<unsigned long long>(gr.holder.fence));
    }
    return 0;
}

struct UnclaimOpts {
    std::vector<std::string> names;
    std::string session;
    bool force = false;
};

int run_unclaim(const Globals& g, const UnclaimOpts& o) {
    auto names = normalize_names(o.names);
    std::string text = session_flag_or_env(o.session);
    if (!text.empty()) parse_session_ref(text);
    auto backend = backend_of(g);
    for (const auto& n : backend->release(text, os::parent_pid(), names, o.force))
        std::printf("released %s\n", n.c_str());
    return 0;
}

struct RenewOpts {
    std::vector<std::string> names;
    std::string session, ttl;
};

int run_renew(const Globals& g, const RenewOpts& o) {
    auto names = normalize_names(o.names);
    int64_t ttl = 0;
    if (!o.ttl.empty()) {
        ttl = parse_duration_or_throw(o.ttl, "--ttl");
        if (ttl == kInfinite) ttl = 0;
    }
    std::string sid = session_flag_or_env(o.session);
    if (!sid.empty()) parse_session_ref(sid);
    auto backend = backend_of(g);
    SessionRecord me = backend->resolve_live(sid, os::parent_pid());
    for (const auto& gr : backend->renew(me, names, ttl)) {
        if (gr.holder.expires_ms > 0)
            std::printf("renewed %s (expires %s)\n", gr.name.c_str(),
                        format_time(gr.holder.expires_ms).c_str());
        else
            std::printf("renewed %s (no ttl)\n", gr.name.c_str());
    }
    return 0;
}

struct OwnerOpts {
    std::string name;
    bool json = false;
};

int run_owner(const Globals& g, const OwnerOpts& o) {
    check_name(o.name, "claim name");
    auto holders = backend_of(g)->holders(o.name);
    std::vector<HolderView> live;
    for (auto& h : holders)
        if (h.verdict.life != Life::Dead) live.push_back(std::move(h));
    if (o.json) {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& h : live)
            arr.push_back(holder_json(h));
        print_json(arr);
    } else {
        const int64_t now = os::now_ms();
        for (const auto& h : live) {
            int pid = h.session && h.session->anchor ? h.session->anchor->pid : h.holder.pid;
            std::printf("%s %s session=%s pid=%d fence=%llu since=%s age=%s%s\n", o.name.c_str(),
                        mode_name(h.mode), h.holder.session.c_str(), pid,
                        static_cast<unsigned long long>(h.holder.fence),
                        format_time(h.holder.acquired_ms).c_str(),
                        format_age(now - h.holder.acquired_ms).c_str(),
                        h.verdict.life == Life::Unknown ? " liveness=unknown" : "");
        }
    }
    if (live.empty()) {
        if (!o.json) std::fprintf(stderr, "loop: %s is not held\n", o.name.c_str());
        return 1;
    }
    return 0;
}

} // namespace

Action quick_claim(int end, char** argv, Globals& g) {
    auto c = std::make_shared<ClaimOpts>();
    if (!quick_parse(end, argv, "claim",
                     {{"--session", &c->session},
                      {"--wait", &c->wait},
                      {"--ttl", &c->ttl},
                      {"--reason", &c->reason},
                      {"--shared-name", nullptr, &c->shared_names},
                      {"--meta", nullptr, &c->meta},
                      {"--shared", nullptr, nullptr, &c->shared},
                      {"--json", nullptr, nullptr, &c->json}},
                     g, c->names))
        return {};
    return [&g, c] { return run_claim(g, *c); };
}

Action quick_unclaim(int end, char** argv, Globals& g) {
    auto un = std::make_shared<UnclaimOpts>();
    if (!quick_parse(end, argv, "unclaim",
                     {{"--session", &un->session}, {"--force", nullptr, nullptr, &un->force}}, g,
                     un->names))
        return {};
    return [&g, un] { return run_unclaim(g, *un); };
}

void add_claim_commands(CLI::App& u, Globals& g, Action& action) {
    if (CLI::App* claim = subcommand(u, g, "claim", "Take one or more claims (all or none)")) {
        auto c = std::make_shared<ClaimOpts>();
        claim->add_option("names", c->names, "Claim names")->required();
        claim->add_option("--session", c->session, "Session that holds the claim");
        claim->add_option("--wait", c->wait, "Wait up to DUR for the claim (0, 10s, inf)");
        claim->add_option("--ttl", c->ttl, "The claim expires after DUR unless renewed");
        claim->add_flag("--shared", c->shared, "Take a shared claim (every name)");
        claim
            ->add_option("--shared-name", c->shared_names,
                         "Also take NAME, shared, in the same all-or-nothing call (repeatable)")
            ->allow_extra_args(false);
        claim->add_option("--reason", c->reason, "Why the claim is held (shown to others)");
        claim->add_option("--meta", c->meta, "KEY=VALUE metadata (repeatable)")
            ->allow_extra_args(false);
        claim->add_flag("--json", c->json, "Print JSON");
        claim->callback([&g, &action, c] { action = [&g, c] { return run_claim(g, *c); }; });
    }

    if (CLI::App* unclaim = subcommand(u, g, "unclaim", "Release claims")) {
        auto un = std::make_shared<UnclaimOpts>();
        unclaim->add_option("names", un->names, "Claim names")->required();
        unclaim->add_option("--session", un->session, "Session that holds the claim");
        unclaim->add_flag("--force", un->force, "Release even if another live session holds it");
        unclaim->callback([&g, &action, un] { action = [&g, un] { return run_unclaim(g, *un); }; });
    }

    if (CLI::App* renew = subcommand(u, g, "renew", "Extend the TTL of claims you hold")) {
        auto r = std::make_shared<RenewOpts>();
        renew->add_option("names", r->names, "Claim names")->required();
        renew->add_option("--ttl", r->ttl, "New TTL (default: the claim's own)");
        renew->add_option("--session", r->session, "Session that holds the claim");
        renew->callback([&g, &action, r] { action = [&g, r] { return run_renew(g, *r); }; });
    }

    if (CLI::App* owner = subcommand(u, g, "owner", "Show who holds a claim (exit 1 when free)")) {
        auto ow = std::make_shared<OwnerOpts>();
        owner->add_option("name", ow->name, "Claim name")->required();
        owner->add_flag("--json", ow->json, "Print JSON");
        owner->callback([&g, &action, ow] { action = [&g, ow] { return run_owner(g, *ow); }; });
    }
}

} // namespace loop::cmd
