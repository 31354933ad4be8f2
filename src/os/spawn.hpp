// Starting and stopping supervised workers: each in its own session and
// process group, output to a pipe its own log writer reads (or appended to
// a file), so it keeps running when the supervisor dies, started only once
// the supervisor has recorded it.
#pragma once

#include "os/fd.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace loop::os {

struct SpawnSpec {
    std::vector<std::string> argv;
    std::map<std::string, std::string> env; // added to the supervisor's
    std::string cwd;
    std::string log_path; // stdout and stderr, O_APPEND
    // The RLIMIT_NOFILE soft limit the worker gets back (the supervisor
    // raised its own); 0 leaves it as it is.
    unsigned long nofile_soft = 0;
    // When >= 0: stdout and stderr (a log writer's pipe), instead of log_path.
    int output_fd = -1;
};

// A forked child that waits, before exec, until go() is called (or exits
// if this process dies first). pid < 0 on failure with err set.
struct PendingChild {
    int pid = -1;
    int err = 0;
    Fd gate;   // write end: one byte releases the child
    void go(); // lets the child exec
};

PendingChild spawn_gated(const SpawnSpec& spec);

// Signals a process group; ESRCH is not an error.
void kill_group(int pgid, int sig);
void kill_pid(int pid, int sig);

// Every descendant of `pid` (children, grandchildren, ... also those that
// left its process group with setsid), from /proc.
std::vector<int> descendants_of(int pid);

// The descendants of `pid` that are not in process group `pgid` (those a
// signal to the group does not reach).
std::vector<int> descendants_outside_group(int pid, int pgid);

// What is left of a worker incarnation, from /proc: the members of process
// group `pgid` and the processes whose environment holds `env_entry`
// ("KEY=VALUE") exactly (those that left the group with setsid), the
// latter looked for among the descendants of `under` only (0: among all).
// Exited processes (zombies) and this process are not listed; one whose
// environment cannot be read is listed only as a group member.
struct Leftovers {
    std::vector<int> group;   // in process group `pgid`
    std::vector<int> escaped; // outside it, carrying `env_entry`
    bool empty() const { return group.empty() && escaped.empty(); }
};
// `known_children`: children of `under` that are none of it (the live
// workers), whose subtrees need no look.
Leftovers leftovers(int pgid, const std::string& env_entry, int under,
                    const std::vector<int>& known_children = {});

// The direct children of `pid` (of all its threads), from
// /proc/PID/task/*/children; nullopt where the kernel does not list them.
std::optional<std::vector<int>> children_of(int pid);

// SIGPIPE ignored: a peer that goes away makes a write fail with EPIPE.
void ignore_sigpipe();

// Raises the RLIMIT_NOFILE soft limit to the hard one.
struct NofileLimit {
    unsigned long soft_before = 0; // 0 when unknown
    unsigned long soft = 0;        // now in force; 0 when unknown
};
NofileLimit raise_nofile_limit();

// Makes this process the reaper of orphaned descendants.
bool become_subreaper();

// Reaps one exited child without blocking: pid, or 0 when none, -1 when no children.
int reap_any(int* status);

// Path of the running executable (/proc/self/exe).
std::string self_exe();

} // namespace loop::os
