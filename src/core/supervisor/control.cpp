#include "core/supervisor/control.hpp"

#include "core/text.hpp"

#include <algorithm>
#include <charconv>

namespace loop {

Target parse_target(const std::string& text) {
    Target t;
    auto dot = text.find('.');
    t.worker = text.substr(0, dot);
    if (auto p = worker_name_problem(t.worker))
        throw Error(Exit::Usage, "'" + escape_controls(text) + "': not WORKER or WORKER.N: " + *p);
    if (dot == std::string::npos) return t;
    const std::string n = text.substr(dot + 1);
    int value = 0;
    auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), value);
    if (n.empty() || ec != std::errc() || end != n.data() + n.size() || value < 1 ||
        n.front() == '+' || n.front() == '0')
        throw Error(Exit::Usage, "'" + escape_controls(text) +
                                     "': the replica after '.' must be a number from 1");
    t.replica = value;
    return t;
}

std::vector<int> resolve_target(const Playbook& pb, const Target& t) {
    const WorkerSpec* w = pb.find(t.worker);
    if (!w) {
        std::string names;
        for (const auto& x : pb.workers)
            names += (names.empty() ? "" : ", ") + x.name;
        throw Error(Exit::Usage,
                    "no worker '" + t.worker + "' in " + pb.path +
                        (names.empty() ? " (it has none)" : " (workers: " + names + ")"));
    }
    if (t.replica > w->replicas)
        throw Error(Exit::Usage, t.worker + " has " + std::to_string(w->replicas) + " replica" +
                                     (w->replicas == 1 ? "" : "s") + ": no " + t.worker + "." +
                                     std::to_string(t.replica));
    std::vector<int> out;
    if (t.replica > 0) {
        out.push_back(t.replica);
    } else {
        for (int i = 1; i <= w->replicas; ++i)
            out.push_back(i);
    }
    return out;
}

bool PlaybookDiff::empty() const {
    return added.empty() && removed.empty() && changed.empty() && settings.empty() &&
           resized.empty() && !reap_changed;
}

PlaybookDiff diff_playbooks(const Playbook& old, const Playbook& next) {
    PlaybookDiff d;
    for (const auto& w : next.workers) {
        const WorkerSpec* o = old.find(w.name);
        if (!o) {
            d.added.push_back(w.name);
            continue;
        }
        if (!o->same_process(w)) {
            d.changed.push_back(w.name);
        } else if (!o->same_definition(w)) {
            d.settings.push_back(w.name);
        }
        if (o->replicas != w.replicas) d.resized.push_back({w.name, o->replicas, w.replicas});
    }
    for (const auto& o : old.workers)
        if (!next.find(o.name)) d.removed.push_back(o.name);
    if (old.reap_interval_ms != next.reap_interval_ms) {
        d.reap_changed = true;
        d.reap_from_ms = old.reap_interval_ms;
        d.reap_to_ms = next.reap_interval_ms;
    }
    return d;
}

nlohmann::json diff_json(const PlaybookDiff& d, const Playbook& next) {
    nlohmann::json j = {{"added", nlohmann::json::array()},    {"removed", d.removed},
                        {"changed", nlohmann::json::array()},  {"settings", d.settings},
                        {"replicas", nlohmann::json::array()}, {"reap_interval", nullptr}};
    for (const auto& name : d.added)
        j["added"].push_back({{"worker", name}, {"replicas", next.find(name)->replicas}});
    for (const auto& name : d.changed) {
        const WorkerSpec* w = next.find(name);
        j["changed"].push_back(
            {{"worker", name}, {"replicas", w->replicas}, {"rollout", rollout_name(w->rollout)}});
    }
    for (const auto& r : d.resized)
        j["replicas"].push_back({{"worker", r.worker}, {"from", r.from}, {"to", r.to}});
    if (d.reap_changed)
        j["reap_interval"] = {{"from", format_age(d.reap_from_ms)},
                              {"to", format_age(d.reap_to_ms)}};
    return j;
}

std::vector<std::string> describe_diff(const nlohmann::json& diff) {
    std::vector<std::string> out;
    auto list = [&diff](const char* key) {
        auto it = diff.find(key);
        return it != diff.end() && it->is_array() ? *it : nlohmann::json::array();
    };
    auto plural = [](int n) { return std::to_string(n) + (n == 1 ? " replica" : " replicas"); };
    for (const auto& a : list("added"))
        out.push_back("added " + a.value("worker", "?") + " (" + plural(a.value("replicas", 0)) +
                      ")");
    for (const auto& r : list("removed"))
        out.push_back("removed " + (r.is_string() ? r.get<std::string>() : "?"));
    for (const auto& c : list("changed")) {
        const std::string how =
            c.value("rollout", "") == "all-at-once" ? "all at once" : "one by one";
        int n = c.value("replicas", 0);
        out.push_back("changed " + c.value("worker", "?") + ": restarting " + plural(n) +
                      (n > 1 ? " " + how : ""));
    }
    for (const auto& r : list("replicas"))
        out.push_back("replicas " + r.value("worker", "?") + ": " +
                      std::to_string(r.value("from", 0)) + " -> " +
                      std::to_string(r.value("to", 0)));
    for (const auto& s : list("settings"))
        out.push_back("settings " + (s.is_string() ? s.get<std::string>() : "?") +
                      ": applied without a restart");
    if (auto it = diff.find("reap_interval"); it != diff.end() && it->is_object())
        out.push_back("reap_interval " + it->value("from", "?") + " -> " + it->value("to", "?"));
    if (out.empty()) out.push_back("no change");
    return out;
}

RolloutStep next_rollout_step(const std::vector<RolloutReplica>& replicas, int64_t up_ms) {
    using Phase = RolloutReplica::Phase;
    RolloutStep step;
    int outdated = 0;
    bool restarting = false;
    for (const auto& r : replicas) {
        switch (r.phase) {
        case Phase::Restarting:
            restarting = true; // its exit or start brings the next look
            break;
        case Phase::Starting: {
            int64_t left = std::max<int64_t>(up_ms - r.running_ms, 0);
            step.wait_ms = step.wait_ms < 0 ? left : std::min(step.wait_ms, left);
            break;
        }
        case Phase::Outdated:
            if (outdated == 0 || r.index < outdated) outdated = r.index;
            break;
        case Phase::Up:
        case Phase::Other:
            break;
        }
    }
    if (outdated == 0 || restarting) return {}; // done, or waiting for an exit or a start
    if (step.wait_ms >= 0) return step;
    step.restart = outdated;
    return step;
}

nlohmann::json control_error(Exit code, const std::string& message) {
    return {{"ok", false}, {"exit", static_cast<int>(code)}, {"error", message}};
}

} // namespace loop
