// Blocking wait on changes and process exits: doorbells (os/bell.hpp),
// inotify and pidfds. `claim --wait` listens to doorbells and pidfds, so
// that a waiter wakes within milliseconds of a release or of the holder's
// death instead of polling, and exits without an inotify instance to tear
// down; long-running watchers use inotify.
#pragma once

#include "os/fd.hpp"

#include <string>
#include <vector>

namespace loop::os {

class ChangeWaiter {
  public:
    // Starts watching the directories (entries created, renamed in, removed).
    // Returns false and sets *err when inotify is unavailable.
    bool watch_dirs(const std::vector<std::string>& paths, int* err);

    // Also wakes when the file is written to (for following a log).
    bool watch_file(const std::string& path, int* err);

    // Also wakes when the file's content changes (written, truncated,
    // removed). Watching it again is a no-op.
    bool watch_content(const std::string& path, int* err);

    // Wakes when the doorbell `file` in `dir` rings (os/bell.hpp); wait()
    // listens again to a bell that rang before it returns. False and *err
    // when the bell cannot be listened to.
    bool watch_bell(int dir, const std::string& file, int* err);

    // From now on wait() leaves a bell that rang silent instead of
    // listening to it again: the caller listens again (watch_bell) before
    // it looks, under the lock its ringers ring under, so that no ring is
    // missed, and a look that finds what it waited for costs nothing more.
    void listen_again_by_caller() { relisten_ = false; }

    // Wakes when one of these processes exits (pidfd). Pids that cannot be
    // opened are ignored: the caller's periodic re-check covers them.
    void watch_pids(const std::vector<int>& pids);

    // Only changes of entries with these names wake wait() (empty: any);
    // with `removals_only`, only their removal (a release, a session end)
    // does, not their replacement (a new holder, a heartbeat).
    void only_names(std::vector<std::string> names, bool removals_only = false) {
        names_ = std::move(names);
        removals_only_ = removals_only;
    }

    // For a caller's own poll loop: the inotify descriptor (-1: none), and
    // whether what it read from it is a change of interest (drains it).
    int fd() const { return inotify_.get(); }
    bool take_changes() { return inotify_ && drain_matches(); }

    // Blocks up to timeout_ms (-1: forever) until something changed.
    // Returns true when woken by a change, false on timeout.
    bool wait(int timeout_ms);

  private:
    bool drain_matches();

    struct Bell {
        int dir;
        std::string file;
        Fd fd;
    };

    Fd inotify_;
    std::vector<Bell> bells_;
    std::vector<Fd> pidfds_;
    std::vector<int> pids_;
    std::vector<std::string> names_;
    std::vector<std::string> content_paths_;
    bool removals_only_ = false;
    bool relisten_ = true;
};

} // namespace loop::os
