// Starting the log writer of a worker incarnation: this executable
// (`loop _ log-writer ...`) in its own session and process group (not the
// worker's: the liveness of the worker's group decides when its claims
// go), reading a new pipe on its stdin; the write end is what the worker
// gets as stdout and stderr.
#pragma once

#include "os/fd.hpp"

#include <string>
#include <vector>

namespace loop::os {

struct LogWriterProcess {
    int pid = -1;
    int err = 0; // why it could not be started (pid < 0)
    Fd output;   // the pipe's write end (close-on-exec)
};

// Runs /proc/self/exe with `argv` (argv[0] included), stdin the pipe's read
// end, stdout and stderr /dev/null, no other descriptor, an empty
// environment, signals at their defaults. Returns once it has been exec'd.
LogWriterProcess start_log_writer(const std::vector<std::string>& argv);

} // namespace loop::os
