// Doorbells: a FIFO that waiters hold open for reading and that whoever
// changes what they wait for rings by opening it for writing and closing
// it again. Nothing is ever written: the close of the last writer makes
// every reader's poll(2) report POLLHUP, and keep reporting it until the
// reader opens the FIFO again (Linux counts the writers that came and
// went since a reader opened it), so a ring between a waiter's check and
// its poll is never lost. Unlike an inotify instance, whose close waits for
// a kernel grace period (1-20 ms), a FIFO closes at once; and a ring with
// nobody listening costs one failed open(2).
#pragma once

#include "os/fd.hpp"

#include <string>

namespace loop::os {

// Opens the bell `file` in `dir` for listening, creating the FIFO (0600)
// when it is missing. An empty Fd and *err when that is impossible.
Fd listen_bell(int dir, const std::string& file, int* err);

// Rings the bell `path` (relative to `dir`): wakes its listeners, if any.
// True when it had a listener (false: nobody had it open, or it is gone).
bool ring_bell(int dir, const std::string& path);

// The first half of a ring: the bell open for writing, an empty Fd when
// nobody listens. The listeners wake when it is closed (the ring), so a
// caller can have them wake only once it has let go of what they will
// need.
Fd press_bell(int dir, const std::string& path);

} // namespace loop::os
