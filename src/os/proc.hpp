// Process facts from the kernel: start times, boot id, pidfds.
#pragma once

#include "os/fd.hpp"

#include <cstdint>
#include <string>

namespace loop::os {

// What /proc says about a pid.
struct ProcInfo {
    enum class State { Running, Gone, Unknown } state = State::Unknown;
    uint64_t start_ticks = 0; // field 22 of /proc/PID/stat
    bool zombie = false;
    int err = 0; // errno when Unknown
};

ProcInfo proc_info(int pid);

// The kernel's boot id (36 characters), or "" when unreadable.
std::string boot_id();

std::string host_name();

int self_pid();
int parent_pid();

// pidfd_open(2); invalid Fd and *err on failure.
Fd pidfd_open(int pid, int* err);
// pidfd_send_signal(2): 0, or the errno (ESRCH once the process is gone).
int pidfd_send_signal(int pidfd, int sig);

// Wall clock in milliseconds since the epoch; monotonic milliseconds.
int64_t now_ms();
int64_t monotonic_ms();

// 64 random bits from the kernel.
uint64_t random_u64();

} // namespace loop::os
