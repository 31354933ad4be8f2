// src/store/redis/redis_backend.cpp: a claim record read back for listing
// (claims, status, owner) with the decoder the scripts' replies use.
#include "store/redis/redis_backend.hpp"

#include <doctest/doctest.h>

using namespace loop;
using namespace loop::redis;

TEST_CASE("a claim record is read back with every field, integers exact") {
    auto rec = claim_of_json(
        R"({"name":"repo-x","mode":"shared","holders":[{"session":"a","nonce":"n1","pid":42,)"
        R"("host":"h","fence":1796312300703283,"acquired_ms":1796312300703,"expires_ms":0,)"
        R"("ttl_ms":0,"reason":"why","meta":{"k":"v","n":7}}]})");
    REQUIRE(rec);
    CHECK(rec->name == "repo-x");
    CHECK(rec->mode == Mode::Shared);
    REQUIRE(rec->holders.size() == 1);
    const Holder& h = rec->holders[0];
    CHECK(h.session == "a");
    CHECK(h.nonce == "n1");
    CHECK(h.pid == 42);
    CHECK(h.fence == 1796312300703283ULL);
    CHECK(h.acquired_ms == 1796312300703);
    CHECK(h.reason == "why");
    CHECK(h.meta.size() == 1); // only text values are metadata
    CHECK(h.meta.at("k") == "v");
}

TEST_CASE("a record with a field of the wrong type is listed, not a crash of the command") {
    // Written by hand or by a buggy client: the listing shows what it can.
    std::optional<ClaimRecord> rec;
    CHECK_NOTHROW(rec = claim_of_json(R"({"name":7,"mode":"exclusive","holders":)"
                                      R"([{"session":"a","nonce":"n","pid":"42","fence":"x"}]})"));
    REQUIRE(rec);
    CHECK(rec->name.empty());
    CHECK(rec->mode == Mode::Exclusive);
    REQUIRE(rec->holders.size() == 1);
    CHECK(rec->holders[0].session == "a");
    CHECK(rec->holders[0].pid == 0);
    CHECK(rec->holders[0].fence == 0);
}

TEST_CASE("a record that is not a claim record is no record") {
    CHECK_FALSE(claim_of_json("not json"));
    CHECK_FALSE(claim_of_json(R"({"name":"x"})"));
    CHECK_FALSE(claim_of_json(R"({"name":"x","holders":{}})"));
    CHECK_FALSE(claim_of_json(R"({"name":"x","holders":["a"]})"));
}
