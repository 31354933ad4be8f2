// Operator requests to the running supervisor of a home (loop reload,
// restart, stop, start, and the replica states `loop status` shows): one
// JSON line each way over HOME/supervisor.sock. This part needs no event
// loop: what a target names, what a reload changed, which replica a
// rollout restarts next, and the shape of replies.
//
// Request: {"op": "reload"|"restart"|"stop"|"start"|"replicas", "target": "W[.N]"}
// Reply:   {"ok": true, ...} or {"ok": false, "exit": 2|3, "error": "..."}
#pragma once

#include "core/error.hpp"
#include "core/supervisor/playbook.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace loop {

inline constexpr const char* kControlSocket = "supervisor.sock";
inline constexpr size_t kMaxControlRequestBytes = 4096;
// A restarted replica is up once its new incarnation has run this long
// (reset_after is at least as long, so it is past its backoff too).
inline constexpr int64_t kReplicaUpMs = 1000;

struct Target {
    std::string worker;
    int replica = 0; // 0: every replica of the worker
};

// "W" or "W.N" (N from 1); Error(Usage) otherwise.
Target parse_target(const std::string& text);
// The replica numbers `t` names in `pb`; Error(Usage) for an unknown worker
// or a replica the worker does not have.
std::vector<int> resolve_target(const Playbook& pb, const Target& t);

// What a reload changes.
struct PlaybookDiff {
    struct Resize {
        std::string worker;
        int from = 0, to = 0;
    };
    std::vector<std::string> added, removed;
    std::vector<std::string> changed;  // restarted: the process differs
    std::vector<std::string> settings; // applied in place (backoff, restart, stop_*, rollout)
    std::vector<Resize> resized;       // replicas added or removed, nobody restarted
    bool reap_changed = false;
    int64_t reap_from_ms = 0, reap_to_ms = 0;
    bool empty() const;
};
PlaybookDiff diff_playbooks(const Playbook& old, const Playbook& next);
// {"added": [{"worker", "replicas"}], "removed": [W], "changed": [{"worker",
// "replicas", "rollout"}], "settings": [W], "replicas": [{"worker", "from",
// "to"}], "reap_interval": null | {"from", "to"}}
nlohmann::json diff_json(const PlaybookDiff& d, const Playbook& next);
// One line per change of a diff_json, or {"no change"}.
std::vector<std::string> describe_diff(const nlohmann::json& diff);

// One replica of a worker as a rollout sees it.
struct RolloutReplica {
    enum class Phase {
        Outdated,   // running the previous definition
        Restarting, // being stopped for its restart, or backing off on the new one
        Starting,   // running the new definition for less than up_ms
        Up,         // running the new definition for up_ms or more
        Other,      // stopped, failed, exited: not part of the rollout
    };
    int index = 0;
    Phase phase = Phase::Other;
    int64_t running_ms = 0; // Starting: how long it has run
};
struct RolloutStep {
    int restart = 0;      // the replica to restart now (0: none)
    int64_t wait_ms = -1; // >= 0: look again after this long
};
// One by one: the lowest outdated replica is restarted once no other one is
// restarting or starting; a replica that does not come up holds the rest.
RolloutStep next_rollout_step(const std::vector<RolloutReplica>& replicas, int64_t up_ms);

nlohmann::json control_error(Exit code, const std::string& message);

} // namespace loop
