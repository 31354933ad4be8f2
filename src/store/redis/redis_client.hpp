// A small synchronous Redis client over hiredis, for the Redis backend
// (SPEC section 6): one connection, AUTH and SELECT on connect, a command
// timeout, and EVALSHA with a fall-back to SCRIPT LOAD.
//
// Every failure (refused, timeout, wrong password, READONLY, OOM, LOADING, a
// script's -ERR) is Error(Exit::Failure, "redis ENDPOINT: REASON"), where
// ENDPOINT is HOST:PORT or the socket path; a message never holds the
// password. After an I/O error or timeout the connection is closed and every
// later call fails: a reply that came late is never taken for the next one.
//
// Key layout of the Redis backend, all under the URL's prefix P (default
// "loop:"); the scripts in lua/ are the only writers:
//
//   P session:ID           string: the session's JSON record (core/records.hpp
//                          shape: id, nonce, host identity, pid, ttl_ms), PEXPIRE
//                          session_ttl, refreshed by heartbeat only while the
//                          nonce matches. A holder is valid only while its
//                          session key exists with the holder's nonce.
//   P session_claims:ID    set of the names the session took (a hint for
//                          session_end; may hold names since released), same
//                          expiry as the session key.
//   P claim:NAME           string: the claim's JSON record {name, mode,
//                          holders: [{session, nonce, pid, host, fence,
//                          acquired_ms, expires_ms, ttl_ms, reason, meta}]}
//                          (times in ms of the server's clock); deleted when
//                          the last holder goes.
//   P fence:NAME           integer: the last fence given for NAME. The next is
//                          max(INCR, server time in µs), stored back, so fences
//                          still increase when the counter is lost (FLUSHALL,
//                          restart without persistence), unless the server's
//                          clock steps back.
//   P wake:NAME            stream: one entry per release of NAME (XADD MAXLEN ~
//                          100, PEXPIRE 60 s). A waiter blocks with XREAD BLOCK
//                          from the id a busy acquire returned (wake_id), so a
//                          release between its try and its wait is not missed.
//   P queue:NAME           hash: the waiters of NAME, ticket id -> JSON {seq,
//                          mode, session, pid, start_ticks, host, seen_ms}
//                          (lua/acquire.lua; PEXPIRE 60 s from its last write).
//   P host:HOST            set of the anchored sessions of host HOST (its
//                          identity key, host_identity.hpp) that its keeper
//                          heartbeats; added by acquire, dropped by the keeper.
//   P keeper:HOST          "PID NONCE" of the keeper of HOST while it runs,
//                          PEXPIRE session_ttl (keeper.hpp).
//   P supervisor:ID        hash: the record of the supervisor of one home on one
//                          host (ID: host key "." home hash; core/supervisor/fleet_record.hpp
//                          fields), PEXPIRE 3 heartbeat periods, written whole by
//                          each heartbeat (lua/supervisor_put.lua), deleted on a
//                          clean stop (lua/supervisor_drop.lua).
//   P supervisors          sorted set: supervisor ID -> its last heartbeat (ms),
//                          the index `loop status` reads (no SCAN); an ID not
//                          heard of for a day is dropped by the next heartbeat.
//   P supervisors_last     hash: supervisor ID -> its summary (JSON: host, pid,
//                          started_ms, stopped_ms after a clean stop), shown once
//                          its record is gone.
//   P events               stream, capped (XADD MAXLEN ~ 10000): one entry per
//                          state change, fields `event` (claim.acquired, ...)
//                          and `data` (a JSON object with ts_ms and the
//                          event's fields, as in events.jsonl).
//   P stats                hash: the counters of `loop metrics`, never capped
//                          or expired: "COUNTER|TYPE|WORKER" (acquisition,
//                          release, contention, timeout, reaped_dead,
//                          reaped_ttl, forced), "restarts|WORKER", "wait|I"
//                          (acquisitions after waiting in bucket I of the
//                          wait histogram), wait_count, wait_sum_ms; and the
//                          label values seen ("type:T", "worker:W", counted
//                          in types and workers, at most 50 each).
#pragma once

#include "store/redis/backend_url.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace loop::redis {

namespace lua {
struct Script;
}

// A reply, copied out of hiredis.
struct Value {
    enum class Type { Nil, Integer, String, Status, Array };
    Type type = Type::Nil;
    int64_t integer = 0;
    std::string str; // String and Status
    std::vector<Value> elements;

    bool is_nil() const { return type == Type::Nil; }
};

class RedisClient {
  public:
    // Connects within the URL's connect timeout, then AUTH (when the URL has
    // a user or a password) and SELECT (db other than 0). Commands time out
    // after `command_timeout_ms` (0: the connect timeout).
    explicit RedisClient(const BackendUrl& url, int64_t command_timeout_ms = 0);
    ~RedisClient();
    RedisClient(const RedisClient&) = delete;
    RedisClient& operator=(const RedisClient&) = delete;

    // One command; an error reply throws.
    Value command(const std::vector<std::string>& argv);
    // A command the server may hold up to `block_ms` (XREAD BLOCK): the
    // reply is awaited that long plus the usual timeout.
    Value command_blocking(const std::vector<std::string>& argv, int64_t block_ms);
    // EVALSHA of the embedded script; on NOSCRIPT loads it (SCRIPT LOAD) and
    // retries once.
    Value eval(const lua::Script& script, const std::vector<std::string>& keys,
               const std::vector<std::string>& args);

    const std::string& endpoint() const { return endpoint_; }
    const BackendUrl& url() const { return url_; }

  private:
    struct Context;
    [[noreturn]] void fail(const std::string& reason);
    Value send(const std::vector<std::string>& argv, bool throw_on_error_reply);

    BackendUrl url_;
    std::string endpoint_;
    int64_t command_timeout_ms_ = 0;
    std::unique_ptr<Context> ctx_;
};

} // namespace loop::redis
