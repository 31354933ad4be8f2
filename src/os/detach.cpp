#include "os/detach.hpp"

#include "os/proc.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>

namespace loop::os {

int spawn_detached(const std::string& exe, const std::vector<std::string>& argv,
                   const std::vector<std::pair<std::string, std::string>>& env,
                   const std::string& log_path) {
    // Everything the child needs is built before fork.
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    // A child subreaper (`with`, the supervisor) would adopt the orphan and
    // stop it with its own leftovers: not one while the middle child exits.
    int subreaper = 0;
    (void)::prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
    if (subreaper) (void)::prctl(PR_SET_CHILD_SUBREAPER, 0);
    struct Restore {
        int on;
        ~Restore() {
            if (on) (void)::prctl(PR_SET_CHILD_SUBREAPER, 1);
        }
    } restore{subreaper};
    pid_t pid = ::fork();
    if (pid < 0) return errno;
    if (pid == 0) {
        ::setsid();
        if (::fork() != 0) ::_exit(0);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        for (int s = 1; s < NSIG; ++s)
            if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
        int in = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        int out =
            ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (out < 0) out = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (in >= 0) ::dup2(in, 0);
        if (out >= 0) {
            ::dup2(out, 1);
            ::dup2(out, 2);
        }
        ::close_range(3, ~0U, 0);
        for (const auto& [k, v] : env)
            ::setenv(k.c_str(), v.c_str(), 1);
        ::execv(exe.c_str(), args.data());
        ::_exit(127);
    }
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return 0;
}

HelperWaiter::HelperWaiter(std::vector<int> signals) : signals_(std::move(signals)) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : signals_)
        sigaddset(&set, s);
    ::sigprocmask(SIG_BLOCK, &set, nullptr);
    sigfd_ = Fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
}

HelperWaiter::~HelperWaiter() = default;

void HelperWaiter::watch(const std::vector<int>& pids) {
    std::map<int, Fd> next;
    for (int pid : pids) {
        if (next.count(pid)) continue;
        if (auto it = pidfds_.find(pid); it != pidfds_.end()) {
            next[pid] = std::move(it->second);
            continue;
        }
        int err = 0;
        Fd fd = pidfd_open(pid, &err);
        if (fd) next[pid] = std::move(fd);
    }
    pidfds_ = std::move(next);
}

HelperWaiter::Wake HelperWaiter::wait(int timeout_ms) {
    std::vector<pollfd> fds;
    std::vector<int> pids;
    if (sigfd_) fds.push_back({sigfd_.get(), POLLIN, 0});
    for (const auto& [pid, fd] : pidfds_) {
        fds.push_back({fd.get(), POLLIN, 0});
        pids.push_back(pid);
    }
    Wake w;
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n <= 0) return w;
    size_t at = 0;
    if (sigfd_) {
        if (fds[0].revents & POLLIN) {
            signalfd_siginfo si;
            while (::read(sigfd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si))
                w.signals.push_back(static_cast<int>(si.ssi_signo));
        }
        at = 1;
    }
    for (size_t i = 0; i < pids.size(); ++i)
        if (fds[at + i].revents) w.exited.push_back(pids[i]);
    for (int pid : w.exited)
        pidfds_.erase(pid);
    return w;
}

void sleep_ms(int ms) {
    struct timespec left {
        ms / 1000, static_cast<long>(ms % 1000) * 1'000'000
    };
    while (::nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
}

bool send_signal(int pid, int sig) {
    return pid > 0 && ::kill(pid, sig) == 0;
}

bool process_gone(int pid) {
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) return true;
    ProcInfo info = proc_info(pid);
    return info.state == ProcInfo::State::Gone || info.zombie;
}

} // namespace loop::os
