// The backend URL: every form, every error, and the password never shown.
#include "core/error.hpp"
#include "store/redis/backend_url.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace loop;
using namespace loop::redis;

namespace {

// The Error a parse throws (its message), or "" when it parses.
Error usage_error(const std::string& text, const char* env = nullptr) {
    try {
        parse_backend_url(text, env);
    } catch (const Error& e) {
        return e;
    }
    return Error(Exit::Ok, "");
}

} // namespace

TEST_CASE("file and empty are the file backend") {
    CHECK(parse_backend_url("", nullptr).kind == BackendKind::File);
    CHECK(parse_backend_url("file", nullptr).kind == BackendKind::File);
    CHECK(parse_backend_url("file", nullptr).redacted() == "file");
}

TEST_CASE("redis:// defaults") {
    BackendUrl u = parse_backend_url("redis://localhost", nullptr);
    CHECK(u.kind == BackendKind::Redis);
    CHECK(u.host == "localhost");
    CHECK(u.port == 6379);
    CHECK(u.db == 0);
    CHECK(u.prefix == "loop:");
    CHECK(u.session_ttl_ms == 30'000);
    CHECK(u.connect_timeout_ms == 2'000);
    CHECK(u.user.empty());
    CHECK(u.password.empty());
    CHECK_FALSE(u.is_unix());
    CHECK(u.endpoint() == "localhost:6379");
    CHECK(u.redacted() == "redis://localhost:6379/0?prefix=loop:&session_ttl=30s");
}

TEST_CASE("redis:// with every part") {
    BackendUrl u = parse_backend_url(
        "redis://alice:s%40cr%3At@redis.example.org:6380/3?prefix=team-a:&session_ttl=45s"
        "&connect_timeout=500ms",
        nullptr);
    CHECK(u.user == "alice");
    CHECK(u.password == "s@cr:t");
    CHECK(u.host == "redis.example.org");
    CHECK(u.port == 6380);
    CHECK(u.db == 3);
    CHECK(u.prefix == "team-a:");
    CHECK(u.session_ttl_ms == 45'000);
    CHECK(u.connect_timeout_ms == 500);
    CHECK(u.redacted() ==
          "redis://alice:***@redis.example.org:6380/3?prefix=team-a:&session_ttl=45s"
          "&connect_timeout=500ms");
}

TEST_CASE("redis:// password only, IPv6, trailing slash, ':' in the password") {
    BackendUrl u = parse_backend_url("redis://:pa:ss@[::1]:7000/", nullptr);
    CHECK(u.user.empty());
    CHECK(u.password == "pa:ss");
    CHECK(u.host == "::1");
    CHECK(u.port == 7000);
    CHECK(u.db == 0);
    CHECK(u.endpoint() == "[::1]:7000");
    CHECK(u.redacted() == "redis://:***@[::1]:7000/0?prefix=loop:&session_ttl=30s");
    // An unencoded '/' or '?' in the password: the last '@' ends the user info.
    BackendUrl v = parse_backend_url("redis://:a/b?c@h", nullptr);
    CHECK(v.password == "a/b?c");
    CHECK(v.host == "h");
}

TEST_CASE("redis+unix:// forms") {
    BackendUrl u = parse_backend_url("redis+unix:///run/redis/redis.sock", nullptr);
    CHECK(u.kind == BackendKind::Redis);
    CHECK(u.is_unix());
    CHECK(u.socket_path == "/run/redis/redis.sock");
    CHECK(u.db == 0);
    CHECK(u.endpoint() == "/run/redis/redis.sock");
    CHECK(u.redacted() == "redis+unix:///run/redis/redis.sock?db=0&prefix=loop:&session_ttl=30s");

    BackendUrl v = parse_backend_url(
        "redis+unix://bob:pw@/tmp/my%20dir/r.sock?db=2&prefix=x:&session_ttl=1m", nullptr);
    CHECK(v.socket_path == "/tmp/my dir/r.sock");
    CHECK(v.user == "bob");
    CHECK(v.password == "pw");
    CHECK(v.db == 2);
    CHECK(v.prefix == "x:");
    CHECK(v.session_ttl_ms == 60'000);
    CHECK(v.redacted() == "redis+unix://bob:***@/tmp/my dir/r.sock?db=2&prefix=x:&session_ttl=60s");
}

TEST_CASE("the password comes from LOOP_REDIS_PASSWORD unless the URL has one") {
    CHECK(parse_backend_url("redis://h", "envpw").password == "envpw");
    CHECK(parse_backend_url("redis://u:@h", "envpw").password == "envpw");
    CHECK(parse_backend_url("redis://u:@h", "envpw").user == "u");
    CHECK(parse_backend_url("redis://:urlpw@h", "envpw").password == "urlpw");
    CHECK(parse_backend_url("redis+unix:///s.sock", "envpw").password == "envpw");
    CHECK(parse_backend_url("redis://h", "").password.empty());
    CHECK(parse_backend_url("redis://h", "envpw").redacted().find("envpw") == std::string::npos);
    CHECK(parse_backend_url("redis://h", "envpw").redacted().find(":***@") != std::string::npos);
}

TEST_CASE("malformed URLs are usage errors naming the problem") {
    struct Case {
        const char* url;
        const char* says;
    };
    const std::vector<Case> cases = {
        {"http://h", "unknown scheme 'http'"},
        {"redis:/h", "unknown backend"},
        {"nonsense", "unknown backend"},
        {"redis://", "no host"},
        {"redis://:pw@", "no host"},
        {"redis://h:", "empty port"},
        {"redis://h:0", "port '0'"},
        {"redis://h:65536", "port '65536'"},
        {"redis://h:12x", "port '12x'"},
        {"redis://h/x", "database 'x'"},
        {"redis://h/-1", "database '-1'"},
        {"redis://h?prefix=", "prefix must be 1 to 64 bytes"},
        {"redis://h?prefix=a%20b", "prefix 'a%20b'"},
        {"redis://h?prefix=a b", "prefix 'a b'"},
        {"redis://h?session_ttl=abc", "session_ttl 'abc'"},
        {"redis://h?session_ttl=inf", "session_ttl 'inf'"},
        {"redis://h?session_ttl=500ms", "at least 1s"},
        {"redis://h?connect_timeout=0", "connect_timeout '0'"},
        {"redis://h?db=2", "unknown parameter 'db'"},
        {"redis://h?color=red", "unknown parameter 'color'"},
        {"redis://h?prefix", "parameter 'prefix' has no value"},
        {"redis://h?prefix=a&prefix=b", "'prefix' is given twice"},
        {"redis://h_ost!", "bad host name"},
        {"redis://[::1", "IPv6 address is not closed"},
        {"redis://[zz]:1", "bad IPv6 address"},
        {"redis://[::1]x", "after the IPv6 address"},
        {"redis://user@h", "USER:PASSWORD"},
        {"redis://u:%zz@h", "bad percent-encoding in the password"},
        {"redis://%g1:p@h", "bad percent-encoding in the user name"},
        {"redis+unix://", "absolute"},
        {"redis+unix://relative.sock", "absolute"},
        {"redis+unix:///", "no socket file"},
        {"redis+unix:///run/", "no socket file"},
        {"redis+unix:///s.sock?db=x", "db 'x'"},
        {"redis+unix:///s.sock?port=1", "unknown parameter 'port'"},
        {"redis+unix:///a%0ab.sock", "control byte"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.url);
        Error e = usage_error(c.url);
        CHECK(e.code() == Exit::Usage);
        CHECK(e.message().find(c.says) != std::string::npos);
        CHECK(e.message().find("backend URL") != std::string::npos);
    }
}

TEST_CASE("no message and no redacted form ever holds the password") {
    const std::string pw = "Hunter2SecretPw";
    const std::vector<std::string> bad = {
        "redis://:" + pw + "@",
        "redis://:" + pw + "@h:0",
        "redis://:" + pw + "@h:99999",
        "redis://:" + pw + "@h/notadb",
        "redis://:" + pw + "@h?prefix=bad%20",
        "redis://:" + pw + "@h?nope=1",
        "redis://:" + pw + "@h?session_ttl=x",
        "redis://:" + pw + "%zz@h",
        "redis://" + pw + "@h",
        "redis://:" + pw + "/x@h_!",
        "redis://:" + pw + "?a@[::1",
        "redis://:pre/" + pw + "@h:port",
        "redis+unix://:" + pw + "@relative",
        "redis+unix://:" + pw + "@/s.sock?db=x",
        "rediss://:" + pw + "@h",
        "redis:" + pw,
        pw,
    };
    for (const auto& url : bad) {
        CAPTURE(url);
        Error e = usage_error(url);
        CHECK(e.code() == Exit::Usage);
        CHECK(e.message().find(pw) == std::string::npos);
        CHECK(e.message().find("Hunter2") == std::string::npos);
        CHECK(e.message().find("SecretPw") == std::string::npos);
    }
    // Environment passwords are never part of a message either.
    Error e = usage_error("redis://h:0", pw.c_str());
    CHECK(e.message().find(pw) == std::string::npos);
    for (const auto& good : {"redis://:" + pw + "@h", "redis://u:" + pw + "@h:1/2?prefix=p:",
                             "redis+unix://:" + pw + "@/x.sock"}) {
        BackendUrl u = parse_backend_url(good, nullptr);
        CHECK(u.password == pw);
        CHECK(u.redacted().find(pw) == std::string::npos);
        CHECK(u.endpoint().find(pw) == std::string::npos);
    }
}
