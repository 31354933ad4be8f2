// Filesystem primitives, all relative to an open directory and never
// following symlinks. Functions return errno-style results rather than
// throwing: the core decides what an error means.
#pragma once

#include "os/fd.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace loop::os {

// Result of an operation that may fail with an errno value (0 = success).
struct Status {
    int err = 0;
    bool ok() const { return err == 0; }
};

// mkdir -p with the given mode for every created component.
Status make_dirs(const std::string& path, unsigned mode);

// Opens a directory (absolute path or relative to `dir`), no symlink follow
// for the last component when `nofollow`.
Fd open_dir(int dir, const std::string& path, int* err, bool nofollow = true);

// Reads a whole small file relative to `dir`. Returns nullopt and sets *err
// (ENOENT when absent).
std::optional<std::string> read_file_at(int dir, const std::string& name, int* err);

// Writes `data` under a temp name in `dir`, then renames it over `name`:
// readers see the old or the new content, never a partial one.
Status replace_file_at(int dir, const std::string& name, std::string_view data);

// Writes `data` under a temp name, then link(2)s it to `name`: fails with
// EEXIST when `name` exists. The temp name is always removed.
Status create_file_at(int dir, const std::string& name, std::string_view data);

Status unlink_at(int dir, const std::string& name);

// Names in a directory, without "." and "..".
std::vector<std::string> list_dir(int dir, int* err);

// Opens (creating if needed) a lock file relative to `dir` for read/write.
Fd open_lock_file(int dir, const std::string& name, int* err);

// flock(LOCK_EX). Retries on EINTR. Returns the errno on failure
// (ENOLCK, EOPNOTSUPP on filesystems that cannot lock).
Status lock_exclusive(int fd);
Status lock_shared(int fd);
// Non-blocking exclusive lock: EWOULDBLOCK when held elsewhere.
Status try_lock_exclusive(int fd);

// Reads/writes a small fixed-position text at offset 0.
std::optional<std::string> pread_all(int fd, int* err);
Status pwrite_all(int fd, std::string_view data);
// Replaces the whole contents of `fd` in place, so that a reader never
// finds it empty (the first bytes of the new text are there at once).
Status replace_contents(int fd, std::string_view data);
// Writes all of `data` at `offset`.
Status pwrite_at(int fd, std::string_view data, uint64_t offset);
// Cuts (or extends) the file to `size` bytes.
Status set_size(int fd, uint64_t size);
// fsync(2): the file's data, or a directory's entries, are on the disk.
Status sync_fd(int fd);

// Appends one record with a single write(2) to an O_APPEND file.
Status append_line_at(int dir, const std::string& name, std::string_view line);

// Age in milliseconds of a file's last modification, or nullopt.
std::optional<long long> mtime_ms_at(int dir, const std::string& name);

bool is_directory_at(int dir, const std::string& name);

// Whether `name` exists in `dir`; *err is set (and false returned) when
// that cannot be told (anything but ENOENT).
bool exists_at(int dir, const std::string& name, int* err);

} // namespace loop::os
