// Reading the workers' logs (`loop logs`): each replica's files under
// logs/, <id>.log.K ... <id>.log.1 then the live <id>.log, read as one
// stream in that order (the log writer's rotation keeps them so: a file
// ends with a whole line, unless a line longer than log_max_size goes on
// in the next one).
#pragma once

#include "os/fd.hpp"
#include "os/log_file.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace loop {

// A replica's log files, found in the entries of logs/.
struct LogSet {
    std::string label;  // "indexer.2"
    std::string worker; // "indexer"
    int replica = 0;
    std::string live;                 // the live file's name: "indexer.2.log"
    std::vector<std::string> rotated; // newest first: "indexer.2.log.1", ".2", ...
};

// What `loop logs` is given: "WORKER" (replica 0: every one) or
// "WORKER.N"; nullopt when it is neither.
struct LogTarget {
    std::string worker;
    int replica = 0;
};
std::optional<LogTarget> parse_log_target(const std::string& text);

// The sets among `names` (the entries of logs/) of `target`, by replica;
// every set when `target` is nullopt.
std::vector<LogSet> log_sets(const std::vector<std::string>& names,
                             const std::optional<LogTarget>& target);

// The most a tail holds (a longer run without a line end is cut at the front).
constexpr size_t kMaxTailBytes = 64u << 20;

// One replica's logs, read in order, then followed.
class LogStream {
  public:
    LogStream(int dir, LogSet set) : dir_(dir), set_(std::move(set)) {}

    const LogSet& set() const { return set_; }

    // The last `n` lines (without their '\n') of the set's files. A last
    // line without '\n' is one of them, unless `hold_partial`: then it is
    // the start of a line next() gives. Leaves the stream at the end.
    std::vector<std::string> tail(size_t n, bool hold_partial);

    // The lines completed since, from the live file and, once it was
    // rotated, from the new one.
    std::vector<std::string> next();
    // What next() has not given: a last line without its '\n' yet.
    const std::string& partial() const { return partial_; }

    // Whether the live file is another one than at the last call (a watch
    // on it is to be added).
    bool take_reopened() {
        bool r = reopened_;
        reopened_ = false;
        return r;
    }

  private:
    bool open_live();
    bool open_file(const std::string& name); // the one read from now on, from its start
    void drain_live();
    std::vector<std::string> take_lines();

    int dir_;
    LogSet set_;
    os::Fd live_; // the file being read (the live one, or one rotated since)
    os::FileId live_id_;
    uint64_t offset_ = 0;
    std::string partial_;
    bool reopened_ = false;
};

} // namespace loop
