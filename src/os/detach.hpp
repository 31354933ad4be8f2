// Background helpers started on demand (the Redis backend's host keeper, as
// gpg-agent is): a detached process, and the wait such a helper runs on.
#pragma once

#include "os/fd.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace loop::os {

// Starts `exe` with `argv` in a new session, not a child of this process
// (double fork: it is reparented at once and never a zombie of ours, also
// when this process is a child subreaper: it is not adopted here), stdin
// from /dev/null, stdout and stderr appended to `log_path` (or /dev/null
// when it cannot be opened), no other descriptor, `env` added to the
// environment. Returns once it has been forked; 0 or the errno of fork.
int spawn_detached(const std::string& exe, const std::vector<std::string>& argv,
                   const std::vector<std::pair<std::string, std::string>>& env,
                   const std::string& log_path);

// Waits for a signal (read from a signalfd: blocked from construction on),
// for processes to exit (pidfd) or for a timeout.
class HelperWaiter {
  public:
    explicit HelperWaiter(std::vector<int> signals);
    ~HelperWaiter();
    HelperWaiter(const HelperWaiter&) = delete;
    HelperWaiter& operator=(const HelperWaiter&) = delete;

    // The processes watched: exactly `pids` from now on (pidfds opened for
    // new ones, closed for the others; a pid that cannot be opened is
    // left to the caller's next look).
    void watch(const std::vector<int>& pids);

    struct Wake {
        std::vector<int> signals; // received
        std::vector<int> exited;  // watched processes that exited
    };
    // Blocks up to `timeout_ms` (-1: forever).
    Wake wait(int timeout_ms);

  private:
    Fd sigfd_;
    std::vector<int> signals_;
    std::map<int, Fd> pidfds_;
};

// Sleeps `ms` milliseconds (restarted on EINTR).
void sleep_ms(int ms);

// Sends `sig` to `pid`; false when it cannot (gone, not ours).
bool send_signal(int pid, int sig);
// True when no process `pid` runs: none exists (ESRCH), or it is a zombie
// nobody reaped yet. One of another user runs.
bool process_gone(int pid);

} // namespace loop::os
