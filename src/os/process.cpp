#include "os/process.hpp"

#include "os/proc.hpp"
#include "os/sigpipe.hpp"
#include "os/spawn.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

extern char** environ;

namespace loop::os {

namespace {

const int kForwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

// Runs `f` with SIGTTOU ignored: a process outside the terminal's
// foreground group may then change it.
template <class F> void without_sigttou(F f) {
    struct sigaction ign = {}, old = {};
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    ::sigaction(SIGTTOU, &ign, &old);
    f();
    ::sigaction(SIGTTOU, &old, nullptr);
}

bool has_children() {
    siginfo_t info = {};
    return ::waitid(P_ALL, 0, &info, WEXITED | WSTOPPED | WNOHANG | WNOWAIT) == 0;
}

std::vector<std::string> environment_with(const EnvVars& env) {
    std::vector<std::string> out;
    for (char** e = environ; *e; ++e) {
        std::string kv = *e;
        bool replaced = false;
        for (const auto& [k, v] : env)
            replaced = replaced || kv.compare(0, k.size() + 1, k + "=") == 0;
        if (!replaced) out.push_back(std::move(kv));
    }
    for (const auto& [k, v] : env)
        out.push_back(k + "=" + v);
    return out;
}

// What start() sends through the gate: 'g', then KEY '\0' VALUE '\0' for
// each variable to add.
std::string gate_message(const EnvVars& env) {
    std::string m = "g";
    for (const auto& [k, v] : env) {
        m += k;
        m += '\0';
        m += v;
        m += '\0';
    }
    return m;
}

EnvVars env_of_message(const std::string& m) {
    EnvVars env;
    size_t at = 1;
    while (at < m.size()) {
        size_t k_end = m.find('\0', at);
        if (k_end == std::string::npos) break;
        size_t v_end = m.find('\0', k_end + 1);
        if (v_end == std::string::npos) break;
        env.emplace_back(m.substr(at, k_end - at), m.substr(k_end + 1, v_end - k_end - 1));
        at = v_end + 1;
    }
    return env;
}

// The child, after fork: waits at the gate, then execs with what start()
// sent (this process is single-threaded here: allocating is safe).
[[noreturn]] void run_gated(int gate, int exec_err, char* const* args) {
    std::string m;
    char chunk[4096];
    for (;;) {
        ssize_t n = ::read(gate, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        m.append(chunk, static_cast<size_t>(n));
    }
    if (m.empty() || m[0] != 'g') ::_exit(111); // `with` died before start()
    std::vector<std::string> envs = environment_with(env_of_message(m));
    std::vector<char*> envp;
    for (auto& e : envs)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    ::execvpe(args[0], args, envp.data());
    int e = errno;
    (void)!::write(exec_err, &e, sizeof e);
    ::_exit(127);
}

} // namespace

GroupChild::GroupChild(const std::vector<std::string>& argv) {
    sigemptyset(&old_mask_);
    if (argv.empty()) {
        err_ = EINVAL;
        return;
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int gate[2], exec_err[2];
    if (::pipe2(gate, O_CLOEXEC) != 0) {
        err_ = errno;
        return;
    }
    if (::pipe2(exec_err, O_CLOEXEC) != 0) {
        err_ = errno;
        ::close(gate[0]);
        ::close(gate[1]);
        return;
    }
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        // A background job's SIGINT and SIGQUIT are ignored (the shell's
        // doing); COMMAND gets them as with does: by default.
        for (int s : kForwarded)
            ::signal(s, SIG_DFL);
        ::close(gate[1]);
        ::close(exec_err[0]);
        run_gated(gate[0], exec_err[1], args.data());
    }
    ::close(gate[0]);
    ::close(exec_err[1]);
    if (pid < 0) {
        err_ = errno;
        ::close(gate[1]);
        ::close(exec_err[0]);
        return;
    }
    ::setpgid(pid, pid); // also here: the group exists when we return
    pid_ = pid;
    gate_ = Fd(gate[1]);
    exec_err_ = Fd(exec_err[0]);
}

GroupChild::~GroupChild() {
    if (pid_ > 0 && !exited_) {
        // Never started, or left on an error: nothing of it runs on.
        gate_.reset();
        signal_all(SIGKILL);
        int st;
        while (::waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
        }
    }
    take_terminal_back();
    // The signal mask stays: a signal that comes now is not lost on the way
    // out (the process exits after this).
}

bool GroupChild::arm_signals() {
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);
    for (int s : kForwarded)
        sigaddset(&block, s);
    ::sigprocmask(SIG_BLOCK, &block, &old_mask_);
    sigfd_ = Fd(::signalfd(-1, &block, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sigfd_) err_ = errno;
    return static_cast<bool>(sigfd_);
}

bool GroupChild::open_gate(const EnvVars& env) {
    if (pid_ <= 0 || !gate_ || !arm_signals()) return false;
    // Died at the gate (killed from outside) before the signals were read:
    // reaped now; the gate then finds no reader.
    reap();
    if (::isatty(0) && ::tcgetpgrp(0) == ::getpgrp())
        without_sigttou([&] { terminal_ = ::tcsetpgrp(0, pid_) == 0; });
    {
        const std::string m = gate_message(env);
        SigpipeBlocked quiet;
        for (size_t off = 0; off < m.size();) {
            ssize_t n = ::write(gate_.get(), m.data() + off, m.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            off += static_cast<size_t>(n);
        }
    }
    gate_.reset();
    gate_opened_ = true;
    return true;
}

void GroupChild::yield_to_exec(int max_ms) {
    if (!gate_opened_ || !exec_err_) return;
    pollfd p{exec_err_.get(), POLLIN, 0};
    while (::poll(&p, 1, max_ms) < 0 && errno == EINTR) {
    }
}

bool GroupChild::started() {
    if (!gate_opened_) {
        if (!err_) err_ = EINVAL;
        return false;
    }
    if (!exec_err_) return err_ == 0; // asked before
    int e = 0;
    ssize_t n;
    do {
        n = ::read(exec_err_.get(), &e, sizeof e);
    } while (n < 0 && errno == EINTR);
    exec_err_.reset();
    if (n == static_cast<ssize_t>(sizeof e)) {
        err_ = e;
        while (!exited_ && ::waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
        }
        exited_ = true;
        take_terminal_back();
        return false;
    }
    return true;
}

void GroupChild::take_terminal_back() {
    if (!terminal_) return;
    without_sigttou([] { ::tcsetpgrp(0, ::getpgrp()); });
    terminal_ = false;
}

void GroupChild::reap() {
    for (;;) {
        int st = 0;
        pid_t p = ::waitpid(-1, &st, WNOHANG | WUNTRACED);
        if (p < 0 && errno == EINTR) continue;
        if (p <= 0) return;
        if (p != pid_) continue; // an adopted orphan
        if (!WIFSTOPPED(st)) {
            exited_ = true;
            status_ = st;
            take_terminal_back();
        } else if (terminal_) {
            // Stopped from the terminal (^Z): stop as well, so the shell
            // sees the job stop; when continued, hand the terminal back.
            take_terminal_back();
            ::kill(::getpid(), SIGSTOP);
            if (::isatty(0) && ::tcgetpgrp(0) == ::getpgrp())
                without_sigttou([&] { terminal_ = ::tcsetpgrp(0, pid_) == 0; });
            ::kill(-pid_, SIGCONT);
        }
    }
}

void GroupChild::on_signal(int sig, int code) {
    // A signal from the terminal reached the group that has it already.
    if (code == SI_KERNEL && terminal_) return;
    if (!exited_) ::kill(-pid_, sig);
}

bool GroupChild::wait(int timeout_ms, int extra_fd) {
    int64_t deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
    for (;;) {
        if (exited_) return true;
        pollfd fds[2] = {{sigfd_.get(), POLLIN, 0}, {extra_fd, POLLIN, 0}};
        int left = -1;
        if (deadline >= 0) {
            int64_t d = deadline - monotonic_ms();
            left = d < 0 ? 0 : static_cast<int>(d);
        }
        int n = ::poll(fds, extra_fd >= 0 ? 2 : 1, left);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return exited_;
        if (n == 0) return false;
        signalfd_siginfo si;
        while (::read(sigfd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
            if (static_cast<int>(si.ssi_signo) != SIGCHLD)
                on_signal(static_cast<int>(si.ssi_signo), si.ssi_code);
        }
        reap();
        if (exited_) return true;
        if (extra_fd >= 0 && fds[1].revents) return false;
    }
}

bool GroupChild::anything_left() const {
    if (pid_ > 1 && (::kill(-pid_, 0) == 0 || errno == EPERM)) return true;
    if (!has_children()) return false;
    if (!spared_) return true;
    std::optional<std::vector<int>> kids = children_of(::getpid());
    if (!kids) return true;
    return std::any_of(kids->begin(), kids->end(), [&](int k) { return !spared_(k); });
}

void GroupChild::signal_all(int sig) const {
    if (pid_ > 1) ::kill(-pid_, sig);
    for (int p : descendants_of(::getpid()))
        if (!spared_ || !spared_(p)) ::kill(p, sig);
}

void GroupChild::stop_all(int grace_ms) {
    if (pid_ <= 0) return;
    reap();
    if (!anything_left()) return;
    signal_all(SIGTERM);
    signal_all(SIGCONT);
    const int64_t deadline = monotonic_ms() + grace_ms;
    bool killed = false;
    for (;;) {
        reap();
        if (!anything_left()) return;
        int64_t left = deadline - monotonic_ms();
        if (!killed && left <= 0) killed = true;
        if (killed) signal_all(SIGKILL); // again: also what forked meanwhile
        // Members that are not our children send no SIGCHLD: look again soon.
        pollfd fd = {sigfd_.get(), POLLIN, 0};
        ::poll(&fd, 1, killed ? 20 : static_cast<int>(left < 20 ? left : 20));
        signalfd_siginfo si;
        while (::read(sigfd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        }
    }
}

int exit_code_of(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 127;
}

void exit_now(int code) {
    ::_exit(code);
}

} // namespace loop::os
