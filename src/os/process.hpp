// Running the COMMAND of `loop _ with`: in a process group of its own, held
// at a gate until the caller has recorded that group, with its orphans
// reaped here (child subreaper) and signals passed on to the group.
#pragma once

#include "os/fd.hpp"

#include <signal.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace loop::os {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

class GroupChild {
  public:
    // Becomes a child subreaper and forks argv[0] (searched in PATH at
    // exec) into a new process group whose id is its pid. The child waits
    // at a gate until start(), so that the caller may take claims and
    // record the group first; it is killed (SIGKILL) if this process dies,
    // and exits if this process dies before start(). Signals are left as
    // they are until start() (a wait for claims stays interruptible).
    // pid() < 0 and err() set on failure.
    explicit GroupChild(const std::vector<std::string>& argv);
    ~GroupChild(); // takes the terminal back; a child never started is killed
    GroupChild(const GroupChild&) = delete;
    GroupChild& operator=(const GroupChild&) = delete;

    int pid() const { return pid_; }
    int err() const { return err_; }

    // Blocks SIGCHLD and the forwarded signals (SIGINT, SIGTERM, SIGHUP,
    // SIGQUIT: read from a signalfd from now on, so none is lost) and lets
    // the child exec with `env` added to the environment; on a terminal
    // this process has in the foreground, the terminal goes to the child's
    // group first. Does not wait for the exec: the caller may go on with
    // its own work (the claims' bookkeeping) while the child starts. False
    // with err() when the gate could not be opened (then the child never
    // runs).
    bool open_gate(const EnvVars& env);
    // After open_gate: sleeps until the child has exec'd, or for at most
    // `max_ms`, and reads nothing (started() does). The child, woken onto
    // this CPU, runs at once instead of after the caller's next steps;
    // the bound keeps a slow exec (a binary on a hung network filesystem)
    // from holding the caller up for longer.
    void yield_to_exec(int max_ms);
    // After open_gate: waits until the child has exec'd. False with err()
    // (the exec error, e.g. ENOENT) when it could not run, or when the
    // gate was never opened; then the child is reaped.
    bool started();

    // Waits until the command exits (true), `timeout_ms` passes (-1:
    // forever) or `extra_fd` (-1: none) is readable (false). Meanwhile
    // passes signals on to the group (a terminal's signal is not passed on
    // to a group that has the terminal: it got it already), reaps orphans
    // and follows the command when it is stopped from the terminal.
    bool wait(int timeout_ms, int extra_fd);

    bool exited() const { return exited_; }
    int status() const { return status_; } // wait status, once exited()

    // Stops everything left of the group and of the orphans this process
    // adopted: SIGTERM (and SIGCONT), SIGKILL after `grace_ms`, and
    // returns once none of them is left (all reaped). The command itself
    // is included when it still runs.
    void stop_all(int grace_ms);

    // Orphans this process adopted for which `spared` is true are not
    // stopped by stop_all, nor waited for (e.g. a daemon started from inside
    // the command, such as the host keeper, which outlives it).
    void spare(std::function<bool(int pid)> spared) { spared_ = std::move(spared); }

  private:
    void reap();
    bool arm_signals();
    void on_signal(int sig, int code);
    void take_terminal_back();
    bool anything_left() const;
    void signal_all(int sig) const;

    int pid_ = -1;
    int err_ = 0;
    bool exited_ = false;
    int status_ = 0;
    Fd gate_, exec_err_, sigfd_;
    sigset_t old_mask_;
    bool terminal_ = false; // the child's group has our terminal
    bool gate_opened_ = false;
    std::function<bool(int)> spared_;
};

// Shell convention: exit code, or 128 + signal number.
int exit_code_of(int wait_status);

// Ends the process at once with `code`, without exit handlers (_exit).
[[noreturn]] void exit_now(int code);

} // namespace loop::os
