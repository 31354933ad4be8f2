// The two records loop keeps: a session (a unit of liveness) and a claim
// (a named lease held by one or more sessions). Serialised as JSON, one
// record per file (or per key in another backend).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace loop {

// The process a session lives and dies with: pid plus the kernel's start
// time of that pid plus the boot id, so a reused pid never matches; plus
// the machine id and the pid namespace the pid was read in, so a process
// of another host or namespace is never judged from this one's /proc.
struct Anchor {
    int pid = 0;
    uint64_t start_ticks = 0;
    std::string boot_id;
    std::string machine_id; // "" when unknown
    std::string pid_ns;     // "" when unknown
};

struct SessionRecord {
    std::string id;
    std::string nonce; // differs for every incarnation of an id
    std::string kind;  // "process" (implicit), "explicit", "worker"
    std::optional<Anchor> anchor;
    std::string host;
    std::string label;
    std::optional<std::string> worker;
    std::optional<int> replica;
    // A process group the session owns (a supervised worker, the command
    // of a `with`): the session lives while any member of it lives.
    std::optional<int> pgid;
    int64_t ttl_ms = 0;       // 0: no heartbeat TTL
    int64_t heartbeat_ms = 0; // wall clock, for display and other hosts
    // CLOCK_BOOTTIME of the last heartbeat and the boot it was read on:
    // on that boot the TTL is measured on it, so no clock step moves it.
    int64_t heartbeat_boot_ms = 0;
    std::string boot_id;
    int64_t started_ms = 0;
    int restarts = 0;
};

enum class Mode { Exclusive, Shared };
const char* mode_name(Mode m);

struct Holder {
    std::string session;
    std::string nonce; // the session incarnation that acquired it
    int pid = 0;       // the session's anchor pid when acquired (informational)
    uint64_t fence = 0;
    int64_t acquired_ms = 0;
    int64_t expires_ms = 0; // 0: no TTL; wall clock, for display and other hosts
    int64_t ttl_ms = 0;
    // The expiry on CLOCK_BOOTTIME of the boot `boot_id` (the acquirer's).
    int64_t expires_boot_ms = 0;
    std::string boot_id;
    std::string reason;
    std::map<std::string, std::string> meta;
    std::string txn; // set while a multi-name acquisition is not yet cleaned up
};

struct ClaimRecord {
    std::string name;
    Mode mode = Mode::Exclusive;
    std::vector<Holder> holders;
};

// A claimer waiting for a name (core/claims/wait_queue.hpp), kept in the name's
// wait queue while it waits.
struct WaitTicket {
    uint64_t seq = 0; // order in the queue
    Mode mode = Mode::Exclusive;
    int pid = 0; // the waiting process, with its start time
    uint64_t start_ticks = 0;
    int64_t since_ms = 0; // queued at
    int64_t seen_ms = 0;  // last refreshed by its waiter
    std::string id;       // one wait: the waiter's own tickets
    std::string session;  // who waits (for display)
    bool alone = false;   // waits for this one name only
};

// Times and TTLs in records: 0 to 9999-12-31T23:59:59.999Z in milliseconds,
// so that adding or subtracting two of them never overflows.
constexpr int64_t kMaxRecordMs = 253'402'300'799'999;

// Serialisation (one JSON object a line, keys in order). Parsers throw
// Error(Failure) naming `origin` on malformed input.
std::string to_json_text(const SessionRecord& s);
SessionRecord session_from_json_text(const std::string& text, const std::string& origin);
std::string to_json_text(const ClaimRecord& c);
ClaimRecord claim_from_json_text(const std::string& text, const std::string& origin);

// What those are made of (core/record_text.cpp): records written and read
// in one pass, without a JSON document, where their text is plain (ASCII
// strings, integers; core/flat_json.hpp); the general ones (nlohmann,
// core/records.cpp) for the rest, which also say what is wrong. Where a
// one-pass function gives a result, the general one gives the same.
std::optional<std::string> session_to_flat_json(const SessionRecord& s);
std::optional<std::string> claim_to_flat_json(const ClaimRecord& c);
std::optional<SessionRecord> session_from_flat_json(const std::string& text);
std::string session_to_json_dom(const SessionRecord& s);
std::string claim_to_json_dom(const ClaimRecord& c);
SessionRecord session_from_json_dom(const std::string& text, const std::string& origin);

// The commit marker of a multi-name acquisition (txn/ID) names its owner's
// anchor: "PID START_TICKS BOOT_ID\n".
std::string txn_marker_text(const Anchor& owner);
// The owner a marker names, or nullopt when `text` does not start with a
// pid and a start time (the boot id may be missing; at most 63 bytes kept).
std::optional<Anchor> txn_marker_owner(const std::string& text);

} // namespace loop
