#include "os/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace loop::os {

namespace {

volatile sig_atomic_t g_child = 0;
const int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

void forward(int sig, siginfo_t* info, void*) {
    // A terminal's signal already reached the whole foreground group.
    if (info && info->si_code == SI_KERNEL) return;
    if (g_child > 0) ::kill(g_child, sig);
}

} // namespace

int spawn_guarded(const std::vector<std::string>& argv, const EnvVars& env, int* err) {
    if (argv.empty()) {
        *err = EINVAL;
        return -1;
    }
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0) {
        *err = errno;
        return -1;
    }
    // Handlers go in before the fork, with the signals blocked until the
    // child's pid is known, so none is lost in between.
    sigset_t block, old;
    sigemptyset(&block);
    for (int s : kForwarded)
        sigaddset(&block, s);
    ::sigprocmask(SIG_BLOCK, &block, &old);
    struct sigaction sa = {};
    sa.sa_sigaction = forward;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int s : kForwarded)
        ::sigaction(s, &sa, nullptr);

    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        *err = errno;
        ::sigprocmask(SIG_SETMASK, &old, nullptr);
        ::close(pipefd[0]);
        ::close(pipefd[1]);
        return -1;
    }
    if (pid == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        struct sigaction dfl = {};
        dfl.sa_handler = SIG_DFL;
        for (int s : kForwarded)
            ::sigaction(s, &dfl, nullptr);
        ::sigprocmask(SIG_SETMASK, &old, nullptr);
        for (const auto& [k, v] : env)
            ::setenv(k.c_str(), v.c_str(), 1);
        std::vector<char*> args;
        for (const auto& a : argv)
            args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        int e = errno;
        (void)!::write(pipefd[1], &e, sizeof e);
        ::_exit(127);
    }
    g_child = pid;
    ::sigprocmask(SIG_SETMASK, &old, nullptr);
    ::close(pipefd[1]);
    int child_err = 0;
    ssize_t n;
    do {
        n = ::read(pipefd[0], &child_err, sizeof child_err);
    } while (n < 0 && errno == EINTR);
    ::close(pipefd[0]);
    if (n == static_cast<ssize_t>(sizeof child_err)) {
        int status;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        g_child = 0;
        *err = child_err;
        return -1;
    }
    return pid;
}

int wait_forwarding_signals(int pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return 127 << 8;
    }
    g_child = 0;
    return status;
}

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 127;
}

} // namespace loop::os
