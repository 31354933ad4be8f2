// Typed calls of the Redis backend's server-side scripts (lua/*.lua). Every
// decision is made inside one script; these functions only build the keys
// and arguments, run it and read its answer. The key layout is described in
// redis_client.hpp.
#pragma once

#include "core/records.hpp"
#include "store/redis/redis_client.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace loop::redis {

// The names of the keys under one prefix.
struct Keys {
    std::string prefix = "loop:";

    std::string events() const { return prefix + "events"; }
    std::string stats() const { return prefix + "stats"; }
    std::string session(const std::string& id) const { return prefix + "session:" + id; }
    std::string session_claims(const std::string& id) const {
        return prefix + "session_claims:" + id;
    }
    std::string claim(const std::string& name) const { return prefix + "claim:" + name; }
    std::string fence(const std::string& name) const { return prefix + "fence:" + name; }
    std::string wake(const std::string& name) const { return prefix + "wake:" + name; }
    std::string queue(const std::string& name) const { return prefix + "queue:" + name; }
    std::string host(const std::string& host_key) const { return prefix + "host:" + host_key; }
    std::string keeper(const std::string& host_key) const { return prefix + "keeper:" + host_key; }
    std::string supervisor(const std::string& id) const { return prefix + "supervisor:" + id; }
    std::string supervisors() const { return prefix + "supervisors"; }
    std::string supervisors_last() const { return prefix + "supervisors_last"; }
};

// Who asks: a session id and the nonce of its incarnation.
struct Caller {
    std::string session;
    std::string nonce;
};

enum class PutResult { Created, Refreshed, Exists };
// Records `s` (its nonce must be set) with PEXPIRE `ttl_ms`.
PutResult session_put(RedisClient& c, const Keys& k, const SessionRecord& s, int64_t ttl_ms);
// False when the session is gone (or another incarnation holds the id).
bool session_heartbeat(RedisClient& c, const Keys& k, const Caller& who, int64_t ttl_ms);

struct SessionEnd {
    enum class Status { Ended, Gone, OtherIncarnation } status = Status::Ended;
    std::vector<std::string> released;
};
struct SessionEndOptions {
    // The names the session is known to hold (the claim index is not read
    // first); any other the index lists is released too.
    std::optional<std::vector<std::string>> names;
    std::string drop_host;   // a host whose keeper's set the session leaves ("" : none)
    bool quiet_gone = false; // no session.ended for a key that was never stored
};
SessionEnd session_end(RedisClient& c, const Keys& k, const Caller& who,
                       const SessionEndOptions& o = {});

struct AcquireArgs {
    Caller who;
    std::vector<std::string> names; // checked by the caller; duplicates are dropped
    Mode mode = Mode::Exclusive;
    std::vector<std::string> shared_names; // taken shared whatever `mode` is
    int64_t ttl_ms = 0;                    // 0: no claim TTL
    int pid = 0;
    std::string host;
    std::string reason;
    std::map<std::string, std::string> meta;
    // Sessions the caller verified dead on its own host: their holders are
    // taken over (deadness is permanent, so this is no check-then-act).
    std::vector<std::string> dead;
    // The caller's session record (JSON), stored with PEXPIRE create_ttl_ms
    // when its key is missing ("" : never created here).
    std::string create;
    int64_t create_ttl_ms = 0;
    // The host whose keeper looks after the session ("" : none).
    std::string host_key;
    // A call that waits: its ticket in the queue of a name it finds busy
    // (empty id: it does not wait), and the tickets of other waiters of
    // this host it verified dead.
    struct Ticket {
        std::string id;
        int pid = 0;
        uint64_t start_ticks = 0;
        std::string host;
    } ticket;
    std::vector<std::string> dead_tickets;
    // A busy answer counts as a contention (the first try of a call).
    bool contend = false;
    // The caller has not read its session: the script takes the nonce
    // (who.nonce "" : any) and pid from the record and returns the record;
    // the session's keeper is host_key's when its anchor is `here`.
    bool adopt = false;
    struct Here {
        std::string boot_id, machine_id, pid_ns;
    } here;
    // A call that waits: how long it has waited, and the bucket of the
    // wait histogram that falls in (-1: the call does not wait).
    int64_t waited_ms = -1;
    int wait_bucket = 0;
};

struct Grant {
    std::string name;
    uint64_t fence = 0;
    bool already_held = false;
    Mode mode = Mode::Exclusive;
    int64_t acquired_ms = 0;
    int64_t expires_ms = 0; // 0: no TTL
};

struct Busy {
    std::string name;
    Mode mode = Mode::Exclusive;
    Holder holder; // a waiter ahead: its session and pid only
    // Not a holder: a waiter of the other mode queued ahead, with its ticket.
    bool waiting = false;
    std::string ticket_id;
    uint64_t ticket_start_ticks = 0;
    std::string host;
    int64_t holder_pttl_ms = -2; // of the holder's session key (-1 none, -2 unknown)
    int64_t ttl_left_ms = -1;    // until the holder lapses by a TTL (-1: no TTL)
    std::string wake_id;         // XREAD P wake:NAME from here to wait for a release
    std::string holder_session;  // the holder's session record (JSON), "" when gone
};

// An entry of P wake:NAME: a release (or a waiter that left), with the
// waiter it names to go first (next: its ticket id; "" names no one).
struct WakeEntry {
    std::string id;
    std::string next;
    std::string next_mode;
    int next_pid = 0;
    uint64_t next_start_ticks = 0;
    std::string next_host;
};
// XREAD of P wake:NAME after entry `from`, blocking up to `block_ms`; no
// entries when that time passed.
std::vector<WakeEntry> read_wake(RedisClient& c, const Keys& k, const std::string& name,
                                 const std::string& from, int64_t block_ms);

struct AcquireResult {
    enum class Status { Acquired, Busy, NoSession } status = Status::NoSession;
    std::vector<Grant> granted; // sorted by name
    std::optional<Busy> busy;
    bool created = false; // the session key was created
    bool added = false;   // the session is new in P host:HOST
    std::string keeper;   // P keeper:HOST ("PID NONCE"), "" when none runs
    // With `adopt`: the caller's session record as stored (JSON text; ""
    // when its key is missing).
    std::string session;
};

// One attempt (no waiting). Runs the acquire script again, with the
// holders' session keys it asks for, until it decides.
AcquireResult acquire(RedisClient& c, const Keys& k, const AcquireArgs& a);

enum class ReleaseResult { Released, NotHeld, HeldByOther };
struct Released {
    std::string name;
    ReleaseResult result = ReleaseResult::NotHeld;
    std::vector<std::string> sessions; // the holders removed
};
// By owner (`force` false) or every holder (`force`, recorded with who.session).
// With `refused` (and no force): all or nothing; a name with a record the
// caller does not hold stops it, unchanged, with that name in *refused.
std::vector<Released> release(RedisClient& c, const Keys& k, const Caller& who,
                              const std::vector<std::string>& names, bool force = false,
                              std::string* refused = nullptr);

enum class RenewResult { Renewed, Expired, NotHeld, HeldByOther, NoSession };
struct Renewed {
    std::string name;
    RenewResult result = RenewResult::NotHeld;
    int64_t expires_ms = 0;
};
// `ttl_ms` 0: each holder's own TTL.
std::vector<Renewed> renew(RedisClient& c, const Keys& k, const Caller& who,
                           const std::vector<std::string>& names, int64_t ttl_ms = 0);

struct Reaped {
    std::string session;
    uint64_t fence = 0;
    std::string why;
    bool expired = false;
};
// Removes the holders of `name` that are no longer valid (lua/reap.lua):
// `holders` are the sessions of its holders as read, `dead` those verified
// dead on this host.
std::vector<Reaped> reap_name(RedisClient& c, const Keys& k, const std::string& name,
                              const std::vector<std::string>& holders,
                              const std::vector<std::string>& dead);

// A claim with --wait gave up: logs claim.timeout and counts it (`log`),
// and leaves the queues of its names.
struct TimeoutArgs {
    std::vector<std::string> names;
    std::string session;
    int64_t waited_ms = 0;
    std::string name;   // the busy name
    std::string holder; // its holder's session
    std::string ticket; // the caller's ticket id
    bool log = true;
};
void record_timeout(RedisClient& c, const Keys& k, const TimeoutArgs& a);

} // namespace loop::redis
