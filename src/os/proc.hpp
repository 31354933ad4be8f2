// Process facts from the kernel: start times, boot id, pidfds.
#pragma once

#include "os/fd.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace loop::os {

// What /proc says about a pid.
struct ProcInfo {
    enum class State { Running, Gone, Unknown } state = State::Unknown;
    uint64_t start_ticks = 0; // field 22 of /proc/PID/stat
    int ppid = 0;             // field 4
    int pgid = 0;             // field 5
    bool zombie = false;
    int err = 0; // errno when Unknown
};

ProcInfo proc_info(int pid);

// The kernel's boot id (36 characters), or "" when unreadable; read once.
const std::string& boot_id();

std::string host_name();

// /etc/machine-id (32 hex digits), or "" when unreadable.
std::string machine_id();

// The pid namespace pids are read in: the inode of /proc/self/ns/pid as a
// decimal string, or "" when unreadable.
std::string pid_namespace();

// Whether processes `a` and `b` run the same program with the same command
// line (a forked copy of a shell is such a process). False when unreadable.
bool same_program(int a, int b);

// The arguments process `pid` was started with (argv, from
// /proc/PID/cmdline); empty when unreadable or gone.
std::vector<std::string> command_line(int pid);

// One row of the process table.
struct ProcRow {
    int pid = 0;
    int ppid = 0;
    int pgid = 0;
    char state = '?'; // 'Z' for a zombie
};
// Every process this pid namespace shows, from one pass over /proc.
std::vector<ProcRow> process_table();

// Whether the process group `pgid` still has a member that has not exited
// (zombies do not count).
bool group_exists(int pgid);

int self_pid();

// The CPUs this process may run on (its affinity mask), at least 1.
int cpu_count();
int parent_pid();

// pidfd_open(2); invalid Fd and *err on failure.
Fd pidfd_open(int pid, int* err);
// pidfd_send_signal(2): 0, or the errno (ESRCH once the process is gone).
int pidfd_send_signal(int pidfd, int sig);

// Wall clock in milliseconds since the epoch; monotonic milliseconds;
// CLOCK_BOOTTIME milliseconds (counts suspend, never stepped: leases).
int64_t now_ms();
int64_t monotonic_ms();
int64_t boottime_ms();
// Wall clock in microseconds since the epoch.
int64_t now_us();

// 64 random bits from the kernel.
uint64_t random_u64();

} // namespace loop::os
