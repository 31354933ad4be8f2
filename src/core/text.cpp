#include "core/text.hpp"

#include "core/error.hpp"
#include "os/fs.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>

namespace loop {

Error io_error(const std::string& what, int err) {
    return Error(Exit::Failure, what + ": " + os::read_error_text(err));
}

std::optional<std::string> name_problem(std::string_view name) {
    if (name.empty()) return "is empty";
    if (name.size() > 200) return "is longer than 200 bytes";
    if (name[0] == '.') return "starts with '.'";
    if (name[0] == '-') return "starts with '-'";
    if (name[0] == '/') return "starts with '/'";
    for (unsigned char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::strchr("._:@+=/-", c) != nullptr;
        if (c == 0) ok = false;
        if (!ok) {
            char buf[64];
            if (c < 0x20 || c >= 0x7f) {
                std::snprintf(buf, sizeof buf, "contains the byte 0x%02x", c);
            } else {
                std::snprintf(buf, sizeof buf, "contains '%c'", c);
            }
            return std::string(buf);
        }
    }
    if (name.back() == '/') return "ends with '/'";
    if (name.find("//") != std::string_view::npos) return "has an empty path segment";
    if (name.find("/.") != std::string_view::npos) return "has a path segment starting with '.'";
    return std::nullopt;
}

std::optional<std::string> session_id_problem(std::string_view id) {
    auto p = name_problem(id);
    if (p || id.find('/') == std::string_view::npos) return p;
    return "contains '/'";
}

std::string name_file(std::string_view name) {
    std::string out(name);
    for (char& c : out)
        if (c == '/') c = '%';
    return out;
}

std::optional<std::string> file_name_claim(std::string_view file) {
    std::string name(file);
    for (char& c : name) {
        if (c == '/') return std::nullopt; // no file name has it; no encoding makes it
        if (c == '%') c = '/';
    }
    if (name_problem(name)) return std::nullopt;
    return name;
}

std::string printable(std::string_view s, bool keep_utf8) {
    std::string out;
    for (unsigned char c : s.substr(0, 60)) {
        if (c < 0x20 || c == 0x7f || (c > 0x7f && !keep_utf8)) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    if (s.size() > 60) out += "...";
    return out;
}

std::optional<size_t> invalid_utf8_at(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t len = 0;
        uint32_t cp = 0, min = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return i;
        }
        if (i + len > s.size()) return i;
        for (size_t k = 1; k < len; ++k) {
            const unsigned char cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) return i;
            cp = (cp << 6) | (cc & 0x3f);
        }
        // Overlong forms, UTF-16 surrogates and values past U+10FFFF are
        // not UTF-8 (and JSON cannot carry them).
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
        i += len;
    }
    return std::nullopt;
}

void check_utf8(std::string_view text, const char* what) {
    if (auto at = invalid_utf8_at(text))
        throw Error(Exit::Usage, std::string(what) + ": '" + printable(text) +
                                     "' is not valid UTF-8 (at byte " + std::to_string(*at) + ")");
}

std::string escape_controls(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (unsigned char c : s) {
        if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

void check_name(std::string_view name, const char* what) {
    if (auto p = name_problem(name)) {
        throw Error(Exit::Usage, std::string(what) + " '" + printable(name) + "' " + *p +
                                     ": use 1 to 200 characters of A-Z a-z 0-9 . _ : @ + = - /, "
                                     "not starting with '-' or '/', not ending with '/', with no "
                                     "empty or '.'-led segment");
    }
}

void check_session_id(std::string_view id) {
    if (auto p = session_id_problem(id)) {
        throw Error(Exit::Usage, "session id '" + printable(id) + "' " + *p +
                                     ": use 1 to 200 characters of A-Z a-z 0-9 . _ : @ + = -, "
                                     "not starting with '.' or '-'");
    }
}

std::optional<int64_t> parse_duration(std::string_view t) {
    if (t == "inf" || t == "infinity") return kInfinite;
    if (t.empty()) return std::nullopt;
    size_t i = 0;
    int64_t whole = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
        if (whole > 1'000'000'000'000LL) return std::nullopt;
        whole = whole * 10 + (t[i] - '0');
        ++i;
    }
    if (i == 0) return std::nullopt;
    // Optional fraction: "1.5s".
    int64_t frac = 0, frac_div = 1;
    if (i < t.size() && t[i] == '.') {
        ++i;
        size_t start = i;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
            if (frac_div < 1'000'000) {
                frac = frac * 10 + (t[i] - '0');
                frac_div *= 10;
            }
            ++i;
        }
        if (i == start) return std::nullopt;
    }
    std::string_view unit = t.substr(i);
    int64_t mult;
    if (unit.empty() || unit == "s") {
        mult = 1000;
    } else if (unit == "ms") {
        mult = 1;
    } else if (unit == "m") {
        mult = 60'000;
    } else if (unit == "h") {
        mult = 3'600'000;
    } else if (unit == "d") {
        mult = 86'400'000;
    } else {
        return std::nullopt;
    }
    if (whole > kMaxDurationMs / mult) return std::nullopt; // past the bound (or an overflow)
    const int64_t ms = whole * mult + frac * mult / frac_div;
    if (ms > kMaxDurationMs) return std::nullopt;
    return ms;
}

int64_t parse_duration_or_throw(std::string_view text, const char* flag) {
    auto d = parse_duration(text);
    if (!d) {
        throw Error(Exit::Usage, std::string(flag) + ": bad duration '" + printable(text) +
                                     "': use 250ms, 10s, 5m, 2h, inf or a number of seconds (at "
                                     "most 36500d, 100 years)");
    }
    return *d;
}

std::string format_age(int64_t ms) {
    if (ms < 0) ms = 0;
    char buf[32];
    if (ms < 1000) {
        std::snprintf(buf, sizeof buf, "%lldms", static_cast<long long>(ms));
        return buf;
    }
    long long s = ms / 1000;
    if (s < 60) {
        std::snprintf(buf, sizeof buf, "%llds", s);
    } else if (s < 3600) {
        std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
    } else if (s < 86400) {
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
    } else {
        std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
    }
    return buf;
}

namespace {

// UTC calendar fields from epoch seconds, by arithmetic (H. Hinnant's
// civil_from_days): gmtime_r would load the time zone database first.
struct Civil {
    int tm_year, tm_mon, tm_mday, tm_hour, tm_min, tm_sec;
};

Civil civil(int64_t secs) {
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    days += 719468;
    int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    int64_t doe = days - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) ++y;
    return {static_cast<int>(y - 1900),
            static_cast<int>(m - 1),
            static_cast<int>(d),
            static_cast<int>(rem / 3600),
            static_cast<int>(rem % 3600 / 60),
            static_cast<int>(rem % 60)};
}

int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Milliseconds within the second, 0 to 999 also before 1970.
int millis_of(int64_t epoch_ms) {
    int64_t r = epoch_ms % 1000;
    return static_cast<int>(r < 0 ? r + 1000 : r);
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil), the inverse of civil().
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int days_in_month(int y, int m) {
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : kDays[m - 1];
}

// The `n` decimal digits at `pos` of `t` as a number, or -1.
int digits_at(std::string_view t, size_t pos, size_t n) {
    if (pos + n > t.size()) return -1;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (t[i] < '0' || t[i] > '9') return -1;
        v = v * 10 + (t[i] - '0');
    }
    return v;
}

} // namespace

std::string format_time(int64_t epoch_ms) {
    Civil tm = civil(floor_div(epoch_ms, 1000));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis_of(epoch_ms));
    return buf;
}

std::string format_clock(int64_t epoch_ms) {
    Civil tm = civil(floor_div(epoch_ms, 1000));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

std::optional<int64_t> parse_time(std::string_view t) {
    // Exactly YYYY-MM-DDTHH:MM:SS, an optional fraction of 1 to 9 digits
    // (read to the millisecond), then Z and nothing after it.
    if (t.size() < 20 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' || t[16] != ':')
        return std::nullopt;
    int y = digits_at(t, 0, 4), mo = digits_at(t, 5, 2), d = digits_at(t, 8, 2);
    int h = digits_at(t, 11, 2), mi = digits_at(t, 14, 2), s = digits_at(t, 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || s < 0 || s > 59)
        return std::nullopt;
    size_t i = 19;
    int64_t ms = 0;
    if (t[i] == '.') {
        size_t start = ++i;
        int64_t scale = 100;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
            ms += (t[i] - '0') * scale;
            scale /= 10;
            ++i;
        }
        if (i == start || i - start > 9) return std::nullopt;
    }
    if (i + 1 != t.size() || t[i] != 'Z') return std::nullopt;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
    return secs * 1000 + ms;
}

} // namespace loop
