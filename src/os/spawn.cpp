#include "os/spawn.hpp"

#include "os/proc.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

extern char** environ;

namespace loop::os {

void PendingChild::go() {
    if (!gate) return;
    char b = 'g';
    (void)!::write(gate.get(), &b, 1);
    gate.reset();
}

namespace {

// Closes every descriptor >= `first` (async-signal-safe).
void close_from(int first) {
    if (::close_range(static_cast<unsigned>(first), ~0U, 0) == 0) return;
    rlimit lim;
    long last = ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_max != RLIM_INFINITY
                    ? static_cast<long>(lim.rlim_max)
                    : 65536;
    for (long fd = first; fd < last; ++fd)
        ::close(static_cast<int>(fd));
}

} // namespace

PendingChild spawn_gated(const SpawnSpec& spec) {
    PendingChild out;
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
        out.err = errno;
        return out;
    }
    // Everything the child needs is prepared before fork: after it, only
    // async-signal-safe calls.
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        auto eq = kv.find('=');
        if (eq != std::string::npos && spec.env.count(kv.substr(0, eq))) continue;
        envs.push_back(std::move(kv));
    }
    for (const auto& [k, v] : spec.env)
        envs.push_back(k + "=" + v);
    std::vector<char*> envp, argv;
    for (auto& e : envs)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    for (const auto& a : spec.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // The program is looked up in the worker's PATH (execvpe would use ours).
    std::string path_var;
    if (auto it = spec.env.find("PATH"); it != spec.env.end()) {
        path_var = it->second;
    } else if (const char* pv = std::getenv("PATH")) {
        path_var = pv;
    }
    std::vector<std::string> candidates;
    if (spec.argv.empty()) {
        out.err = EINVAL;
        ::close(p[0]);
        ::close(p[1]);
        return out;
    }
    if (spec.argv[0].find('/') != std::string::npos) {
        candidates.push_back(spec.argv[0]);
    } else {
        size_t start = 0;
        for (;;) {
            size_t colon = path_var.find(':', start);
            std::string dir =
                path_var.substr(start, colon == std::string::npos ? colon : colon - start);
            candidates.push_back((dir.empty() ? "." : dir) + "/" + spec.argv[0]);
            if (colon == std::string::npos) break;
            start = colon + 1;
        }
    }

    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        out.err = errno;
        ::close(p[0]);
        ::close(p[1]);
        return out;
    }
    if (pid == 0) {
        ::setsid();
        // Reset what the supervisor's event loop changed: handlers first, so
        // that a signal arriving once the mask is lifted never runs the
        // supervisor's handler in the child.
        for (int s = 1; s < NSIG; ++s) {
            if (s == SIGKILL || s == SIGSTOP) continue;
            ::signal(s, SIG_DFL);
        }
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        if (spec.nofile_soft > 0) {
            rlimit lim;
            if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && spec.nofile_soft < lim.rlim_cur) {
                lim.rlim_cur = spec.nofile_soft;
                ::setrlimit(RLIMIT_NOFILE, &lim);
            }
        }
        ::close(p[1]);
        char b;
        ssize_t n;
        do {
            n = ::read(p[0], &b, 1);
        } while (n < 0 && errno == EINTR);
        if (n != 1) ::_exit(111); // the supervisor died before recording us
        (void)parent;
        int devnull = ::open("/dev/null", O_RDONLY);
        if (devnull >= 0) {
            ::dup2(devnull, 0);
            if (devnull > 2) ::close(devnull);
        }
        int log = spec.output_fd >= 0 ? ::fcntl(spec.output_fd, F_DUPFD_CLOEXEC, 3)
                                      : ::open(spec.log_path.c_str(),
                                               O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0600);
        if (log >= 0) {
            ::dup2(log, 1);
            ::dup2(log, 2);
            if (log > 2) ::close(log);
        }
        // Nothing the supervisor inherited or opened reaches the worker.
        close_from(3);
        if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) != 0) {
            dprintf(2, "loop: cannot enter %s: %s\n", spec.cwd.c_str(), strerror(errno));
            ::_exit(126);
        }
        int exec_err = ENOENT;
        for (const auto& c : candidates) {
            ::execve(c.c_str(), argv.data(), envp.data());
            if (errno != ENOENT && errno != ENOTDIR) exec_err = errno;
        }
        dprintf(2, "loop: cannot run %s: %s\n", argv[0], strerror(exec_err));
        ::_exit(exec_err == ENOENT ? 127 : 126);
    }
    ::close(p[0]);
    out.pid = pid;
    out.gate = Fd(p[1]);
    return out;
}

void kill_group(int pgid, int sig) {
    if (pgid > 1) ::kill(-pgid, sig);
}

void kill_pid(int pid, int sig) {
    if (pid > 1) ::kill(pid, sig);
}

namespace {

std::vector<int> descendants(int pid, int except_pgid) {
    std::map<int, std::vector<ProcRow>> m;
    for (const ProcRow& r : process_table())
        m[r.ppid].push_back(r);
    std::vector<int> out, todo{pid};
    while (!todo.empty()) {
        int p = todo.back();
        todo.pop_back();
        auto it = m.find(p);
        if (it == m.end()) continue;
        for (const ProcRow& c : it->second) {
            if (c.pgid != except_pgid) out.push_back(c.pid);
            todo.push_back(c.pid);
        }
    }
    return out;
}

// Whether the NUL-separated environment in `fd` holds `entry` exactly.
bool environ_has(int fd, const std::string& entry) {
    // Entries are compared across read boundaries: keep the tail of the
    // previous chunk that may be the start of an entry.
    std::string carry;
    char buf[16384];
    constexpr size_t kMaxEnviron = 4u << 20;
    size_t total = 0;
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        total += static_cast<size_t>(n);
        carry.append(buf, static_cast<size_t>(n));
        size_t start = 0;
        for (size_t z; (z = carry.find('\0', start)) != std::string::npos; start = z + 1)
            if (carry.compare(start, z - start, entry) == 0) return true;
        carry.erase(0, start);
        if (total > kMaxEnviron) break;
    }
    return !carry.empty() && carry == entry;
}

} // namespace

std::vector<int> descendants_of(int pid) {
    return descendants(pid, -1);
}

std::vector<int> descendants_outside_group(int pid, int pgid) {
    return descendants(pid, pgid);
}

std::optional<std::vector<int>> children_of(int pid) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR* d = ::opendir(path);
    if (!d) return std::nullopt;
    std::vector<int> out;
    bool listed = false;
    while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char file[320];
        std::snprintf(file, sizeof file, "/proc/%d/task/%s/children", pid, e->d_name);
        int fd = ::open(file, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        listed = true;
        std::string text;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0)
            text.append(buf, static_cast<size_t>(n));
        ::close(fd);
        for (const char* p = text.c_str(); *p;) {
            char* end;
            long v = std::strtol(p, &end, 10);
            if (end == p) break;
            if (v > 0) out.push_back(static_cast<int>(v));
            p = end;
        }
    }
    ::closedir(d);
    if (!listed) return std::nullopt;
    return out;
}

namespace {

// Marks the rows of the subtrees rooted at `roots` (the roots included when
// `with_roots`).
std::vector<char> subtrees(const std::vector<ProcRow>& rows, const std::vector<int>& roots,
                           bool with_roots) {
    std::map<int, std::vector<size_t>> kids;
    for (size_t i = 0; i < rows.size(); ++i)
        kids[rows[i].ppid].push_back(i);
    std::vector<char> mark(rows.size(), 0);
    std::vector<int> todo = roots;
    if (with_roots)
        for (size_t i = 0; i < rows.size(); ++i)
            if (std::find(roots.begin(), roots.end(), rows[i].pid) != roots.end()) mark[i] = 1;
    while (!todo.empty()) {
        int p = todo.back();
        todo.pop_back();
        auto it = kids.find(p);
        if (it == kids.end()) continue;
        for (size_t i : it->second) {
            if (mark[i]) continue;
            mark[i] = 1;
            todo.push_back(rows[i].pid);
        }
    }
    return mark;
}

} // namespace

Leftovers leftovers(int pgid, const std::string& env_entry, int under,
                    const std::vector<int>& known_children) {
    // Cheap answers first, so that a worker's death costs no /proc scan in
    // the common case: an empty group is one kill(2); below a subreaper,
    // escaped descendants can only hang under a child that is not a known
    // one (they were reparented to it).
    const bool group_maybe = pgid > 1 && (::kill(-pgid, 0) == 0 || errno == EPERM);
    bool need_env = !env_entry.empty();
    std::vector<int> roots;
    bool with_roots = false;
    if (need_env && under > 0) {
        if (auto kids = children_of(under)) {
            for (int k : *kids)
                if (std::find(known_children.begin(), known_children.end(), k) ==
                    known_children.end())
                    roots.push_back(k);
            need_env = !roots.empty();
            with_roots = true;
        } else {
            roots.push_back(under);
        }
    }
    Leftovers out;
    if (!group_maybe && !need_env) return out;
    std::vector<ProcRow> rows = process_table();
    std::vector<char> candidate;
    if (need_env && under > 0) candidate = subtrees(rows, roots, with_roots);
    const int self = ::getpid();
    for (size_t i = 0; i < rows.size(); ++i) {
        const ProcRow& r = rows[i];
        if (r.pid == self || r.state == 'Z' || r.state == 'X') continue;
        if (pgid > 1 && r.pgid == pgid) {
            out.group.push_back(r.pid);
            continue;
        }
        if (!need_env || (under > 0 && !candidate[i])) continue;
        char path[64];
        std::snprintf(path, sizeof path, "/proc/%d/environ", r.pid);
        int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        if (environ_has(fd, env_entry)) out.escaped.push_back(r.pid);
        ::close(fd);
    }
    return out;
}

void ignore_sigpipe() {
    ::signal(SIGPIPE, SIG_IGN);
}

NofileLimit raise_nofile_limit() {
    NofileLimit out;
    rlimit lim;
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return out;
    out.soft_before = lim.rlim_cur;
    if (lim.rlim_cur < lim.rlim_max) {
        rlimit raised = lim;
        raised.rlim_cur = lim.rlim_max;
        if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
    }
    out.soft = lim.rlim_cur;
    return out;
}

bool become_subreaper() {
    return ::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
}

int reap_any(int* status) {
    for (;;) {
        pid_t p = ::waitpid(-1, status, WNOHANG);
        if (p < 0 && errno == EINTR) continue;
        if (p < 0) return -1;
        return static_cast<int>(p);
    }
}

std::string self_exe() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return "";
    buf[n] = 0;
    return buf;
}

} // namespace loop::os
