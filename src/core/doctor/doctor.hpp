// Checking a home directory for what should not be there, and repairing it
// (loop doctor): wrong permissions, temp files of writers that are gone,
// unreadable or corrupt records, claims of unknown or dead sessions, dead
// worker sessions nobody cleans up, commit markers of dead processes, a
// stale supervisor.lock, an oversized event log or malformed lines in it.
//
// Repairs are conservative: a claim is only ever removed through
// Claims::reap_name, which decides again under the name's lock and never
// removes a live or undecidable holder; corrupt records are moved aside to
// <home>/corrupt/ rather than deleted.
#pragma once

#include "core/claims/claims.hpp"
#include "core/core.hpp"
#include "core/events.hpp"
#include "core/home.hpp"
#include "core/sessions/sessions.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace loop {

enum class Severity {
    Problem, // the home is not healthy while it is there
    Info,    // worth knowing (a hint, or something only a person can judge)
};
const char* severity_name(Severity s);

struct Finding {
    std::string kind;    // "permissions", "temp", "corrupt-claim", "stale", ...
    std::string path;    // the file or directory concerned
    std::string problem; // what is wrong
    std::string fix;     // what --repair does (or why it cannot)
    Severity severity = Severity::Problem;
    bool repairable = false;
    bool repaired = false;
    std::string outcome; // after a repair attempt: what was done, or why not

    // What the finding is about: a claim name (stale holders), session id,
    // marker id or file name (a corrupt record or counter: the name on
    // disk, encoded, raw, unlike `path`, which is made printable).
    std::string subject;
    std::string sub;     // the home's subdirectory it is in ("" for the home itself)
    std::string session; // the holder's session, for claim findings
    std::string nonce;   // the session's incarnation, for session findings
    uint64_t fence = 0;  // the holder's fence, for claim findings
};

struct DoctorOptions {
    int64_t temp_age_ms = 60'000;                  // a temp file older than this is a leftover
    int64_t events_max_bytes = 64LL * 1024 * 1024; // a hint to rotate above this
};

class Doctor {
  public:
    explicit Doctor(Core& core, DoctorOptions opts = {})
        : Doctor(core.home, core.sessions, core.claims, core.events, opts) {}
    Doctor(Home& home, Sessions& sessions, Claims& claims, EventLog& events,
           DoctorOptions opts = {});

    // Every finding, changing nothing. Throws Error(Failure) when the home
    // itself cannot be examined (a directory that cannot be listed).
    std::vector<Finding> check();

    // check(), then repairs what can be repaired. Each finding says whether
    // it was repaired and what was done (or why not).
    std::vector<Finding> repair();

    // No problem left (infos do not count).
    static bool healthy(const std::vector<Finding>& findings);

  private:
    void check_permissions(std::vector<Finding>& out);
    void check_temps(std::vector<Finding>& out);
    void check_claims(std::vector<Finding>& out);
    void check_fences(std::vector<Finding>& out);
    void check_sessions(std::vector<Finding>& out);
    void check_txns(std::vector<Finding>& out);
    void check_supervisor_lock(std::vector<Finding>& out);
    void check_events(std::vector<Finding>& out);
    void check_event_lines(std::vector<Finding>& out);
    // The event log is read whole up to this size for its line check; a
    // larger one is reported for rotation (check_events) instead.
    static constexpr uint64_t kEventsReadMax = uint64_t{256} << 20;

    void repair_one(Finding& f, std::vector<Finding>& all);
    void repair_claim_holders(const std::string& name, std::vector<Finding>& all);
    void repair_dead_worker(Finding& f);
    void repair_corrupt_txn(Finding& f);
    void repair_event_lines(Finding& f);
    void repair_dead_txns(std::vector<Finding>& all);
    std::string move_aside(int dir, const char* sub, const std::string& name);

    // A subdirectory whose contents can be examined (it exists, is a
    // directory and its permissions let us in).
    bool usable(const std::string& sub) const;
    bool absent(const std::string& sub) const;
    std::string path_of(const std::string& sub, const std::string& name) const;
    int corrupt_dir();

    Home& home_;
    Sessions& sessions_;
    Claims& claims_;
    EventLog& events_;
    DoctorOptions opts_;
    std::vector<std::string> unusable_; // subdirectories whose contents cannot be examined
    std::vector<std::string> absent_;   // subdirectories that do not exist (yet)
    bool txns_reaped_ = false;
    os::Fd corrupt_;
};

} // namespace loop
