// The text of a name's wait queue (core/claims/wait_queue.hpp), kept in
// the name's lock file: one ticket a line,
// "SEQ MODE PID START_TICKS SINCE_MS SEEN_MS ID SESSION" (MODE: x or s,
// X or S for a waiter that waits for this one name only). It is read and
// written under the name's lock by every waiter and every release, so
// parsing it is on a contended name's critical path.
#pragma once

#include "core/records.hpp"

#include <string>
#include <vector>

namespace loop {

std::string queue_to_text(const std::vector<WaitTicket>& q);
// Oldest first. Empty when any line is malformed (a torn queue is dropped
// whole).
std::vector<WaitTicket> queue_from_text(const std::string& text);

} // namespace loop
