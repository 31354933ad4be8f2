// Parsing and formatting of the small values users type and read:
// claim names, durations, timestamps.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loop {

// Why a claim name is refused, or nullopt when it is valid. Claim names
// are 1..200 bytes of [A-Za-z0-9._:@+=/-], not starting with '-' or '/',
// not ending with '/', without an empty path segment ("a//b") or one that
// starts with '.' (".hidden", "x/../y", "a/.b").
std::optional<std::string> name_problem(std::string_view name);
// The same for session ids, which also exclude '/' (they are file names).
std::optional<std::string> session_id_problem(std::string_view id);

// Throws Error(Usage) naming `what` ("claim name").
void check_name(std::string_view name, const char* what);
void check_session_id(std::string_view id);

// The file name a claim name is stored under (claims/, locks/): '/', which
// is no file name byte, becomes '%', which is no claim name byte; every
// other byte stays. So it is injective, a name without '/' keeps its own
// file name, and it never yields '.', '..' or any name starting with '.'
// (the home's own files: temp files ".tmp.*", locks, notes).
std::string name_file(std::string_view name);
// The claim name stored under file name `file`: nullopt when it decodes to
// no valid claim name (e.g. "a%%b", ".x", "a b").
std::optional<std::string> file_name_claim(std::string_view file);

// `s` fit for one line of a message: at most 60 bytes, control bytes (and,
// unless `keep_utf8`, bytes outside ASCII) as \xNN.
std::string printable(std::string_view s, bool keep_utf8 = false);

// Where `s` stops being valid UTF-8, or nullopt when it is.
std::optional<size_t> invalid_utf8_at(std::string_view s);
// Throws Error(Usage) naming `what` ("--reason") when `text` is not UTF-8.
void check_utf8(std::string_view text, const char* what);

// `s` with control bytes other than newline and tab (and DEL) as \xNN, so
// that a message never carries raw terminal escapes.
std::string escape_controls(std::string_view s);

// The longest duration accepted: 100 years (36500 days).
constexpr int64_t kMaxDurationMs = int64_t{36500} * 86'400'000;

// Durations: "250ms", "10s", "5m", "2h", "inf", bare number = seconds.
// Returns milliseconds; -1 means infinite. nullopt when malformed or
// longer than kMaxDurationMs.
constexpr int64_t kInfinite = -1;
std::optional<int64_t> parse_duration(std::string_view text);
// Throws Error(Usage) mentioning the flag.
int64_t parse_duration_or_throw(std::string_view text, const char* flag);

// "3m12s", "250ms", "2h05m", "1d03h".
std::string format_age(int64_t ms);

// RFC 3339 UTC with milliseconds: 2026-11-23T18:14:18.123Z
std::string format_time(int64_t epoch_ms);
// HH:MM:SS UTC, for human messages.
std::string format_clock(int64_t epoch_ms);
// Parses what format_time prints (and without milliseconds).
std::optional<int64_t> parse_time(std::string_view text);

} // namespace loop
