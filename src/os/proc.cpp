#include "os/proc.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
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
    int ppid = 0, pgid = 0;
    if (std::sscanf(p + 1, " %d %d", &ppid, &pgid) != 2) {
        info.err = EPROTO;
        return info;
    }
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
    info.ppid = ppid;
    info.pgid = pgid;
    info.zombie = state == 'Z' || state == 'X';
    return info;
}

namespace {

std::string read_boot_id() {
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

} // namespace

const std::string& boot_id() {
    // It names the boot this process runs in, which never changes under
    // it: read once (thread-safe: a function-local static).
    static const std::string id = read_boot_id();
    return id;
}

namespace {

// A whole small file (< 4 KiB), or "" when unreadable.
std::string read_small(const char* path) {
    int fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return "";
    char buf[4096];
    ssize_t n;
    do {
        n = ::read(fd, buf, sizeof buf);
    } while (n < 0 && errno == EINTR);
    ::close(fd);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

} // namespace

std::string machine_id() {
    std::string id = trimmed(read_small("/etc/machine-id"));
    if (id.size() != 32 || id.find_first_not_of("0123456789abcdef") != std::string::npos) return "";
    return id;
}

std::string pid_namespace() {
    char buf[64];
    ssize_t n = ::readlink("/proc/self/ns/pid", buf, sizeof buf - 1);
    if (n <= 0) return "";
    buf[n] = 0;
    // "pid:[4026531836]"
    const char* open = std::strchr(buf, '[');
    const char* close = std::strchr(buf, ']');
    if (!open || !close || close <= open + 1) return "";
    return std::string(open + 1, close);
}

bool same_program(int a, int b) {
    char pa[64], pb[64], ea[4096], eb[4096];
    std::snprintf(pa, sizeof pa, "/proc/%d/exe", a);
    std::snprintf(pb, sizeof pb, "/proc/%d/exe", b);
    ssize_t na = ::readlink(pa, ea, sizeof ea);
    ssize_t nb = ::readlink(pb, eb, sizeof eb);
    if (na <= 0 || na != nb || std::memcmp(ea, eb, static_cast<size_t>(na)) != 0) return false;
    std::snprintf(pa, sizeof pa, "/proc/%d/cmdline", a);
    std::snprintf(pb, sizeof pb, "/proc/%d/cmdline", b);
    std::string ca = read_small(pa);
    return !ca.empty() && ca == read_small(pb);
}

std::vector<std::string> command_line(int pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    const std::string text = read_small(path);
    std::vector<std::string> argv;
    for (size_t at = 0; at < text.size();) {
        size_t end = text.find('\0', at);
        if (end == std::string::npos) end = text.size();
        argv.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    return argv;
}

std::vector<ProcRow> process_table() {
    std::vector<ProcRow> rows;
    DIR* d = ::opendir("/proc");
    if (!d) return rows;
    while (dirent* e = ::readdir(d)) {
        char* end;
        long pid = std::strtol(e->d_name, &end, 10);
        if (*end || pid <= 0) continue;
        char path[64], buf[512];
        std::snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = ::read(fd, buf, sizeof buf - 1);
        ::close(fd);
        if (n <= 0) continue;
        buf[n] = 0;
        char* p = std::strrchr(buf, ')');
        if (!p) continue;
        ProcRow row;
        row.pid = static_cast<int>(pid);
        if (std::sscanf(p + 2, "%c %d %d", &row.state, &row.ppid, &row.pgid) != 3) continue;
        rows.push_back(row);
    }
    ::closedir(d);
    return rows;
}

bool group_exists(int pgid) {
    if (pgid <= 1) return false;
    if (::kill(-pgid, 0) != 0 && errno != EPERM) return false;
    // A group of zombies has no member left that runs: only a scan tells.
    for (const ProcRow& r : process_table())
        if (r.pgid == pgid && r.state != 'Z' && r.state != 'X') return true;
    return false;
}

std::string host_name() {
    struct utsname u;
    if (::uname(&u) != 0) return "";
    return u.nodename;
}

int cpu_count() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) return 1;
    return std::max(1, CPU_COUNT(&set));
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

int64_t now_us() {
    struct timespec ts;
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

int64_t monotonic_ms() {
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int64_t boottime_ms() {
    struct timespec ts;
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
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
