// loop doctor
#include "core/doctor/doctor.hpp"
#include "cmd/cmd.hpp"
#include "core/core.hpp"
#include "store/redis/backend_url.hpp"
#include "store/redis/redis_doctor.hpp"

#include <cstdio>
#include <memory>

namespace loop::cmd {

namespace {

struct DoctorOpts {
    bool repair = false, json = false;
};

std::vector<Finding> gather(const Globals& g, const DoctorOpts& o) {
    const std::string home = Home::resolve(g.home);
    redis::BackendUrl url = redis::parse_backend_url(chosen_backend(home, g.backend));
    if (url.kind == redis::BackendKind::Redis) {
        // What the home keeps on this backend are logs and locks: the
        // server is what is checked.
        std::vector<Finding> findings = redis::doctor_findings(url);
        if (o.repair)
            for (auto& f : findings)
                f.outcome = "not repaired: a setting of the Redis server, for its operator";
        return findings;
    }
    Core core(home);
    Doctor doctor(core);
    return o.repair ? doctor.repair() : doctor.check();
}

int run_doctor(const Globals& g, const DoctorOpts& o) {
    std::vector<Finding> findings = gather(g, o);
    const bool healthy = Doctor::healthy(findings);
    if (o.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const auto& f : findings) {
            nlohmann::json j = {{"kind", f.kind},
                                {"path", f.path},
                                {"problem", f.problem},
                                {"fix", f.fix},
                                {"severity", severity_name(f.severity)},
                                {"repairable", f.repairable},
                                {"repaired", f.repaired}};
            j["outcome"] = f.outcome.empty() ? nlohmann::json(nullptr) : nlohmann::json(f.outcome);
            list.push_back(std::move(j));
        }
        // Names in messages may hold any bytes: never fail on bad UTF-8.
        nlohmann::json j = {{"healthy", healthy}, {"findings", std::move(list)}};
        std::string text = j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        std::fwrite(text.data(), 1, text.size(), stdout);
        return healthy ? 0 : 1;
    }
    size_t problems = 0, repaired = 0;
    for (const auto& f : findings) {
        std::printf("%s: %s: %s (fix: %s)\n", severity_name(f.severity), f.path.c_str(),
                    f.problem.c_str(), f.fix.c_str());
        if (f.severity == Severity::Problem) {
            ++problems;
            if (f.repaired) ++repaired;
        }
    }
    if (o.repair) {
        for (const auto& f : findings) {
            if (f.outcome.empty()) continue;
            std::printf("%s: %s: %s\n", f.repaired ? "repaired" : "not repaired", f.path.c_str(),
                        f.outcome.c_str());
        }
    }
    std::printf("%zu problem%s found, %zu repaired\n", problems, problems == 1 ? "" : "s",
                repaired);
    return healthy ? 0 : 1;
}

} // namespace

void add_doctor_command(CLI::App& app, Globals& g, Action& action) {
    if (CLI::App* doctor = subcommand(app, g, "doctor", "Check the home directory and repair it")) {
        auto o = std::make_shared<DoctorOpts>();
        doctor->add_flag("--repair", o->repair,
                         "Repair what can be repaired (never a live holder's claim)");
        doctor->add_flag("--json", o->json, "Print JSON");
        doctor->callback([&g, &action, o] { action = [&g, o] { return run_doctor(g, *o); }; });
    }
}

} // namespace loop::cmd
