// Where claims and sessions live: the file backend under the home, or a
// shared Redis (SPEC section 6). Parsed from --backend, $LOOP_BACKEND or the
// home's config.json:
//
//   file (or empty)
//   redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?prefix=P&session_ttl=DUR&connect_timeout=DUR]
//   redis+unix://[[USER]:PASSWORD@]/PATH.sock[?db=N&prefix=P&session_ttl=DUR&connect_timeout=DUR]
//
// The password never appears in a message or in redacted().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loop::redis {

enum class BackendKind { File, Redis };

struct BackendUrl {
    BackendKind kind = BackendKind::File;
    std::string host;        // TCP; "" for a unix socket
    int port = 6379;         // TCP
    std::string socket_path; // unix socket; "" for TCP
    int db = 0;
    std::string user;     // ACL user; "" = the default user
    std::string password; // "" = no AUTH (unless a user is given)
    std::string prefix = "loop:";
    int64_t session_ttl_ms = 30'000;
    int64_t connect_timeout_ms = 2'000;

    bool is_unix() const { return !socket_path.empty(); }
    // "HOST:PORT" ("[::1]:6379") or the socket path: how messages name the server.
    std::string endpoint() const;
    // The URL without the password: redis://user:***@host:6379/0?prefix=loop:&session_ttl=30s
    std::string redacted() const;
};

// Throws Error(Usage) naming what is wrong (never the password). A URL
// without a password takes `env_password` when it is non-null and non-empty
// (the caller passes $LOOP_REDIS_PASSWORD).
BackendUrl parse_backend_url(std::string_view text, const char* env_password);
// The same, with `env_password` from $LOOP_REDIS_PASSWORD.
BackendUrl parse_backend_url(std::string_view text);

} // namespace loop::redis
