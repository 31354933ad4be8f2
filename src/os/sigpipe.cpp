#include "os/sigpipe.hpp"

#include <pthread.h>
#include <time.h>

namespace loop::os {

namespace {

sigset_t only_sigpipe() {
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGPIPE);
    return s;
}

bool sigpipe_pending() {
    sigset_t p;
    sigemptyset(&p);
    return ::sigpending(&p) == 0 && sigismember(&p, SIGPIPE) == 1;
}

} // namespace

SigpipeBlocked::SigpipeBlocked() {
    const sigset_t s = only_sigpipe();
    ::pthread_sigmask(SIG_BLOCK, &s, &old_mask_);
    // One pending before (blocked by the caller) is not ours to take.
    was_pending_ = sigismember(&old_mask_, SIGPIPE) == 1 && sigpipe_pending();
}

SigpipeBlocked::~SigpipeBlocked() {
    if (!was_pending_ && sigpipe_pending()) {
        const sigset_t s = only_sigpipe();
        const struct timespec now = {0, 0};
        ::sigtimedwait(&s, nullptr, &now);
    }
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

} // namespace loop::os
