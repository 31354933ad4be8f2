// One supervisor per home: supervisor.lock is flock'ed by the running
// supervisor and holds its pid, start time and when it started, and on a
// second line (JSON) the last reload it refused. The lock dies with the
// process; a supervisor that stops empties the file.
#pragma once

#include "core/home.hpp"
#include "core/sessions/liveness.hpp"
#include "os/fd.hpp"

#include <optional>
#include <string>

namespace loop {

struct SupervisorInfo {
    Anchor anchor;
    int64_t started_ms = 0;
    bool running = false; // its anchor is alive
    // The last reload it refused, until one succeeds (0 / "" when none).
    int64_t reload_failed_ms = 0;
    std::string reload_failed_reason;
};

class SupervisorLock {
  public:
    // Takes the lock or throws Error(Busy) naming the running supervisor.
    explicit SupervisorLock(Home& home);
    // Empties the file: a supervisor that stopped leaves nothing stale.
    ~SupervisorLock();
    SupervisorLock(const SupervisorLock&) = delete;
    SupervisorLock& operator=(const SupervisorLock&) = delete;

    // Records (ms > 0) or clears (ms == 0) a refused reload and its reason.
    void note_reload_failed(int64_t ms, const std::string& reason);

  private:
    void write(const std::string& extra);
    os::Fd fd_;
    std::string first_line_;
    std::string home_path_;
};

// What supervisor.lock says, without taking it; nullopt when there is none.
std::optional<SupervisorInfo> read_supervisor(Home& home, const ProcessProbe& probe);

} // namespace loop
