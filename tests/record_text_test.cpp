// core/record_text: records written and read in one pass are the ones
// nlohmann's document writes and reads.
#include "core/error.hpp"
#include "core/records.hpp"

#include <doctest/doctest.h>

#include <climits>

#include <string>
#include <vector>

using namespace loop;

namespace {

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

TEST_CASE("session record: written in one pass as nlohmann writes it, or left to it") {
    SessionRecord s;
    s.id = "s-1";
    s.nonce = "n";
    s.kind = "process";
    CHECK(session_to_flat_json(s) == session_to_json_dom(s));
    s.anchor = Anchor{42, UINT64_MAX, "boot", "machine", "4026531836"};
    s.host = "h\"o\\s\tt\x01\x1f\x7f/";
    s.label = "";
    s.worker = "w";
    s.replica = 0;
    s.pgid = 7;
    s.ttl_ms = kMaxRecordMs;
    s.heartbeat_ms = 1;
    s.heartbeat_boot_ms = 2;
    s.boot_id = "clock";
    s.started_ms = 3;
    s.restarts = INT_MAX;
    REQUIRE(session_to_flat_json(s));
    CHECK(*session_to_flat_json(s) == session_to_json_dom(s));
    CHECK(to_json_text(s) == session_to_json_dom(s));
    s.anchor->machine_id = "";
    s.anchor->pid_ns = "";
    s.boot_id = "";
    CHECK(*session_to_flat_json(s) == session_to_json_dom(s));
    // Past ASCII: nlohmann writes it (valid UTF-8) or refuses it.
    s.label = "caf\xc3\xa9";
    CHECK_FALSE(session_to_flat_json(s));
    CHECK(to_json_text(s) == session_to_json_dom(s));
}

TEST_CASE("claim record: written in one pass as nlohmann writes it, or left to it") {
    ClaimRecord c;
    c.name = "repo-x";
    c.mode = Mode::Shared;
    Holder a;
    a.session = "s-1";
    a.nonce = "n1";
    a.pid = 42;
    a.fence = UINT64_MAX;
    a.acquired_ms = 1;
    Holder b = a;
    b.session = "p7-9";
    b.expires_ms = 5;
    b.ttl_ms = 4;
    b.boot_id = "boot";
    b.expires_boot_ms = 6;
    b.reason = "why \"not\"\n";
    b.meta = {{"k", "v"}, {"a", "b\\"}, {"", ""}};
    b.txn = "t1";
    c.holders = {a, b};
    REQUIRE(claim_to_flat_json(c));
    CHECK(*claim_to_flat_json(c) == claim_to_json_dom(c));
    CHECK(to_json_text(c) == claim_to_json_dom(c));
    c.holders = {a};
    c.mode = Mode::Exclusive;
    CHECK(*claim_to_flat_json(c) == claim_to_json_dom(c));
    // What it writes reads back.
    ClaimRecord back = claim_from_json_text(to_json_text(c), "claims/t");
    CHECK(back.holders.at(0).fence == UINT64_MAX);
    c.holders[0].meta = {{"k", "\xff"}};
    CHECK_FALSE(claim_to_flat_json(c));
    CHECK_THROWS(claim_to_json_dom(c)); // nlohmann refuses invalid UTF-8
}
