#include "core/error.hpp"
#include "core/text.hpp"

#include <doctest/doctest.h>

using namespace loop;

TEST_CASE("names") {
    CHECK_FALSE(name_problem("repo-x"));
    CHECK(name_problem(""));
}
