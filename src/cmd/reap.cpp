// loop reap
#include "cmd/cmd.hpp"
#include "cmd/output.hpp"
#include "core/core.hpp"
#include "core/text.hpp"

#include <cstdio>
#include <memory>

namespace loop::cmd {

namespace {

struct ReapOpts {
    bool dry_run = false, json = false;
    std::string retention;
};

int run_reap(const Globals& g, const ReapOpts& o) {
    int64_t retention = Reaper::kDefaultRetentionMs;
    if (!o.retention.empty()) retention = parse_duration_or_throw(o.retention, "--retention");
    if (retention == kInfinite) retention = INT64_MAX / 2;
    ReapReport r = backend_of(g)->reap(o.dry_run, retention);
    if (o.json) {
        nlohmann::json claims = nlohmann::json::array();
        for (const auto& c : r.claims) {
            claims.push_back({{"name", c.name},
                              {"session", c.holder.session},
                              {"fence", c.holder.fence},
                              {"reason", c.why},
                              {"expired", c.expired}});
        }
        print_json({{"dry_run", o.dry_run},
                    {"claims", claims},
                    {"sessions", r.sessions},
                    {"txns", r.txns},
                    {"bells", r.bells},
                    {"warnings", r.warnings}});
    } else {
        const char* verb = o.dry_run ? "would reap" : "reaped";
        for (const auto& c : r.claims)
            std::printf("%s claim %s (session %s, fence %llu): %s\n", verb, c.name.c_str(),
                        c.holder.session.c_str(), static_cast<unsigned long long>(c.holder.fence),
                        c.why.c_str());
        for (const auto& s : r.sessions)
            std::printf("%s session %s\n", o.dry_run ? "would remove" : "removed", s.c_str());
        for (const auto& t : r.txns)
            std::printf("%s marker txn/%s\n", o.dry_run ? "would remove" : "removed", t.c_str());
        if (r.bells > 0)
            std::printf("%s %zu doorbell%s of waiters gone (wake/.w-*)\n",
                        o.dry_run ? "would remove" : "removed", r.bells, r.bells == 1 ? "" : "s");
        print_warnings(r.warnings);
    }
    return 0;
}

} // namespace

void add_reap_command(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* reap = subcommand(app, g, "reap", "One reaping pass (for cron)")) {
        auto o = std::make_shared<ReapOpts>();
        reap->add_flag("--dry-run", o->dry_run, "Only print what would be removed");
        reap->add_flag("--json", o->json, "Print JSON");
        reap->add_option("--retention", o->retention,
                         "Keep records of dead sessions this long (default 1h)");
        reap->callback([&g, &action, o] { action = [&g, o] { return run_reap(g, *o); }; });
    }
}

void add_version_command(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* v = subcommand(app, g, "version", "Print the version")) {
        v->callback([&action] {
            action = [] {
                std::printf("loop %s\n", LOOP_VERSION);
                return 0;
            };
        });
    }
}

} // namespace loop::cmd
