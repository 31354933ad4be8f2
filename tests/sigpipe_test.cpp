// os::SigpipeBlocked: a write to a pipe nobody reads fails with EPIPE inside
// it, the process lives, and the signal mask is as it was afterwards.
#include "os/sigpipe.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <pthread.h>
#include <unistd.h>

namespace {

// A pipe whose read end is closed: a write to it raises SIGPIPE.
int broken_pipe() {
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    ::close(fds[0]);
    return fds[1];
}

bool blocked_now() {
    sigset_t cur;
    ::pthread_sigmask(SIG_BLOCK, nullptr, &cur);
    return sigismember(&cur, SIGPIPE) == 1;
}

bool pending_now() {
    sigset_t p;
    ::sigpending(&p);
    return sigismember(&p, SIGPIPE) == 1;
}

} // namespace

TEST_CASE("a write to a gone reader is EPIPE, the signal is taken back, the mask restored") {
    REQUIRE_FALSE(blocked_now());
    const int fd = broken_pipe();
    for (int round = 0; round < 3; ++round) {
        ssize_t n = 0;
        int err = 0;
        {
            loop::os::SigpipeBlocked quiet;
            CHECK(blocked_now());
            n = ::write(fd, "x", 1);
            err = errno;
        }
        CHECK(n == -1);
        CHECK(err == EPIPE);
        CHECK_FALSE(pending_now());
        CHECK_FALSE(blocked_now());
    }
    ::close(fd);
}

TEST_CASE("a SIGPIPE the caller had blocked and pending stays the caller's") {
    sigset_t s, old;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &s, &old) == 0);
    const int fd = broken_pipe();
    CHECK(::write(fd, "x", 1) == -1);
    REQUIRE(pending_now());
    {
        loop::os::SigpipeBlocked quiet;
        CHECK(::write(fd, "x", 1) == -1);
    }
    CHECK(pending_now());
    CHECK(blocked_now());
    // Taken here so that nothing is delivered when the mask is restored.
    const struct timespec now = {0, 0};
    CHECK(::sigtimedwait(&s, nullptr, &now) == SIGPIPE);
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ::close(fd);
}
