// Unix stream sockets named by a directory descriptor and a name, for the
// supervisor's control channel. A name whose full path would not fit in
// sun_path (108 bytes) is reached through /proc/self/fd/DIRFD/NAME.
#pragma once

#include "os/doctor_fs.hpp"
#include "os/fd.hpp"
#include "os/fs.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace loop::os {

// A listening socket (non-blocking, close-on-exec, owner-only) at `name` in
// `dir` (whose path is `dir_path`). A socket left there by an earlier
// process is replaced; anything else there is refused (EEXIST).
Fd listen_unix(int dir, const std::string& dir_path, const std::string& name, int* err);

// A blocking, close-on-exec connection to the socket at `name` in `dir`.
Fd connect_unix(int dir, const std::string& dir_path, const std::string& name, int* err);

// Removes `name` from `dir` when it is a socket.
void unlink_socket_at(int dir, const std::string& name);

// The uid of the process at the other end of a connected unix socket.
std::optional<unsigned> peer_uid(int fd);

// Writes all of `data` (no SIGPIPE: a gone peer is EPIPE).
Status send_all(int fd, std::string_view data);

// Reads until a newline (returned without it), EOF (nullopt, *err = 0) or
// `max` bytes (nullopt, *err = EMSGSIZE); waits at most `timeout_ms` in all
// (-1: no limit; then *err = ETIMEDOUT).
std::optional<std::string> read_line(int fd, size_t max, int timeout_ms, int* err);

} // namespace loop::os
