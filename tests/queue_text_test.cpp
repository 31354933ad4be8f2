// The text of a wait queue (core/claims/queue_text.hpp): what is written
// reads back the same; anything torn or malformed is dropped whole.
#include "core/claims/queue_text.hpp"

#include <doctest/doctest.h>

using namespace loop;

namespace {

WaitTicket ticket() {
    WaitTicket t;
    t.seq = 3;
    t.mode = Mode::Shared;
    t.pid = 42;
    t.start_ticks = 99;
    t.since_ms = 1000;
    t.seen_ms = 2000;
    t.id = "abc";
    t.session = "s-1";
    return t;
}

} // namespace

TEST_CASE("queue_text: round trip, oldest first") {
    WaitTicket t = ticket();
    WaitTicket u = t;
    u.seq = 1;
    u.mode = Mode::Exclusive;
    u.alone = true;
    u.id = "def";
    u.since_ms = -5; // a clock before 1970 still reads back
    const std::string text = queue_to_text({t, u});
    CHECK(text == "3 s 42 99 1000 2000 abc s-1\n1 X 42 99 -5 2000 def s-1\n");
    auto q = queue_from_text(text);
    REQUIRE(q.size() == 2);
    CHECK(q[0].id == "def"); // ordered by seq
    CHECK(q[0].mode == Mode::Exclusive);
    CHECK(q[0].alone);
    CHECK(q[0].since_ms == -5);
    CHECK(q[1].seq == 3);
    CHECK(q[1].mode == Mode::Shared);
    CHECK_FALSE(q[1].alone);
    CHECK(q[1].pid == 42);
    CHECK(q[1].start_ticks == 99);
    CHECK(q[1].since_ms == 1000);
    CHECK(q[1].seen_ms == 2000);
    CHECK(q[1].session == "s-1");
    CHECK(queue_from_text("").empty());
    // Any run of blanks separates.
    CHECK(queue_from_text("3\ts  42 99 1000 2000 abc s-1 \n").size() == 1);
}

TEST_CASE("queue_text: a torn or malformed queue is dropped whole") {
    const std::string text = queue_to_text({ticket()});
    CHECK(queue_from_text(text.substr(0, text.size() - 1)).empty()); // torn
    CHECK(queue_from_text("garbage\n" + text).empty());
    for (const char* bad : {
             "1 q 42 99 1 2 abc s-1\n",                    // mode
             "1 xx 42 99 1 2 abc s-1\n",                   // mode
             "1 x 42 99 1 2 abc\n",                        // no session
             "1 x 42 99 1 2 abc s-1 more\n",               // one token too many
             "1 x 0 99 1 2 abc s-1\n",                     // no pid
             "1 x -4 99 1 2 abc s-1\n",                    // no pid
             "-1 x 42 99 1 2 abc s-1\n",                   // a sign on a count
             "+1 x 42 99 1 2 abc s-1\n",                   // a sign on a count
             "1 x 42 99 1e3 2 abc s-1\n",                  // not a number
             "1 x 99999999999 99 1 2 abc s-1\n",           // pid out of range
             "18446744073709551616 x 42 99 1 2 abc s-1\n", // seq out of range
             "1 x 42 99 1 2 abc s-\x01\n",                 // a control byte
         }) {
        CAPTURE(bad);
        CHECK(queue_from_text(bad).empty());
        CHECK(queue_from_text(text + bad).empty());
    }
    CHECK(queue_from_text("18446744073709551615 x 42 99 1 2 abc s-1\n").size() == 1);
}
