#include "os/log_pipe.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace loop::os {

LogWriterProcess start_log_writer(const std::vector<std::string>& argv) {
    LogWriterProcess out;
    int data[2], status[2];
    if (::pipe2(data, O_CLOEXEC) != 0) {
        out.err = errno;
        return out;
    }
    if (::pipe2(status, O_CLOEXEC) != 0) {
        out.err = errno;
        ::close(data[0]);
        ::close(data[1]);
        return out;
    }
    std::vector<char*> args;
    for (const auto& a : argv)
        args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    char* no_env[] = {nullptr};
    pid_t pid = ::fork();
    if (pid < 0) {
        out.err = errno;
        for (int fd : {data[0], data[1], status[0], status[1]})
            ::close(fd);
        return out;
    }
    if (pid == 0) {
        ::setsid();
        for (int s = 1; s < NSIG; ++s)
            if (s != SIGKILL && s != SIGSTOP) ::signal(s, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        // Out of the way of 0 to 3 first, whatever numbers they had.
        int in = ::fcntl(data[0], F_DUPFD_CLOEXEC, 10);
        int st = ::fcntl(status[1], F_DUPFD_CLOEXEC, 10);
        int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
        if (in < 0 || st < 0 || null < 0 || ::dup2(in, 0) < 0 || ::dup2(null, 1) < 0 ||
            ::dup2(null, 2) < 0 || ::dup3(st, 3, O_CLOEXEC) < 0) {
            int e = errno;
            if (st >= 0) (void)!::write(st, &e, sizeof e);
            ::_exit(127);
        }
        ::close_range(4, ~0U, 0);
        ::execve("/proc/self/exe", args.data(), no_env);
        int e = errno;
        (void)!::write(3, &e, sizeof e);
        ::_exit(127);
    }
    ::close(data[0]);
    ::close(status[1]);
    int e = 0;
    ssize_t n;
    do {
        n = ::read(status[0], &e, sizeof e);
    } while (n < 0 && errno == EINTR);
    ::close(status[0]);
    if (n == static_cast<ssize_t>(sizeof e)) {
        // It could not exec: it has exited (or is about to).
        int st;
        while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
        ::close(data[1]);
        out.err = e;
        return out;
    }
    out.pid = pid;
    out.output = Fd(data[1]);
    return out;
}

} // namespace loop::os
