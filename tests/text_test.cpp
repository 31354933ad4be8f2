// Names, durations and times (SPEC section 3).
#include "core/claims/claims.hpp"
#include "core/error.hpp"
#include "core/text.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace loop;

namespace {

Exit usage_code_of(auto&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.code();
    }
    return Exit::Ok;
}

} // namespace

TEST_CASE("names: valid ones") {
    for (std::string n : {"repo-x",
                          "issue-42",
                          "file:src.main.cpp",
                          "a",
                          "A",
                          "0",
                          "x@host",
                          "k=v",
                          "a+b",
                          "under_score",
                          "a..b",
                          "a.",
                          "x-",
                          "Z9._:@+=-",
                          "repo-x/issue-42",
                          "file:src/main.py",
                          "a/b/c",
                          "a/b.",
                          "a./b",
                          "a/-b",
                          "a/b..c"}) {
        CAPTURE(n);
        CHECK_FALSE(name_problem(n));
        CHECK_NOTHROW(check_name(n, "claim name"));
    }
    // Exactly 200 bytes is the longest allowed.
    CHECK_FALSE(name_problem(std::string(200, 'a')));
    // Every allowed character.
    std::string all;
    for (char c = 'a'; c <= 'z'; ++c)
        all += c;
    for (char c = 'A'; c <= 'Z'; ++c)
        all += c;
    for (char c = '0'; c <= '9'; ++c)
        all += c;
    all += "._:@+=/-";
    CHECK_FALSE(name_problem(all));
}

TEST_CASE("names: every bad kind is refused with a reason") {
    struct Bad {
        std::string name;
        std::string reason_part;
    };
    const std::vector<Bad> bad = {
        {"", "empty"},
        {std::string(201, 'a'), "200"},
        {std::string(4096, 'b'), "200"},
        {"/", "starts with '/'"},
        {"/abs", "starts with '/'"},
        {"a/", "ends with '/'"},
        {"a/b/", "ends with '/'"},
        {"a//b", "empty path segment"},
        {"..", "'.'"},
        {"../x", "'.'"},
        {"a/../b", "segment starting with '.'"},
        {"x/./y", "segment starting with '.'"},
        {"a/.b", "segment starting with '.'"},
        {"a/..", "segment starting with '.'"},
        {"a%b", "'%'"},
        {".hidden", "'.'"},
        {".", "'.'"},
        {"-rf", "'-'"},
        {"--help", "'-'"},
        {"a b", "' '"},
        {" a", "' '"},
        {"a\tb", "0x09"},
        {"a\nb", "0x0a"},
        {"a\rb", "0x0d"},
        {"bell\x07", "0x07"},
        {"del\x7f", "0x7f"},
        {std::string("nul\0byte", 8), "0x00"},
        {std::string("\0", 1), "0x00"},
        {"caf\xc3\xa9", "0xc3"},
        {"\xff", "0xff"},
        {"a*b", "'*'"},
        {"a?b", "'?'"},
        {"a\\b", "'\\'"},
        {"a$b", "'$'"},
        {"a\"b", "'\"'"},
        {"a,b", "','"},
    };
    for (const auto& b : bad) {
        CAPTURE(b.name);
        auto p = name_problem(b.name);
        REQUIRE(p);
        CHECK(p->find(b.reason_part) != std::string::npos);
        try {
            check_name(b.name, "claim name");
            FAIL("check_name accepted a bad name");
        } catch (const Error& e) {
            CHECK(e.code() == Exit::Usage);
            CHECK(e.message().find("claim name") != std::string::npos);
            // The message is printable: control bytes are escaped.
            for (unsigned char c : e.message())
                CHECK((c >= 0x20 && c < 0x7f));
        }
    }
}

TEST_CASE("names: the NUL byte is not silently cut off") {
    // "ab\0cd" must not be taken for "ab".
    std::string_view v("ab\0cd", 5);
    CHECK(name_problem(v));
    std::string_view trailing("ab\0", 3);
    CHECK(name_problem(trailing));
}

TEST_CASE("session ids: like names, but never with '/'") {
    CHECK_FALSE(session_id_problem("worker.1"));
    auto p = session_id_problem("a/b");
    REQUIRE(p);
    CHECK(*p == "contains '/'");
    CHECK(session_id_problem(".x"));
    CHECK(usage_code_of([] { check_session_id("a/b"); }) == Exit::Usage);
    CHECK_NOTHROW(check_session_id("s-1"));
}

TEST_CASE("name files: today's names keep their file names, '/' becomes '%'") {
    for (std::string n : {"repo-x", "issue-42", "file:src.main.cpp", "a..b", "Z9._:@+=-"}) {
        CAPTURE(n);
        CHECK(name_file(n) == n);
        CHECK(file_name_claim(n) == n);
    }
    CHECK(name_file("repo-x/issue-42") == "repo-x%issue-42");
    CHECK(name_file("file:src/main.py") == "file:src%main.py");
    CHECK(file_name_claim("repo-x%issue-42") == "repo-x/issue-42");
}

TEST_CASE("name files: a round trip, injective, never a name the home keeps for itself") {
    std::vector<std::string> names = {"a",
                                      "a/b",
                                      "a%b" /* invalid */,
                                      "a:b",
                                      "a-b",
                                      "a.b",
                                      "a_b",
                                      "a=b",
                                      "a+b",
                                      "a@b",
                                      "ab",
                                      "a/b/c",
                                      "a/bc",
                                      "ab/c",
                                      "a.b/c",
                                      "a/b.c",
                                      "a/b..",
                                      "a../b",
                                      "tmp/x",
                                      "tmp.x/y",
                                      "lock",
                                      "x/lock",
                                      "x/tmp..",
                                      std::string(200, 'a'),
                                      std::string(99, 'a') + "/" + std::string(100, 'b'),
                                      std::string(100, 'a') + "/" + std::string(99, 'b')};
    // Every name of up to 4 bytes over a small alphabet with '/' and '.'.
    const std::string alphabet = "a./-%";
    std::vector<std::string> gen = {""};
    for (int len = 1; len <= 4; ++len) {
        std::vector<std::string> next;
        for (const auto& g : gen)
            for (char c : alphabet)
                next.push_back(g + c);
        for (const auto& n : next)
            names.push_back(n);
        gen = std::move(next);
    }
    std::map<std::string, std::string> by_file;
    size_t valid = 0;
    for (const auto& n : std::set<std::string>(names.begin(), names.end())) {
        if (name_problem(n)) continue;
        ++valid;
        CAPTURE(n);
        const std::string f = name_file(n);
        // A file name: no '/', at most 255 bytes, never a dot-file (".",
        // "..", ".tmp.*", ".lock" and the like are the home's own).
        CHECK(f.find('/') == std::string::npos);
        CHECK(f.size() <= 255);
        REQUIRE_FALSE(f.empty());
        CHECK(f[0] != '.');
        CHECK(f.rfind(".tmp.", 0) != 0);
        // Decodes back to the name.
        CHECK(file_name_claim(f) == n);
        // No two names share a file.
        auto [it, fresh] = by_file.emplace(f, n);
        CHECK_MESSAGE(fresh, n << " and " << it->second << " share " << f);
    }
    CHECK(valid > 70);
    // Files that decode to no claim name are not claims.
    for (const std::string& f :
         std::vector<std::string>{"", ".", "..", ".tmp.1.2.x", ".lock", "a%%b", "%a", "a%", "a%.b",
                                  "x%..%y", "a b", "-x", std::string("a\0b", 3), "a/b"}) {
        CAPTURE(f);
        CHECK_FALSE(file_name_claim(f));
    }
}

TEST_CASE("normalize_names sorts, deduplicates and refuses bad or missing names") {
    CHECK(normalize_names({"c", "a", "b", "a", "c"}) == std::vector<std::string>{"a", "b", "c"});
    CHECK(normalize_names({"x"}) == std::vector<std::string>{"x"});
    CHECK(usage_code_of([] { normalize_names({}); }) == Exit::Usage);
    CHECK(usage_code_of([] { normalize_names({"ok", "bad//name"}); }) == Exit::Usage);
    CHECK(normalize_names({"b/a", "a/b", "a/b"}) == std::vector<std::string>{"a/b", "b/a"});
    CHECK(usage_code_of([] { normalize_names({"ok", ""}); }) == Exit::Usage);
}

TEST_CASE("durations: the documented forms") {
    CHECK(parse_duration("250ms") == 250);
    CHECK(parse_duration("10s") == 10'000);
    CHECK(parse_duration("5m") == 300'000);
    CHECK(parse_duration("2h") == 7'200'000);
    CHECK(parse_duration("inf") == kInfinite);
    CHECK(parse_duration("0") == 0);
    CHECK(parse_duration("7") == 7'000); // a bare number is seconds
    CHECK(parse_duration("30") == 30'000);
    CHECK(parse_duration("0ms") == 0);
    CHECK(parse_duration("0s") == 0);
    CHECK(parse_duration("1.5s") == 1'500);
    CHECK(parse_duration("0.25") == 250);
    CHECK(parse_duration("1d") == 86'400'000);
    CHECK(parse_duration("86400s") == 86'400'000);
}

TEST_CASE("durations: malformed ones are refused") {
    for (const char* bad : {"",
                            " ",
                            "ms",
                            "s",
                            "10x",
                            "10S",
                            "10 s",
                            " 10s",
                            "10s ",
                            "-5s",
                            "-1",
                            "+5s",
                            "s5",
                            "1.s",
                            ".5s",
                            "1..5s",
                            "5ms5",
                            "1e3",
                            "0x10",
                            "infinite",
                            "Inf",
                            "10sec",
                            "10mss",
                            "1h30m",
                            "99999999999999999999",
                            "99999999999999999999ms"}) {
        CAPTURE(bad);
        CHECK_FALSE(parse_duration(bad));
    }
    try {
        parse_duration_or_throw("soon", "--wait");
        FAIL("accepted a bad duration");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Usage);
        CHECK(e.message().find("--wait") != std::string::npos);
        CHECK(e.message().find("soon") != std::string::npos);
    }
    CHECK(parse_duration_or_throw("inf", "--wait") == kInfinite);
    CHECK(parse_duration_or_throw("3", "--ttl") == 3'000);
}

TEST_CASE("durations: too large to represent is refused, not wrapped around") {
    // INT64_MAX milliseconds is 106751991167 days and a bit; anything past
    // 100 years is refused anyway.
    CHECK_FALSE(parse_duration("100000000000d"));
    CHECK_FALSE(parse_duration("1000000000000s"));
    CHECK_FALSE(parse_duration("106751991168d"));
    CHECK_FALSE(parse_duration("9999999999999h"));
    CHECK_FALSE(parse_duration("10000000000000d"));
    CHECK_FALSE(parse_duration("1000000000000d"));
}

TEST_CASE("times: RFC 3339 UTC with milliseconds") {
    CHECK(format_time(0) == "1970-01-01T00:00:00.000Z");
    CHECK(format_time(1795457658123) == "2026-11-23T18:14:18.123Z");
    CHECK(format_time(951782400000) == "2000-02-29T00:00:00.000Z");
    CHECK(format_time(4102444799999) == "2099-12-31T23:59:59.999Z");
    CHECK(format_clock(1795457658123) == "18:14:18");
}

TEST_CASE("times: parse what format_time prints") {
    for (int64_t ms : {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{1000}, int64_t{951782400000},
                       int64_t{1795457658123}, int64_t{4102444799999}}) {
        CAPTURE(ms);
        CHECK(parse_time(format_time(ms)) == ms);
    }
    for (int64_t ms = 1'700'000'000'000; ms < 1'700'000'000'000 + 86'400'000 * 40LL;
         ms += 86'400'000 + 3'600'000 + 61'001) {
        CAPTURE(ms);
        CHECK(parse_time(format_time(ms)) == ms);
    }
    CHECK(parse_time("2026-11-23T18:14:18Z") == 1795457658000);
    CHECK(parse_time("2026-11-23T18:14:18.123Z") == 1795457658123);
    CHECK_FALSE(parse_time(""));
    CHECK_FALSE(parse_time("yesterday"));
    CHECK_FALSE(parse_time("2026-11-23"));
    CHECK_FALSE(parse_time("18:14:18"));
}

TEST_CASE("ages: compact human form") {
    CHECK(format_age(0) == "0ms");
    CHECK(format_age(-5) == "0ms");
    CHECK(format_age(250) == "250ms");
    CHECK(format_age(999) == "999ms");
    CHECK(format_age(1'000) == "1s");
    CHECK(format_age(59'999) == "59s");
    CHECK(format_age(192'000) == "3m12s");
    CHECK(format_age(3'600'000) == "1h00m");
    CHECK(format_age(7'500'000) == "2h05m");
    CHECK(format_age(97'200'000) == "1d03h");
}

TEST_CASE("times: only the whole RFC 3339 form is read, nothing before or after it") {
    for (const char* t : {
             "2026-11-23T18:14:18Zjunk",
             "2026-11-23T18:14:18.123Z ",
             "2026-11-23T18:14:18.123",
             "2026-11-23T18:14:18",
             " 2026-11-23T18:14:18Z",
             "+2026-11-23T18:14:18Z",
             "2026-11-23T18:14:18.Z",
             "2026-11-23T18:14:18.-12Z",
             "2026-11-23T18:14:18.1234567890Z",
             "2026-1-23T18:14:18Z",
             "2026-13-01T00:00:00Z",
             "2026-00-01T00:00:00Z",
             "2026-02-30T00:00:00Z",
             "2026-11-00T00:00:00Z",
             "2026-11-23T24:00:00Z",
             "2026-11-23T18:60:00Z",
             "2026-11-23T18:14:60Z",
             "2026-11-23t18:14:18Z",
         }) {
        CAPTURE(t);
        CHECK_FALSE(parse_time(t));
    }
    // A fraction is a fraction of a second, whatever its number of digits.
    CHECK(parse_time("2026-11-23T18:14:18.5Z") == 1795457658500);
    CHECK(parse_time("2026-11-23T18:14:18.05Z") == 1795457658050);
    CHECK(parse_time("2026-11-23T18:14:18.123456Z") == 1795457658123);
    CHECK(parse_time("2024-02-29T00:00:00Z") == 1709164800000);
}

TEST_CASE("times: before 1970 and at the extremes, shown and read back") {
    CHECK(format_time(-1) == "1969-12-31T23:59:59.999Z");
    CHECK(format_clock(-1) == "23:59:59");
    CHECK(parse_time("1969-12-31T23:59:59.999Z") == -1);
    CHECK(parse_time("0000-01-01T00:00:00.000Z") == -62167219200000);
    CHECK(format_time(-62167219200000) == "0000-01-01T00:00:00.000Z");
    CHECK(parse_time("9999-12-31T23:59:59.999Z") == 253402300799999);
    // Far past any year of four digits: shown, not read back, never a crash.
    CHECK_FALSE(format_time(INT64_MIN).empty());
    CHECK_FALSE(format_time(INT64_MAX).empty());
    CHECK_FALSE(parse_time(format_time(INT64_MAX)));
}

TEST_CASE("durations: longer than 100 years is refused, up to it is taken") {
    CHECK(parse_duration("36500d") == kMaxDurationMs);
    CHECK_FALSE(parse_duration("36500.5d"));
    CHECK_FALSE(parse_duration("36501d"));
    CHECK_FALSE(parse_duration("106751991166d"));
    CHECK_FALSE(parse_duration("9223372036854775807ms"));
    CHECK_FALSE(parse_duration("3153600000001ms"));
    CHECK(parse_duration("3153600000000ms") == kMaxDurationMs);
    CHECK(parse_duration("inf") == kInfinite);
}

TEST_CASE("UTF-8: valid text passes, every malformed kind is found at its byte") {
    CHECK_FALSE(invalid_utf8_at(""));
    CHECK_FALSE(invalid_utf8_at("plain ascii"));
    CHECK_FALSE(invalid_utf8_at("caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x94\x92"));
    CHECK(invalid_utf8_at("ab\xff") == 2u);           // not a lead byte
    CHECK(invalid_utf8_at("a\xc3") == 1u);            // cut off
    CHECK(invalid_utf8_at("\xe2\x82x") == 0u);        // bad continuation
    CHECK(invalid_utf8_at("\xc0\xaf") == 0u);         // overlong
    CHECK(invalid_utf8_at("\xed\xa0\x80") == 0u);     // a UTF-16 surrogate
    CHECK(invalid_utf8_at("\xf4\x90\x80\x80") == 0u); // past U+10FFFF
    CHECK(usage_code_of([] { check_utf8("x\xff", "--reason"); }) == Exit::Usage);
}

TEST_CASE("messages: control bytes are escaped, newlines, tabs and UTF-8 kept") {
    CHECK(escape_controls("a\x1b[31mb") == "a\\x1b[31mb");
    CHECK(escape_controls(std::string("n\0l", 3)) == "n\\x00l");
    CHECK(escape_controls("del\x7f") == "del\\x7f");
    CHECK(escape_controls("two\nlines\tand caf\xc3\xa9") == "two\nlines\tand caf\xc3\xa9");
}
