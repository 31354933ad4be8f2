#include "core/claims/contention.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace loop {

std::string note_to_text(const ContentionNote& n) {
    std::string line = "c1 " + n.holder + " " + std::to_string(n.fence) + " " + n.contender + " " +
                       std::to_string(n.pending) + " " + std::to_string(n.epoch) + " " +
                       std::to_string(n.logged_ms) + "\n";
    if (line.size() < kNoteSize) line.append(kNoteSize - line.size(), ' ');
    return line;
}

namespace {

bool number(const std::string& s, uint64_t* out) {
    if (s.empty() || s.size() > 20 || s.find_first_not_of("0123456789") != std::string::npos)
        return false;
    errno = 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    if (errno != 0 || *end != '\0') return false;
    *out = v;
    return true;
}

bool word(const std::string& s) {
    if (s.empty() || s.size() > 200) return false;
    for (unsigned char c : s)
        if (c <= 0x20 || c >= 0x7f) return false;
    return true;
}

} // namespace

std::optional<ContentionNote> note_from_text(const std::string& text) {
    const size_t nl = text.find('\n');
    if (nl == std::string::npos || text.size() != kNoteSize) return std::nullopt;
    if (text.find_first_not_of(' ', nl + 1) != std::string::npos) return std::nullopt;
    std::vector<std::string> f;
    size_t start = 0;
    const std::string line = text.substr(0, nl);
    while (start <= line.size()) {
        size_t sp = line.find(' ', start);
        if (sp == std::string::npos) sp = line.size();
        f.push_back(line.substr(start, sp - start));
        start = sp + 1;
    }
    if (f.size() != 7 || f[0] != "c1" || !word(f[1]) || !word(f[3])) return std::nullopt;
    ContentionNote n;
    uint64_t logged = 0;
    n.holder = f[1];
    n.contender = f[3];
    if (!number(f[2], &n.fence) || !number(f[4], &n.pending) || !number(f[5], &n.epoch) ||
        !number(f[6], &logged) || logged > static_cast<uint64_t>(INT64_MAX))
        return std::nullopt;
    n.logged_ms = static_cast<int64_t>(logged);
    return n;
}

ContentionStep contention_step(const std::optional<ContentionNote>& note, const std::string& holder,
                               uint64_t fence, const std::string& contender, int64_t now_ms,
                               uint64_t now_us, bool always_log) {
    ContentionStep s;
    const bool same = note && note->holder == holder && note->fence == fence;
    // A clock stepped back counts as time passed: better one line too many.
    const int64_t since = note ? now_ms - note->logged_ms : 0;
    if (!always_log && same && note->pending + 1 < kLogEveryTries && since >= 0 &&
        since < kLogEveryMs) {
        s.note = *note;
        s.note.pending++;
        s.note.contender = contender;
        return s;
    }
    s.log = true;
    s.tries = (note ? note->pending : 0) + 1;
    s.flushes = note && note->pending > 0 ? note->epoch : 0;
    s.note.holder = holder;
    s.note.fence = fence;
    s.note.contender = contender;
    s.note.pending = 0;
    const uint64_t last = note ? note->epoch : 0;
    s.note.epoch = now_us > last ? now_us : last + 1;
    s.note.logged_ms = now_ms;
    return s;
}

} // namespace loop
