#include "store/redis/backend_url.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <cstdlib>
#include <optional>
#include <set>

namespace loop::redis {

namespace {

constexpr const char* kTcpForm =
    "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB][?prefix=P&session_ttl=DUR]";
constexpr const char* kUnixForm = "redis+unix:///PATH.sock[?db=N&prefix=P&session_ttl=DUR]";

// Messages never quote the user info: only what follows the last '@'.
[[noreturn]] void bad(const std::string& what, const char* form) {
    throw Error(Exit::Usage, "backend URL: " + what + " (use " + form + ")");
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Percent-decodes `s`; `field` names it in the message (its value is never shown).
std::string percent_decode(std::string_view s, const char* field, const char* form) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out += s[i];
            continue;
        }
        int hi = i + 2 < s.size() ? hex_digit(s[i + 1]) : -1;
        int lo = i + 2 < s.size() ? hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0) bad(std::string("bad percent-encoding in the ") + field, form);
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::optional<long> parse_number(std::string_view s, long max) {
    if (s.empty() || s.size() > 10) return std::nullopt;
    long v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    if (v > max) return std::nullopt;
    return v;
}

bool prefix_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-' || c == '/' || c == '{' || c == '}';
}

std::string format_ms(int64_t ms) {
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

int64_t parse_positive_duration(std::string_view value, const char* key, int64_t min_ms,
                                const char* form) {
    auto d = parse_duration(value);
    if (!d || *d == kInfinite || *d < min_ms) {
        bad(std::string(key) + " '" + printable(value) + "' is not a duration of at least " +
                format_ms(min_ms) + " (250ms, 10s, 5m)",
            form);
    }
    return *d;
}

// "k=v&k=v" after the '?'. `allow_db`: the unix form names its database here.
void parse_query(std::string_view query, BackendUrl& url, bool allow_db, const char* form) {
    std::set<std::string> seen;
    while (!query.empty()) {
        size_t amp = query.find('&');
        std::string_view item = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        if (item.empty()) continue;
        size_t eq = item.find('=');
        std::string key(item.substr(0, eq));
        if (eq == std::string_view::npos)
            bad("parameter '" + printable(key) + "' has no value", form);
        std::string_view value = item.substr(eq + 1);
        if (!seen.insert(key).second)
            bad("parameter '" + printable(key) + "' is given twice", form);
        if (key == "prefix") {
            if (value.empty() || value.size() > 64) bad("prefix must be 1 to 64 bytes", form);
            for (char c : value)
                if (!prefix_char(c))
                    bad("prefix '" + printable(value) +
                            "' may only contain A-Z a-z 0-9 . _ : - / { }",
                        form);
            url.prefix = std::string(value);
        } else if (key == "session_ttl") {
            url.session_ttl_ms = parse_positive_duration(value, "session_ttl", 1000, form);
        } else if (key == "connect_timeout") {
            url.connect_timeout_ms = parse_positive_duration(value, "connect_timeout", 1, form);
        } else if (key == "db" && allow_db) {
            auto n = parse_number(value, 1'000'000);
            if (!n) bad("db '" + printable(value) + "' is not a database number", form);
            url.db = static_cast<int>(*n);
        } else {
            bad("unknown parameter '" + printable(key) + "'", form);
        }
    }
}

// USER:PASSWORD before the last '@' of `rest` (removed from `rest`).
void take_user_info(std::string_view& rest, BackendUrl& url, const char* form) {
    size_t at = rest.rfind('@');
    if (at == std::string_view::npos) return;
    std::string_view info = rest.substr(0, at);
    rest = rest.substr(at + 1);
    size_t colon = info.find(':');
    if (colon == std::string_view::npos)
        bad("the part before '@' must be USER:PASSWORD or :PASSWORD", form);
    url.user = percent_decode(info.substr(0, colon), "user name", form);
    url.password = percent_decode(info.substr(colon + 1), "password", form);
}

bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

void parse_host_port(std::string_view hp, BackendUrl& url) {
    std::string_view port;
    if (!hp.empty() && hp[0] == '[') {
        size_t close = hp.find(']');
        if (close == std::string_view::npos) bad("'[' of an IPv6 address is not closed", kTcpForm);
        url.host = std::string(hp.substr(1, close - 1));
        for (char c : url.host)
            if (hex_digit(c) < 0 && c != ':' && c != '.')
                bad("bad IPv6 address '" + printable(url.host) + "'", kTcpForm);
        std::string_view after = hp.substr(close + 1);
        if (!after.empty() && after[0] != ':')
            bad("unexpected '" + printable(after) + "' after the IPv6 address", kTcpForm);
        if (!after.empty()) port = after.substr(1);
        if (after.size() == 1) bad("empty port", kTcpForm);
    } else {
        size_t colon = hp.find(':');
        url.host = std::string(hp.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = hp.substr(colon + 1);
            if (port.empty()) bad("empty port", kTcpForm);
        }
        for (char c : url.host)
            if (!host_char(c)) bad("bad host name '" + printable(url.host) + "'", kTcpForm);
    }
    if (url.host.empty()) bad("no host", kTcpForm);
    if (!port.empty()) {
        auto p = parse_number(port, 65535);
        if (!p || *p == 0) bad("port '" + printable(port) + "' is not a number 1-65535", kTcpForm);
        url.port = static_cast<int>(*p);
    }
}

BackendUrl parse_tcp(std::string_view rest) {
    BackendUrl url;
    url.kind = BackendKind::Redis;
    take_user_info(rest, url, kTcpForm);
    size_t q = rest.find('?');
    std::string_view query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
    rest = rest.substr(0, q);
    size_t slash = rest.find('/');
    parse_host_port(rest.substr(0, slash), url);
    if (slash != std::string_view::npos) {
        std::string_view db = rest.substr(slash + 1);
        if (!db.empty()) {
            auto n = parse_number(db, 1'000'000);
            if (!n) bad("database '" + printable(db) + "' is not a number", kTcpForm);
            url.db = static_cast<int>(*n);
        }
    }
    parse_query(query, url, false, kTcpForm);
    return url;
}

BackendUrl parse_unix(std::string_view rest) {
    BackendUrl url;
    url.kind = BackendKind::Redis;
    url.host.clear();
    take_user_info(rest, url, kUnixForm);
    size_t q = rest.find('?');
    std::string_view query = q == std::string_view::npos ? std::string_view{} : rest.substr(q + 1);
    rest = rest.substr(0, q);
    if (rest.empty() || rest[0] != '/') bad("the socket path must be absolute", kUnixForm);
    url.socket_path = percent_decode(rest, "socket path", kUnixForm);
    if (url.socket_path.size() < 2 || url.socket_path.back() == '/')
        bad("no socket file in '" + printable(url.socket_path) + "'", kUnixForm);
    for (char c : url.socket_path)
        if (static_cast<unsigned char>(c) < 0x20)
            bad("control byte in the socket path '" + printable(url.socket_path) + "'", kUnixForm);
    parse_query(query, url, true, kUnixForm);
    return url;
}

} // namespace

std::string BackendUrl::endpoint() const {
    if (is_unix()) return socket_path;
    if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
    return host + ":" + std::to_string(port);
}

std::string BackendUrl::redacted() const {
    if (kind == BackendKind::File) return "file";
    std::string info;
    if (!user.empty() || !password.empty()) info = user + (password.empty() ? ":@" : ":***@");
    std::string params = "prefix=" + prefix + "&session_ttl=" + format_ms(session_ttl_ms);
    if (connect_timeout_ms != 2000) params += "&connect_timeout=" + format_ms(connect_timeout_ms);
    if (is_unix())
        return "redis+unix://" + info + socket_path + "?db=" + std::to_string(db) + "&" + params;
    return "redis://" + info + endpoint() + "/" + std::to_string(db) + "?" + params;
}

BackendUrl parse_backend_url(std::string_view text, const char* env_password) {
    BackendUrl url;
    if (text.empty() || text == "file") return url;
    constexpr std::string_view tcp = "redis://", unix_scheme = "redis+unix://";
    if (text.substr(0, tcp.size()) == tcp) {
        url = parse_tcp(text.substr(tcp.size()));
    } else if (text.substr(0, unix_scheme.size()) == unix_scheme) {
        url = parse_unix(text.substr(unix_scheme.size()));
    } else {
        // Quote the scheme only: the rest may hold a password.
        size_t sep = text.find("://");
        std::string what = "unknown backend";
        if (sep != std::string_view::npos && sep <= 16) {
            std::string_view scheme = text.substr(0, sep);
            bool plain = true;
            for (char c : scheme)
                plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+');
            if (plain) what = "unknown scheme '" + std::string(scheme) + "'";
        }
        throw Error(Exit::Usage,
                    "backend URL: " + what + " (use file, " + kTcpForm + " or " + kUnixForm + ")");
    }
    if (url.password.empty() && env_password != nullptr) url.password = env_password;
    return url;
}

BackendUrl parse_backend_url(std::string_view text) {
    return parse_backend_url(text, std::getenv("LOOP_REDIS_PASSWORD"));
}

} // namespace loop::redis
