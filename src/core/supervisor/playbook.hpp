// A playbook: the workers a supervisor keeps running (SPEC section 4).
// Parsed and validated completely before anything starts.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loop {

enum class RestartPolicy { Always, OnFailure, Never };

// How a reload restarts the replicas of a worker whose definition changed:
// one at a time, each after the one before is up (the default), or all at once.
enum class Rollout { OneByOne, AllAtOnce };

struct Backoff {
    int64_t initial_ms = 100;
    int64_t max_ms = 30'000;
    int64_t reset_after_ms = 60'000;
    bool operator==(const Backoff&) const = default;
};

// How a worker's output is kept (loop-playbook(5)): lines go through a log
// writer to logs/<session>.log, rotated by rename when the size is reached.
struct LogSettings {
    bool timestamps = false;      // an RFC 3339 UTC prefix per line
    int64_t max_size = 8LL << 20; // bytes a file holds before rotation
    int keep = 3;                 // rotated files kept (.1 ... .keep)
    bool operator==(const LogSettings&) const = default;
};

struct WorkerSpec {
    std::string name;
    // Exactly one of: `run` (a shell command line for /bin/sh -c) or
    // `command` (an argv array). argv() gives what to exec either way.
    std::string run;
    std::vector<std::string> command;
    int replicas = 1;
    RestartPolicy restart = RestartPolicy::Always;
    Backoff backoff;
    std::map<std::string, std::string> env;
    std::string cwd;      // resolved against the playbook's directory; "" = that directory
    int stop_signal = 15; // SIGTERM
    int64_t stop_timeout_ms = 10'000;
    LogSettings logs; // applies from the replica's next start
    Rollout rollout = Rollout::OneByOne;

    std::vector<std::string> argv() const;
    // Equal definitions (replicas excluded): a reload restarts a worker
    // only when this differs.
    bool same_definition(const WorkerSpec& o) const;
    // Same process (argv, env, cwd): what differs otherwise (backoff,
    // restart, stop_signal, stop_timeout) applies to a running replica.
    bool same_process(const WorkerSpec& o) const;
};

struct Playbook {
    std::string path; // absolute path of the file it came from
    int64_t reap_interval_ms = 30'000;
    LogSettings logs;                // the workers' defaults
    std::vector<WorkerSpec> workers; // sorted by name

    const WorkerSpec* find(const std::string& name) const;
};

// Reads and validates a playbook file. Throws Error(Usage) with the file,
// the key path ("workers.indexer.replicas") and what is wrong.
Playbook load_playbook(const std::string& path);
// Same, from text (`origin` names the file in messages; relative cwd is
// resolved against `base_dir`).
Playbook parse_playbook(const std::string& text, const std::string& origin,
                        const std::string& base_dir);

const char* restart_policy_name(RestartPolicy p);
const char* rollout_name(Rollout r); // "one-by-one", "all-at-once"
// "TERM", "SIGTERM", "15" -> 15; nullopt when unknown.
std::optional<int> parse_signal(const std::string& text);

// "TERM" for 15, "KILL" for 9, the number for a signal without a name here.
std::string signal_name(int sig);

// Why a worker name is refused, or nullopt when it is valid: 1 to 64 bytes
// of [A-Za-z0-9_-], not starting with '-' (replica sessions are named
// "<worker>.<replica>"; a worker name never contains '.').
std::optional<std::string> worker_name_problem(std::string_view name);

// "64KiB", "10MB", "4096" -> bytes (units are powers of 1024, as
// docker's max-size); nullopt when malformed or over 2^50.
std::optional<int64_t> parse_size(std::string_view text);

constexpr int kMaxReplicas = 1000;
constexpr int64_t kMinLogMaxSize = 4096;
constexpr int64_t kMaxLogMaxSize = 64LL << 30; // 64GiB
constexpr int kMaxLogKeep = 1000;
constexpr int64_t kMinReapIntervalMs = 100;
constexpr int64_t kMinBackoffInitialMs = 10;
constexpr int64_t kMinBackoffMaxMs = 1'000;
constexpr int64_t kMinBackoffResetAfterMs = 1'000;
constexpr int64_t kMaxPlaybookDurationMs = 365LL * 86'400'000; // 365d

} // namespace loop
