// Files and directories named by a path the user gave (a playbook, the
// directories it names, the working directory). Unlike fs.hpp, these
// follow symlinks, as the user's own tools would.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace loop::os {

// Whether `path` (symlinks followed) is a directory. False with *err = 0
// when it is something else, false with *err = errno when it cannot be
// stat'ed (ENOENT when it does not exist).
bool is_directory(const std::string& path, int* err);

// Whether this process may read `path` (access(2) with R_OK).
bool readable(const std::string& path);

// The working directory, or "" when it cannot be told.
std::string current_dir();

// Reads the whole regular file at `path` (symlinks followed) in 64 KiB
// reads, stopping once more than `max_bytes` were read. Returns nullopt and
// sets *err: an errno when it cannot be opened or read, kIsDirectory for a
// directory, kNotRegularFile for anything else that is not a regular file,
// kLargerThanMax when it holds more than `max_bytes`.
constexpr int kIsDirectory = 0x10100;
constexpr int kNotRegularFile = 0x10101;
constexpr int kLargerThanMax = 0x10102;
std::optional<std::string> read_whole_file(const std::string& path, int* err, uint64_t max_bytes);

} // namespace loop::os
