// core/flat_json: the one-pass reader of flat records, and that a session
// record it reads is the one nlohmann's reader makes of the same text.
#include "core/error.hpp"
#include "core/flat_json.hpp"
#include "core/records.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace loop;

namespace {

bool plain(const std::string& text) {
    return read_flat_object(text).has_value();
}

// What the general reader makes of `text`: the record written back, or
// "refused".
std::string general(const std::string& text) {
    try {
        return to_json_text(session_from_json_dom(text, "sessions/t"));
    } catch (const Error&) {
        return "refused";
    }
}

const char* const kValid =
    R"({"boot_id":"b","clock_boot_id":"c","heartbeat_boot_ms":5,"heartbeat_ms":4,)"
    R"("host":"h","id":"s-1","kind":"process","label":"l","machine_id":"m","nonce":"n",)"
    R"("pgid":7,"pid":42,"pid_ns":"4026531836","replica":1,"restarts":2,"start_ticks":99,)"
    R"("started_ms":3,"ttl_ms":0,"worker":"w"})";

const char* const kFields[] = {
    "boot_id", "clock_boot_id", "heartbeat_boot_ms", "heartbeat_ms", "host",       "id",
    "kind",    "label",         "machine_id",        "nonce",        "pgid",       "pid",
    "pid_ns",  "replica",       "restarts",          "start_ticks",  "started_ms", "ttl_ms",
    "worker"};

const char* const kValues[] = {"null",
                               "\"\"",
                               "\"x\"",
                               "\"a\\\"b\\\\c\\/d\\n\"",
                               "\"\\u0041\"",
                               "\"caf\xc3\xa9\"",
                               "0",
                               "-0",
                               "-1",
                               "1",
                               "2",
                               "2147483647",
                               "2147483648",
                               "253402300799999",
                               "253402300800000",
                               "9223372036854775807",
                               "9223372036854775808",
                               "18446744073709551615",
                               "18446744073709551616",
                               "-9223372036854775808",
                               "-9223372036854775809",
                               "1.5",
                               "1e3",
                               "01",
                               "true",
                               "false",
                               "[]",
                               "{}",
                               "{\"a\":1}"};

// kValid with `field` set to `value` ("" removes it).
std::string with_field(const std::string& field, const std::string& value) {
    std::string t = kValid;
    const std::string key = "\"" + field + "\":";
    size_t at = t.find(key);
    REQUIRE(at != std::string::npos);
    size_t end = at + key.size();
    if (t[end] == '"') {
        end = t.find('"', end + 1) + 1;
    } else {
        while (t[end] != ',' && t[end] != '}')
            ++end;
    }
    if (value.empty()) {
        size_t from = at, to = end;
        if (t[to] == ',')
            ++to;
        else if (t[from - 1] == ',')
            --from;
        return t.erase(from, to - from);
    }
    return t.replace(at + key.size(), end - at - key.size(), value);
}

} // namespace

TEST_CASE("flat json: strings, integers, booleans and null are read") {
    auto o = read_flat_object(
        " {\"s\": \"a\\tb\\\"\", \"u\": 18446744073709551615, \"n\": -9223372036854775808,"
        " \"z\": -0, \"t\": true, \"f\": false, \"x\": null}\n");
    REQUIRE(o);
    REQUIRE(o->size() == 7);
    CHECK(flat_find(*o, "s")->text == "a\tb\"");
    CHECK(flat_find(*o, "u")->kind == FlatValue::Kind::Unsigned);
    CHECK(flat_find(*o, "u")->u == UINT64_MAX);
    CHECK(flat_find(*o, "n")->kind == FlatValue::Kind::Negative);
    CHECK(flat_find(*o, "n")->i == INT64_MIN);
    CHECK(flat_find(*o, "z")->kind == FlatValue::Kind::Negative);
    CHECK(flat_find(*o, "t")->kind == FlatValue::Kind::True);
    CHECK(flat_find(*o, "f")->kind == FlatValue::Kind::False);
    CHECK(flat_find(*o, "x")->kind == FlatValue::Kind::Null);
    CHECK(flat_find(*o, "missing") == nullptr);
    CHECK(read_flat_object("{}")->empty());
}

TEST_CASE("flat json: anything but a plain object is left to the general parser") {
    CHECK_FALSE(plain(""));
    CHECK_FALSE(plain("[]"));
    CHECK_FALSE(plain("{\"a\":1} x"));
    CHECK_FALSE(plain("{\"a\":1,}"));
    CHECK_FALSE(plain("{\"a\" 1}"));
    CHECK_FALSE(plain("{\"a\":1"));
    CHECK_FALSE(plain("{\"a\":{}}"));
    CHECK_FALSE(plain("{\"a\":[1]}"));
    CHECK_FALSE(plain("{\"a\":1.0}"));
    CHECK_FALSE(plain("{\"a\":1e2}"));
    CHECK_FALSE(plain("{\"a\":01}"));
    CHECK_FALSE(plain("{\"a\":-}"));
    CHECK_FALSE(plain("{\"a\":18446744073709551616}"));
    CHECK_FALSE(plain("{\"a\":-9223372036854775809}"));
    CHECK_FALSE(plain("{\"a\":\"\\u0041\"}"));
    CHECK_FALSE(plain("{\"a\":\"\\x\"}"));
    CHECK_FALSE(plain("{\"a\":\"\xc3\xa9\"}"));
    CHECK_FALSE(plain("{\"a\":\"tab\there\"}"));
    CHECK_FALSE(plain("{\"a\":1,\"a\":2}"));
    CHECK_FALSE(plain("{\"a\":tru}"));
    CHECK_FALSE(plain(std::string("{\"a\":1}\0", 8)));
    CHECK_FALSE(plain("\xef\xbb\xbf{\"a\":1}"));
}

TEST_CASE("session record: the flat reader reads what the general one does, or leaves it") {
    CHECK(session_from_flat_json(kValid).has_value());
    std::vector<std::string> texts = {kValid, "{}", "{\"id\":\"s\",\"nonce\":\"n\"}",
                                      "{\"id\":\"s\",\"nonce\":\"n\",\"pid\":null}"};
    for (const char* f : kFields) {
        texts.push_back(with_field(f, ""));
        for (const char* v : kValues)
            texts.push_back(with_field(f, v));
    }
    int flat = 0, refused = 0;
    for (const auto& t : texts) {
        CAPTURE(t);
        const std::string want = general(t);
        std::optional<SessionRecord> s = session_from_flat_json(t);
        if (s) {
            ++flat;
            CHECK(to_json_text(*s) == want);
        }
        if (want == "refused") {
            ++refused;
            CHECK_FALSE(s.has_value());
            CHECK_THROWS_AS(session_from_json_text(t, "sessions/t"), Error);
        } else {
            CHECK(to_json_text(session_from_json_text(t, "sessions/t")) == want);
        }
    }
    // Both kinds of case were met: the comparison decided something.
    CHECK(flat > 100);
    CHECK(refused > 100);
}
