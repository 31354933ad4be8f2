// The layout of locks/NAME, the file a name's claimers flock(2). Under that
// lock it keeps what must outlive every claim record of the name:
//
//   bytes  0..20  the last fencing token handed out: 20 digits and '\n'
//   bytes 21..57  the boot id of the boot that wrote it: 36 bytes and '\n'
//   from 58       the name's wait queue (core/claims/wait_queue.hpp)
//
// The header has a fixed width so that rewriting it never leaves a shorter,
// torn number behind; the queue after it only orders waiters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace loop {

constexpr size_t kFenceWidth = 20;
constexpr size_t kLockHeaderSize = 58;

enum class CounterText { Empty, Number, Corrupt };

// The fence counter at the start of `text`: Empty for an empty file, Corrupt
// for anything but decimal digits that fit in 64 bits (a sign, a space, an
// overflow), else Number with *value set.
CounterText parse_fence_counter(const std::string& text, uint64_t* value);

// The boot id in the header, or "" when the header is incomplete.
std::string header_boot(const std::string& text);

// The queue text after the header ("" when there is no complete header).
std::string queue_part(const std::string& text);

// The fixed-width header.
std::string header_text(uint64_t fence, const std::string& boot);

// The next fence: strictly greater than `last` (the counter) and `above`
// (the fences in the name's current record, for a counter that was deleted).
// Unless `trusted` (the counter was written on this boot, or is being born
// now), it is also above the wall clock in microseconds: after a power
// loss the counter on disk can be older than what was handed out, and
// anything handed out before was smaller than the clock then. nullopt when
// no greater 64-bit number is left.
std::optional<uint64_t> next_fence_value(uint64_t last, uint64_t above, bool trusted,
                                         uint64_t now_us);

} // namespace loop
