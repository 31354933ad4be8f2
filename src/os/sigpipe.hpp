// Writes to a socket whose peer went away, without dying of SIGPIPE and
// without changing what the process does on SIGPIPE elsewhere: a pipe to
// `head` still ends `loop events --follow`, and a command that `with` starts
// inherits the default action.
#pragma once

#include <signal.h>

namespace loop::os {

// While it lives, SIGPIPE is blocked in this thread; one raised meanwhile
// is taken back when it ends (the write failed with EPIPE instead).
class SigpipeBlocked {
  public:
    SigpipeBlocked();
    ~SigpipeBlocked();
    SigpipeBlocked(const SigpipeBlocked&) = delete;
    SigpipeBlocked& operator=(const SigpipeBlocked&) = delete;

  private:
    sigset_t old_mask_;
    bool was_pending_ = false;
};

} // namespace loop::os
