// Running a child command and passing signals on to it (`loop _ with`).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace loop::os {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// Starts argv[0] (searched in PATH) with `env` added to the environment.
// The child is killed (SIGKILL) if this process dies, so it never runs on
// after the claims it was given are gone. Returns the pid, or -1 with *err
// (the exec error of the child, e.g. ENOENT).
int spawn_guarded(const std::vector<std::string>& argv, const EnvVars& env, int* err);

// Waits for `pid`, passing SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to this
// process on to it (signals the terminal already sent to the whole process
// group are not sent twice). Returns the wait status.
int wait_forwarding_signals(int pid);

// Shell convention: exit code, or 128 + signal number.
int exit_code_of(int wait_status);

} // namespace loop::os
