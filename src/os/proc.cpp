#include "os/proc.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace loop::os {

ProcInfo proc_info(int pid) {
    ProcInfo info;
    if (pid <= 0) {
        info.state = ProcInfo::State::Gone;
        return info;
    }
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ESRCH) {
            // /proc mounted with hidepid hides other users' processes:
            // only the kernel's own "no such process" means gone.
            if (::kill(pid, 0) == 0 || errno == EPERM) {
                info.err = EACCES;
            } else {
                info.state = ProcInfo::State::Gone;
            }
        } else {
            info.err = errno;
        }
        return info;
    }
    char buf[1024];
    ssize_t n;
    do {
        n = ::read(fd, buf, sizeof buf - 1);
    } while (n < 0 && errno == EINTR);
    int read_err = errno;
    ::close(fd);
    if (n < 0) {
        if (read_err == ESRCH) {
            info.state = ProcInfo::State::Gone;
        } else {
            info.err = read_err;
        }
        return info;
    }
    buf[n] = '\0';
    // The command name may contain spaces and parentheses: parse after the last ')'.
    char* p = std::strrchr(buf, ')');
    if (!p || p[1] != ' ') {
        info.err = EPROTO;
        return info;
    }
    p += 2; // now at field 3 (state)
    char state = *p;
    // Skip to field 22: fields 3..21 are 19 fields.
    for (int field = 3; field < 22; ++field) {
        p = std::strchr(p, ' ');
        if (!p) {
            info.err = EPROTO;
            return info;
        }
        ++p;
    }
    char* end = nullptr;
    unsigned long long ticks = std::strtoull(p, &end, 10);
    if (end == p) {
        info.err = EPROTO;
        return info;
    }
    info.state = ProcInfo::State::Running;
    info.start_ticks = ticks;
    info.zombie = state == 'Z' || state == 'X';
    return info;
}

std::string boot_id() {
    int fd = ::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return "";
    char buf[64];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n <= 0) return "";
    std::string s(buf, static_cast<size_t>(n));
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

std::string host_name() {
    struct utsname u;
    if (::uname(&u) != 0) return "";
    return u.nodename;
}

int self_pid() {
    return static_cast<int>(::getpid());
}
int parent_pid() {
    return static_cast<int>(::getppid());
}

Fd pidfd_open(int pid, int* err) {
    long fd = ::syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0) {
        *err = errno;
        return Fd();
    }
    return Fd(static_cast<int>(fd));
}

int pidfd_send_signal(int pidfd, int sig) {
    if (::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) == 0) return 0;
    return errno;
}

int64_t now_ms() {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t monotonic_ms() {
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

uint64_t random_u64() {
    uint64_t v = 0;
    size_t got = 0;
    while (got < sizeof v) {
        ssize_t n = ::getrandom(reinterpret_cast<char*>(&v) + got, sizeof v - got, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            // Fall back to something unique enough: time and pid.
            struct timespec ts;
            ::clock_gettime(CLOCK_MONOTONIC, &ts);
            return (static_cast<uint64_t>(ts.tv_nsec) << 20) ^ static_cast<uint64_t>(::getpid());
        }
        got += static_cast<size_t>(n);
    }
    return v;
}

} // namespace loop::os
