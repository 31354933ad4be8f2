// A file read as it grows (the event log under `loop events --follow`).
#pragma once

#include "os/fd.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace loop::os {

// Reads a file from byte 0 on, and then only what was appended since the
// last read. The file is opened once it exists and kept open.
class FileTail {
  public:
    explicit FileTail(std::string path) : path_(std::move(path)) {}

    // Opens the file if it is not open yet (no symlink followed, a FIFO
    // never waited on). True when it is open; false with *err = 0 when it
    // does not exist (yet), false with *err = errno when it cannot be opened.
    bool open(int* err);

    // Hands `chunk` the bytes appended since the last call, in pieces of at
    // most 64 KiB as they are read. When the file is now shorter than what
    // was read of it (truncated), it is read again from byte 0. A read error
    // ends the pass quietly; the next call tries again. Nothing when the
    // file is not open.
    void read_new(const std::function<void(std::string_view)>& chunk);

    bool is_open() const { return fd_.valid(); }
    // How far the file has been read.
    uint64_t offset() const { return offset_; }

  private:
    std::string path_;
    Fd fd_;
    uint64_t offset_ = 0;
};

} // namespace loop::os
