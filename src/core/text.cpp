#include "core/text.hpp"

#include "core/error.hpp"

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace loop {

Error io_error(const std::string& what, int err) {
    return Error(Exit::Failure, what + ": " + std::strerror(err));
}

std::optional<std::string> name_problem(std::string_view name) {
    if (name.empty()) return "is empty";
    if (name.size() > 200) return "is longer than 200 bytes";
    if (name[0] == '.') return "starts with '.'";
    if (name[0] == '-') return "starts with '-'";
    for (unsigned char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  std::strchr("._:@+=-", c) != nullptr;
        if (c == 0) ok = false;
        if (!ok) {
            char buf[64];
            if (c == '/') {
                std::snprintf(buf, sizeof buf, "contains '/'");
            } else if (c < 0x20 || c >= 0x7f) {
                std::snprintf(buf, sizeof buf, "contains the byte 0x%02x", c);
            } else {
                std::snprintf(buf, sizeof buf, "contains '%c'", c);
            }
            return std::string(buf);
        }
    }
    return std::nullopt;
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

void check_name(std::string_view name, const char* what) {
    if (auto p = name_problem(name)) {
        throw Error(Exit::Usage, std::string(what) + " '" + printable(name) + "' " + *p +
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
    if (whole > INT64_MAX / mult - 1) return std::nullopt; // would overflow
    return whole * mult + frac * mult / frac_div;
}

int64_t parse_duration_or_throw(std::string_view text, const char* flag) {
    auto d = parse_duration(text);
    if (!d) {
        throw Error(Exit::Usage, std::string(flag) + ": bad duration '" + printable(text) +
                                     "': use 250ms, 10s, 5m, 2h, inf or a number of seconds");
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

} // namespace

std::string format_time(int64_t epoch_ms) {
    Civil tm = civil(epoch_ms / 1000);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(epoch_ms % 1000));
    return buf;
}

std::string format_clock(int64_t epoch_ms) {
    Civil tm = civil(epoch_ms / 1000);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

std::optional<int64_t> parse_time(std::string_view text) {
    int y, mo, d, h, mi, s;
    char rest[16] = {0};
    std::string t(text.substr(0, 40));
    if (std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%15s", &y, &mo, &d, &h, &mi, &s, rest) < 6) {
        return std::nullopt;
    }
    int ms = 0;
    if (rest[0] == '.') {
        if (std::sscanf(rest + 1, "%3d", &ms) != 1) return std::nullopt;
    }
    struct tm tm {};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    time_t secs = ::timegm(&tm);
    return static_cast<int64_t>(secs) * 1000 + ms;
}

} // namespace loop
