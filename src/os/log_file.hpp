// The files a log writer writes: logs/<name> appended to, rotated by
// rename to <name>.1, <name>.2, ... (the oldest beyond `keep` removed),
// under an flock of logs/.<name>.lock so that two writers of the same
// name (an incarnation's and its successor's, for a moment) never rotate
// at once nor rotate each other's file away twice.
#pragma once

#include "os/fd.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace loop::os {

class LogFile {
  public:
    // Opens (creates) `name` in the directory `dir` (not following a
    // symlink). 0 or the errno.
    int open(const std::string& dir, const std::string& name);

    uint64_t size() const { return size_; }
    // The file is not empty and its last byte is not '\n' (a torn line).
    bool torn() const { return torn_; }

    // Appends all of `data` (one write(2) unless it is interrupted). 0 or
    // the errno.
    int write(std::string_view data);

    // Renames the file to .1 (shifting the older ones, keeping `keep`) and
    // opens a new one; when another writer rotated it since it was opened,
    // only opens the new one. *size: the bytes already in the file now
    // written to. 0 or the errno (the current file is kept then).
    int rotate(int keep, uint64_t* size);

  private:
    int reopen();
    Fd dir_, fd_;
    std::string name_;
    uint64_t size_ = 0;
    bool torn_ = false;
};

// For readers of the logs: a regular file opened for reading relative to
// `dir`, not following a symlink, never blocking (ELOOP, EINVAL for what is
// not a regular file).
Fd open_log_read(int dir, const std::string& name, int* err);
struct FileId {
    bool ok = false;
    uint64_t dev = 0, ino = 0, size = 0;
    bool operator==(const FileId& o) const { return ok && o.ok && dev == o.dev && ino == o.ino; }
};
FileId file_id(int fd);
FileId file_id_at(int dir, const std::string& name);
// pread(2) retried on EINTR: bytes read, 0 at the end, -1 on error.
long read_at(int fd, char* buf, size_t n, uint64_t offset);

// read(2) retried on EINTR: bytes read, 0 at end of file, -1 on error.
long read_some(int fd, char* buf, size_t n);

} // namespace loop::os
