// The log writer of a worker incarnation (`loop _ log-writer`): it reads
// the pipe that is the worker's stdout and stderr and appends its lines to
// logs/<session>.log, each with an RFC 3339 UTC prefix when asked,
// rotating by rename when the size is reached. It is its own process
// (its own session and process group), so the worker's output is kept
// when the supervisor dies, and it ends at the end of the pipe (when every
// process that had the worker's output has closed it).
//
// Lines are written as they come (a read, at most one write per read); a
// file is rotated before a line that would take it past log_max_size, so
// that a line is not split across files, unless it is longer than that:
// no file grows past twice log_max_size (a longer line goes on in the next
// file, without a prefix: concatenated in order, the files are the output).
#pragma once

#include "core/supervisor/playbook.hpp"

#include <cstdint>
#include <string>
#include <string_view>

namespace loop {

// Where a LogWriter's bytes go (a file, in tests a string).
class LogSink {
  public:
    virtual ~LogSink() = default;
    // Appends all of `data`: 0 or an errno.
    virtual int write(std::string_view data) = 0;
    // Starts a new file: 0 (and *size: the bytes already in it) or an errno.
    virtual int rotate(uint64_t* size) = 0;
};

class LogWriter {
  public:
    // `size`: the bytes already in the sink's file; `torn`: its last line
    // has no '\n' (it is ended before anything else is written).
    LogWriter(LogSink& sink, const LogSettings& settings, uint64_t size, bool torn);

    // What one read returned, read at `now_ms` (the prefix of the lines
    // that start in it).
    void feed(std::string_view data, int64_t now_ms);
    // At the end of the input: a last line without '\n' is ended.
    void finish();

    uint64_t lost() const { return lost_total_; } // bytes that could not be written

  private:
    uint64_t filled() const { return size_ + out_.size(); }
    void flush();
    void rotate_now();

    LogSink& sink_;
    LogSettings settings_;
    uint64_t size_ = 0;  // in the current file
    uint64_t limit_ = 0; // rotate before a line that would take it past this
    bool mid_line_ = false;
    std::string out_;
    int64_t stamp_ms_ = -1;
    std::string stamp_;
    uint64_t lost_ = 0, lost_total_ = 0; // lost_: not yet reported in the log
    int lost_err_ = 0;
};

// Runs a writer on input `fd` until its end: logs/`name` in `dir`.
// Returns the exit status (0; 3 when the log cannot be opened).
int run_log_writer(int fd, const std::string& dir, const std::string& name,
                   const LogSettings& settings);

} // namespace loop
