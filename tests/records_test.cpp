// Session and claim records: JSON round trip, and corrupt input refused.
#include "core/error.hpp"
#include "core/records.hpp"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

using namespace loop;

namespace {

void check_same(const SessionRecord& a, const SessionRecord& b) {
    CHECK(a.id == b.id);
    CHECK(a.nonce == b.nonce);
    CHECK(a.kind == b.kind);
    REQUIRE(a.anchor.has_value() == b.anchor.has_value());
    if (a.anchor) {
        CHECK(a.anchor->pid == b.anchor->pid);
        CHECK(a.anchor->start_ticks == b.anchor->start_ticks);
        CHECK(a.anchor->boot_id == b.anchor->boot_id);
    }
    CHECK(a.host == b.host);
    CHECK(a.label == b.label);
    CHECK(a.worker == b.worker);
    CHECK(a.replica == b.replica);
    CHECK(a.ttl_ms == b.ttl_ms);
    CHECK(a.heartbeat_ms == b.heartbeat_ms);
    CHECK(a.started_ms == b.started_ms);
    CHECK(a.restarts == b.restarts);
}

void check_same(const Holder& a, const Holder& b) {
    CHECK(a.session == b.session);
    CHECK(a.nonce == b.nonce);
    CHECK(a.pid == b.pid);
    CHECK(a.fence == b.fence);
    CHECK(a.acquired_ms == b.acquired_ms);
    CHECK(a.expires_ms == b.expires_ms);
    CHECK(a.ttl_ms == b.ttl_ms);
    CHECK(a.reason == b.reason);
    CHECK(a.meta == b.meta);
    CHECK(a.txn == b.txn);
}

void check_same(const ClaimRecord& a, const ClaimRecord& b) {
    CHECK(a.name == b.name);
    CHECK(a.mode == b.mode);
    REQUIRE(a.holders.size() == b.holders.size());
    for (size_t i = 0; i < a.holders.size(); ++i)
        check_same(a.holders[i], b.holders[i]);
}

Holder holder(const std::string& session, uint64_t fence) {
    Holder h;
    h.session = session;
    h.nonce = "00112233445566ff";
    h.pid = 4121;
    h.fence = fence;
    h.acquired_ms = 1795457658123;
    return h;
}

// The record is refused with a Failure naming the file.
void check_corrupt_claim(const std::string& text) {
    CAPTURE(text);
    try {
        claim_from_json_text(text, "/home/x/claims/repo-x");
        FAIL("a corrupt claim record was accepted");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Failure);
        CHECK(e.message().find("/home/x/claims/repo-x") != std::string::npos);
    }
}

void check_corrupt_session(const std::string& text) {
    CAPTURE(text);
    try {
        session_from_json_text(text, "/home/x/sessions/s-1");
        FAIL("a corrupt session record was accepted");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Failure);
        CHECK(e.message().find("/home/x/sessions/s-1") != std::string::npos);
    }
}

const std::string kGoodClaim =
    R"({"name":"repo-x","mode":"exclusive","holders":[{"session":"s-1","nonce":"ab",)"
    R"("pid":7,"fence":3,"acquired_ms":1000,"expires_ms":0,"ttl_ms":0,"reason":"",)"
    R"("meta":{}}]})";

} // namespace

TEST_CASE("session record: round trip with an anchor, worker and replica") {
    SessionRecord s;
    s.id = "w-indexer-2";
    s.nonce = "0123456789abcdef";
    s.kind = "worker";
    s.anchor = Anchor{4121, 987654321012ULL, "7c1e8d2a-0000-4000-8000-123456789abc", "", ""};
    s.host = "build-7";
    s.label = "nightly \"index\" run\n\xc3\xa9t\xc3\xa9";
    s.worker = "indexer";
    s.replica = 2;
    s.ttl_ms = 30'000;
    s.heartbeat_ms = 1795457658123;
    s.started_ms = 1795457600000;
    s.restarts = 4;
    std::string text = to_json_text(s);
    CHECK(text.back() == '\n');
    CHECK(text.find('\n') == text.size() - 1); // one line
    check_same(s, session_from_json_text(text, "x"));
    auto j = nlohmann::json::parse(text);
    CHECK(j["pid"] == 4121);
    CHECK(j["worker"] == "indexer");
    CHECK(j["replica"] == 2);
}

TEST_CASE("session record: round trip without an anchor") {
    SessionRecord s;
    s.id = "s-0badf00d";
    s.nonce = "ffffffffffffffff";
    s.kind = "explicit";
    s.ttl_ms = 1'000;
    s.heartbeat_ms = 5;
    s.started_ms = 5;
    std::string text = to_json_text(s);
    auto j = nlohmann::json::parse(text);
    CHECK(j["pid"].is_null());
    CHECK(j["worker"].is_null());
    CHECK(j["replica"].is_null());
    SessionRecord back = session_from_json_text(text, "x");
    check_same(s, back);
    CHECK_FALSE(back.anchor);
}

TEST_CASE("session record: the largest start time survives") {
    SessionRecord s;
    s.id = "p1-18446744073709551615";
    s.nonce = "n";
    s.anchor = Anchor{1, UINT64_MAX, "b", "", ""};
    check_same(s, session_from_json_text(to_json_text(s), "x"));
}

TEST_CASE("session record: corrupt input is refused") {
    for (std::string t : {
             std::string(""),
             std::string("\n"),
             std::string("{"),
             std::string(R"({"id":"s-1","nonce")"),
             std::string("[]"),
             std::string("null"),
             std::string("42"),
             std::string(R"("s-1")"),
             std::string(R"({"nonce":"n"})"),
             std::string(R"({"id":"s-1"})"),
             std::string(R"({"id":7,"nonce":"n"})"),
             std::string(R"({"id":"s-1","nonce":"n","pid":12})"), // anchor without start time
             std::string(R"({"id":"s-1","nonce":"n","pid":"12","start_ticks":1,"boot_id":"b"})"),
             std::string(R"({"id":"s-1","nonce":"n","ttl_ms":"soon"})"),
             std::string(R"({"id":"s-1","nonce":"n","replica":"two"})"),
             std::string("\x00\x00\x00\x00", 4),
         }) {
        check_corrupt_session(t);
    }
}

TEST_CASE("claim record: round trip, exclusive") {
    ClaimRecord c;
    c.name = "file:src.main.cpp";
    c.mode = Mode::Exclusive;
    Holder h = holder("s-1", 18446744073709551615ULL);
    h.expires_ms = 1795457688123;
    h.ttl_ms = 30'000;
    h.reason = "deploy \"blue\"\ttab";
    h.meta = {{"ticket", "OPS-1"}, {"who", "\xc3\xa9"}};
    h.txn = "t4121-0011223344556677";
    c.holders.push_back(h);
    std::string text = to_json_text(c);
    CHECK(text.find('\n') == text.size() - 1);
    check_same(c, claim_from_json_text(text, "x"));
    auto j = nlohmann::json::parse(text);
    CHECK(j["mode"] == "exclusive");
    CHECK(j["holders"][0]["txn"] == "t4121-0011223344556677");
}

TEST_CASE("claim record: round trip, shared with several holders") {
    ClaimRecord c;
    c.name = "repo-x";
    c.mode = Mode::Shared;
    c.holders = {holder("s-1", 1), holder("s-2", 2), holder("s-3", 9)};
    ClaimRecord back = claim_from_json_text(to_json_text(c), "x");
    check_same(c, back);
    // A holder without a txn writes none.
    auto j = nlohmann::json::parse(to_json_text(c));
    CHECK_FALSE(j["holders"][0].contains("txn"));
}

TEST_CASE("claim record: optional fields may be missing") {
    ClaimRecord c = claim_from_json_text(
        R"({"name":"a","mode":"shared","holders":[{"session":"s","nonce":"n","fence":1,)"
        R"("acquired_ms":5}]})",
        "x");
    REQUIRE(c.holders.size() == 1);
    CHECK(c.holders[0].pid == 0);
    CHECK(c.holders[0].expires_ms == 0);
    CHECK(c.holders[0].meta.empty());
    CHECK(c.holders[0].txn.empty());
}

TEST_CASE("claim record: corrupt input is refused") {
    CHECK_NOTHROW(claim_from_json_text(kGoodClaim, "x"));
    // Every proper prefix of a good record (a torn write) is refused.
    for (size_t n = 0; n < kGoodClaim.size(); ++n)
        check_corrupt_claim(kGoodClaim.substr(0, n));
    for (std::string t : {
             std::string("[]"),
             std::string("null"),
             std::string(R"({"mode":"exclusive","holders":[]})"),
             std::string(R"({"name":"a","holders":[]})"),
             std::string(R"({"name":"a","mode":"sometimes","holders":[]})"),
             std::string(R"({"name":"a","mode":"exclusive"})"),
             std::string(R"({"name":"a","mode":"exclusive","holders":{}})"),
             std::string(R"({"name":"a","mode":"exclusive","holders":[]})"), // held by nobody
             std::string(R"({"name":"a","mode":"exclusive","holders":[7]})"),
             std::string(R"({"name":"a","mode":"exclusive","holders":[{"nonce":"n","fence":1,)"
                         R"("acquired_ms":1}]})"),
             std::string(R"({"name":"a","mode":"exclusive","holders":[{"session":"s","fence":1,)"
                         R"("acquired_ms":1}]})"),
             std::string(R"({"name":"a","mode":"exclusive","holders":[{"session":"s",)"
                         R"("nonce":"n","acquired_ms":1}]})"),
             std::string(R"({"name":"a","mode":"exclusive","holders":[{"session":"s",)"
                         R"("nonce":"n","fence":"1","acquired_ms":1}]})"),
             std::string(R"({"name":"a","mode":"exclusive","holders":[{"session":"s",)"
                         R"("nonce":"n","fence":1,"acquired_ms":1,"meta":{"k":1}}]})"),
             std::string(R"({"name":"a","mode":"exclusive","holders":[{"session":"s",)"
                         R"("nonce":"n","fence":1,"acquired_ms":1,"txn":5}]})"),
             // Two exclusive holders can never be right.
             std::string(R"({"name":"a","mode":"exclusive","holders":[)"
                         R"({"session":"s","nonce":"n","fence":1,"acquired_ms":1},)"
                         R"({"session":"t","nonce":"m","fence":2,"acquired_ms":1}]})"),
         }) {
        check_corrupt_claim(t);
    }
}

namespace {

std::string claim_with_holder_field(const std::string& field) {
    return R"({"name":"a","mode":"exclusive","holders":[{"session":"s","nonce":"n",)" + field +
           "}]}";
}

} // namespace

TEST_CASE("claim record: a negative, fractional or huge fence is refused, not converted") {
    for (std::string fence : {"-1", "-0", "1.5", "1.0", "1e3", "1e300", "18446744073709551616"}) {
        check_corrupt_claim(claim_with_holder_field(R"("acquired_ms":1,"fence":)" + fence));
    }
    CHECK(claim_from_json_text(claim_with_holder_field(R"("acquired_ms":1,"fence":0)"), "x")
              .holders[0]
              .fence == 0);
}

TEST_CASE("claim record: times, ttls and pids out of range are refused, not converted") {
    for (std::string field : {
             R"("acquired_ms":1e300)",
             R"("acquired_ms":-1)",
             R"("acquired_ms":1.5)",
             R"("acquired_ms":9223372036854775807)",
             R"("acquired_ms":253402300800000)", // past 9999-12-31
             R"("acquired_ms":1,"expires_ms":9223372036854775807)",
             R"("acquired_ms":1,"expires_ms":-5)",
             R"("acquired_ms":1,"ttl_ms":-1)",
             R"("acquired_ms":1,"ttl_ms":9223372036854775807)",
             R"("acquired_ms":1,"pid":-1)",
             R"("acquired_ms":1,"pid":4294967297)",
             R"("acquired_ms":1,"pid":7.5)",
         }) {
        check_corrupt_claim(claim_with_holder_field(R"("fence":1,)" + field));
    }
    // The bounds themselves are fine.
    ClaimRecord c = claim_from_json_text(
        claim_with_holder_field(R"("fence":1,"acquired_ms":253402300799999,)"
                                R"("expires_ms":253402300799999,"ttl_ms":253402300799999,)"
                                R"("pid":2147483647)"),
        "x");
    CHECK(c.holders[0].acquired_ms == 253402300799999);
    CHECK(c.holders[0].pid == 2147483647);
}

TEST_CASE("session record: times, ttls and numbers out of range are refused, not converted") {
    for (std::string field : {
             R"("started_ms":1e300)",
             R"("started_ms":-1)",
             R"("heartbeat_ms":9223372036854775807)",
             R"("heartbeat_ms":2.5)",
             R"("ttl_ms":9223372036854775807)",
             R"("ttl_ms":-1)",
             R"("restarts":-1)",
             R"("restarts":4294967296)",
             R"("replica":-1)",
             R"("replica":1099511627776)",
             R"("pid":-1,"start_ticks":1,"boot_id":"b")",
             R"("pid":0,"start_ticks":1,"boot_id":"b")",
             R"("pid":4294967297,"start_ticks":1,"boot_id":"b")",
             R"("pid":12,"start_ticks":-1,"boot_id":"b")",
             R"("pid":12,"start_ticks":1.5,"boot_id":"b")",
         }) {
        check_corrupt_session(R"({"id":"s-1","nonce":"n",)" + field + "}");
    }
}

TEST_CASE("txn marker: the owner's anchor is written and read back") {
    Anchor a{4121, UINT64_MAX, "5b7c3e2a-1f0d-4b8e-9d0a-2c4e6f8a0b1c", "", ""};
    CHECK(txn_marker_text(a) ==
          "4121 18446744073709551615 5b7c3e2a-1f0d-4b8e-9d0a-2c4e6f8a0b1c - -\n");
    auto back = txn_marker_owner(txn_marker_text(a));
    REQUIRE(back);
    CHECK(back->pid == a.pid);
    CHECK(back->start_ticks == a.start_ticks);
    CHECK(back->boot_id == a.boot_id);
    a.machine_id = "0123456789abcdef0123456789abcdef";
    a.pid_ns = "4026531836";
    back = txn_marker_owner(txn_marker_text(a));
    REQUIRE(back);
    CHECK(back->machine_id == a.machine_id);
    CHECK(back->pid_ns == a.pid_ns);
    auto no_boot = txn_marker_owner("12 34");
    REQUIRE(no_boot);
    CHECK(no_boot->boot_id.empty());
    CHECK_FALSE(txn_marker_owner(""));
    CHECK_FALSE(txn_marker_owner("12"));
    CHECK_FALSE(txn_marker_owner("pid ticks boot"));
}
