// core/flat_json: the one-pass reader of flat JSON objects.
#include "core/flat_json.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace loop;

namespace {

bool plain(const std::string& text) {
    return read_flat_object(text).has_value();
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
