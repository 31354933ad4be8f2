// Filesystem facts and changes that only the home check needs: a file's
// type, mode, owner and size; chmod of a directory; renames that never
// replace; truncation. Like fs.hpp, everything is relative to an open
// directory, never follows symlinks and returns errno-style results.
#pragma once

#include "os/fs.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace loop::os {

struct FileFacts {
    enum class Type { File, Directory, Symlink, Other } type = Type::Other;
    unsigned mode = 0; // permission bits (07777)
    unsigned uid = 0;
    int64_t size = 0;
    int64_t mtime_ms = 0;
};

// fstatat(AT_SYMLINK_NOFOLLOW); `name` "" describes `dir` itself. nullopt
// and *err on failure (ENOENT when absent).
std::optional<FileFacts> facts_at(int dir, const std::string& name, int* err);

// The effective uid of this process.
unsigned effective_uid();

// Sets the permission bits of directory `name` in `dir` ("" for `dir`
// itself) without following a symlink.
Status chmod_dir_at(int dir, const std::string& name, unsigned mode);

// mkdir relative to `dir`; an existing directory is success.
Status make_dir_at(int dir, const std::string& name, unsigned mode);

// Renames, failing with EEXIST instead of replacing an existing target.
Status rename_noreplace_at(int from_dir, const std::string& from, int to_dir,
                           const std::string& to);

// Renames, replacing an existing target.
Status rename_at(int from_dir, const std::string& from, int to_dir, const std::string& to);

// Truncates an open file to zero bytes.
Status truncate_fd(int fd);

} // namespace loop::os
