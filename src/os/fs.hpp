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

// Who owns an open directory and whether others may write to it.
struct DirOwner {
    unsigned uid = 0;
    unsigned mode = 0; // permission bits
    bool is_dir = false;
};
// One fstat(2) of `fd`, plus the effective uid to compare with.
Status owner_of(int fd, DirOwner* out, unsigned* euid);

// mkdirat(2); EEXIST is reported as such.
Status make_subdir_at(int dir, const std::string& name, unsigned mode);

// mkdir -p with the given mode for every created component.
Status make_dirs(const std::string& path, unsigned mode);

// Opens a directory (absolute path or relative to `dir`), no symlink follow
// for the last component when `nofollow`.
Fd open_dir(int dir, const std::string& path, int* err, bool nofollow = true);

// The largest record loop reads whole (claims, sessions, markers).
constexpr uint64_t kMaxRecordBytes = 1 << 20;

// Reads a whole small regular file relative to `dir`, never blocking (a
// FIFO is opened O_NONBLOCK and refused) and never reading more than
// `max_bytes`. Returns nullopt and sets *err: ENOENT when absent, ELOOP
// for a symlink, kNotRegular when it is not a regular file, kTooLarge when
// it is larger than `max_bytes`.
// Not errno values: pass read errors to read_error_text, not strerror.
constexpr int kNotRegular = 0x10000;
constexpr int kTooLarge = 0x10001;
std::optional<std::string> read_file_at(int dir, const std::string& name, int* err,
                                        uint64_t max_bytes = kMaxRecordBytes);

// What an error of read_file_at means, for a message: strerror, or
// "not a regular file", "larger than ...".
std::string read_error_text(int err, uint64_t max_bytes = kMaxRecordBytes);

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
// With `read_only`, an existing lock file on a read-only filesystem is
// opened for reading only, and *read_only set.
Fd open_lock_file(int dir, const std::string& name, int* err, bool* read_only = nullptr);

// flock(LOCK_EX). Retries on EINTR. Returns the errno on failure
// (ENOLCK, EOPNOTSUPP on filesystems that cannot lock).
Status lock_exclusive(int fd);
Status lock_shared(int fd);
// Non-blocking exclusive lock: EWOULDBLOCK when held elsewhere.
Status try_lock_exclusive(int fd);

// What was appended to the file at `path` (not following a symlink) from
// byte `offset` on; `*size` is the file's size when it was opened (smaller
// than `offset`: it was truncated or replaced). nullopt when it cannot be
// opened.
std::optional<std::string> read_from(const std::string& path, long long offset, long long* size);

// Reads the whole of a small regular file from offset 0 / writes a small
// fixed-position text at offset 0.
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

// Appends one record (or several whole lines) with a single write(2) to an
// O_APPEND file. When the write before it was torn (no '\n' at its end),
// the record is written once more after it, so that it stands whole on a
// line of its own; the torn line, with the first copy, stays one bad line.
Status append_line_at(int dir, const std::string& name, std::string_view line);

// Age in milliseconds of a file's last modification, or nullopt.
std::optional<long long> mtime_ms_at(int dir, const std::string& name);

bool is_directory_at(int dir, const std::string& name);

// Whether `name` exists in `dir`; *err is set (and false returned) when
// that cannot be told (anything but ENOENT).
bool exists_at(int dir, const std::string& name, int* err);

} // namespace loop::os
