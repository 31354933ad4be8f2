// The supervisors of a fleet on a shared backend (SPEC section 6): each one
// keeps a record there (its host, pid, playbook and replicas), refreshed on
// a heartbeat and removed on a clean stop, so that `loop status` on any host
// shows every host's supervisor. This file holds the record and how it is
// stored (field/value pairs, a summary kept after it is gone) and shown.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace loop {

struct SupervisorRecord {
    std::string id;      // host key and home: one per supervisor of the fleet
    std::string host;    // host name, for display
    std::string host_id; // the host's identity key
    std::string home;
    std::string playbook;
    int pid = 0; // as seen on its host
    int64_t started_ms = 0;
    int64_t heartbeat_ms = 0; // its last record write (the server's clock)
    int64_t stopped_ms = 0;   // stopped cleanly at (0: it did not)
    // Its replicas as `loop status` shows them (session, worker, replica,
    // state, pid, restarts).
    nlohmann::json replicas = nlohmann::json::array();
    // Running while its record lives; Gone: the record expired (killed,
    // host down or cut off); Stopped: a clean stop.
    enum class State { Running, Gone, Stopped } state = State::Running;
    bool local = false; // this host's supervisor of this home
};

const char* state_name(SupervisorRecord::State s);

// The record as field/value pairs of its hash (heartbeat_ms is the
// server's to set), and back from HGETALL's reply; nullopt with *why when
// the pairs are not a record.
std::vector<std::string> record_fields(const SupervisorRecord& r);
std::optional<SupervisorRecord> record_of_fields(const std::vector<std::string>& pairs,
                                                 std::string* why);

// What is kept of it in the fleet's index once the record is gone (no
// replicas), and back (nullopt when `text` is not one).
std::string summary_text(const SupervisorRecord& r);
std::optional<SupervisorRecord> record_of_summary(const std::string& id, const std::string& text);

// The replicas as they are published: without what changes by itself
// (backoff_left_ms), so that a write happens only when a state changed.
nlohmann::json published_replicas(const nlohmann::json& replicas);

// `loop status --json`: one element of "supervisors".
nlohmann::json supervisor_json(const SupervisorRecord& r, int64_t now_ms);
// "WORKER RUNNING/TOTAL running" per worker, ", " between ("-" for none).
std::string workers_cell(const nlohmann::json& replicas);
// A row of the human table (supervisor_header()).
std::vector<std::string> supervisor_row(const SupervisorRecord& r, int64_t now_ms);
std::vector<std::string> supervisor_header();

} // namespace loop
