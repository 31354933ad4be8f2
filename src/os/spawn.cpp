#include "os/spawn.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

extern char** environ;

namespace loop::os {

void PendingChild::go() {
    if (!gate) return;
    char b = 'g';
    (void)!::write(gate.get(), &b, 1);
    gate.reset();
}

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
        // Reset what the supervisor's event loop changed.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int s = 1; s < NSIG; ++s) {
            if (s == SIGKILL || s == SIGSTOP) continue;
            ::signal(s, SIG_DFL);
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
        int log = ::open(spec.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0600);
        if (log >= 0) {
            ::dup2(log, 1);
            ::dup2(log, 2);
            if (log > 2) ::close(log);
        }
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

static std::map<int, std::vector<int>> children_map() {
    std::map<int, std::vector<int>> m;
    DIR* d = ::opendir("/proc");
    if (!d) return m;
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
        int ppid = 0;
        char state;
        if (std::sscanf(p + 2, "%c %d", &state, &ppid) != 2) continue;
        m[ppid].push_back(static_cast<int>(pid));
    }
    ::closedir(d);
    return m;
}

std::vector<int> descendants_of(int pid) {
    auto m = children_map();
    std::vector<int> out, todo{pid};
    while (!todo.empty()) {
        int p = todo.back();
        todo.pop_back();
        auto it = m.find(p);
        if (it == m.end()) continue;
        for (int c : it->second) {
            out.push_back(c);
            todo.push_back(c);
        }
    }
    return out;
}

bool group_alive(int pgid) {
    return pgid > 1 && (::kill(-pgid, 0) == 0 || errno == EPERM);
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

long long file_size(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return -1;
    return static_cast<long long>(st.st_size);
}

bool rotate_copy_truncate(const std::string& path) {
    int in = ::open(path.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) return false;
    std::string old = path + ".1";
    int out = ::open(old.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (out < 0) {
        ::close(in);
        return false;
    }
    char buf[65536];
    ssize_t n;
    while ((n = ::read(in, buf, sizeof buf)) > 0) {
        if (::write(out, buf, static_cast<size_t>(n)) != n) break;
    }
    ::close(out);
    bool ok = ::ftruncate(in, 0) == 0;
    ::close(in);
    return ok;
}

} // namespace loop::os
