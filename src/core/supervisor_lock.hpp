// One supervisor per home: supervisor.lock is flock'ed by the running
// supervisor and holds its pid, start time and when it started. The lock
// dies with the process, so a SIGKILLed supervisor leaves nothing stale.
#pragma once

#include "core/home.hpp"
#include "core/liveness.hpp"
#include "os/fd.hpp"

#include <optional>

namespace loop {

struct SupervisorInfo {
    Anchor anchor;
    int64_t started_ms = 0;
    bool running = false; // its anchor is alive
};

class SupervisorLock {
  public:
    // Takes the lock or throws Error(Busy) naming the running supervisor.
    explicit SupervisorLock(Home& home);

  private:
    os::Fd fd_;
};

// What supervisor.lock says, without taking it; nullopt when there is none.
std::optional<SupervisorInfo> read_supervisor(Home& home, const ProcessProbe& probe);

} // namespace loop
