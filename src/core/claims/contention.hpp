// Quiet contention: a burst of busy tries against the same holder (a loop
// of `claim --wait 0`) is counted whole but logged as a few
// `claim.contended` events. Per name, under the name's lock, a small note
// keeps the holder the last logged event was about and the number of busy
// tries since that were not logged. A try is logged when there is no note,
// when the holder changed, or when kLogEveryTries tries or kLogEveryMs
// passed since the last logged one, and always for a claim that goes on to
// wait; its `tries` field says how many tries it stands for (the unlogged
// ones and itself).
//
// The counter loop_claim_contentions_total is the sum of the `tries` of the
// events plus the unlogged tries of the notes. Each note carries an epoch;
// the event that logs its tries names that epoch (`flushes`), and the note
// then starts a new, greater one. A reader that reads the notes before the
// event log therefore never counts a try twice, nor loses one it counted
// before: the counter never goes down.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace loop {

constexpr uint64_t kLogEveryTries = 1000;
constexpr int64_t kLogEveryMs = 60'000;
// A note on disk is exactly this long (padded), so rewriting it never
// leaves a torn tail.
constexpr size_t kNoteSize = 512;

struct ContentionNote {
    std::string holder;    // the session the last logged event named
    uint64_t fence = 0;    // its fence (0: a waiter queued ahead)
    std::string contender; // the session of the latest unlogged try
    uint64_t pending = 0;  // busy tries since, not logged
    uint64_t epoch = 0;    // see above
    int64_t logged_ms = 0; // when the last event was logged
};

// The note as kNoteSize bytes: one line, padded with spaces.
std::string note_to_text(const ContentionNote& n);
// nullopt when `text` is no note (torn, foreign, empty).
std::optional<ContentionNote> note_from_text(const std::string& text);

struct ContentionStep {
    bool log = false;     // append a claim.contended event
    uint64_t tries = 0;   // its `tries`
    uint64_t flushes = 0; // its `flushes`: the epoch of the tries it logs (0: none)
    ContentionNote note;  // the note to write
};

// What one busy try of `contender` against `holder` (fence) does, given
// the name's note. `now_us` makes the next epoch (greater than the last).
// With `always_log` (a claim that goes on to wait: one event per wait, not
// per poll) it is logged whatever the note says.
ContentionStep contention_step(const std::optional<ContentionNote>& note, const std::string& holder,
                               uint64_t fence, const std::string& contender, int64_t now_ms,
                               uint64_t now_us, bool always_log = false);

} // namespace loop
