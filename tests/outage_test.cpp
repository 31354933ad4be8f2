// The outage policy of a supervisor on a shared backend: the backoff after
// failed calls (first try 1 s later, doubling to 30 s, reset by a success,
// each outage reported once at its start and once at its end) and the
// bounded queue of events to forward (the oldest dropped, counted).
#include "core/supervisor/outage.hpp"

#include <doctest/doctest.h>

using namespace loop;

TEST_CASE("outage: up, every call may be tried") {
    Outage o;
    CHECK_FALSE(o.down());
    CHECK(o.may_try(0));
    CHECK(o.may_try(123456));
    CHECK_FALSE(o.succeeded()); // no outage ended
}

TEST_CASE("outage: the backoff doubles from 1 s to 30 s, and only the first failure starts it") {
    Outage o;
    CHECK(o.failed(10'000)); // starts the outage: logged
    CHECK(o.down());
    CHECK(o.since() == 10'000);
    CHECK(o.delay() == 1000);
    CHECK_FALSE(o.may_try(10'999));
    CHECK(o.may_try(11'000));
    int64_t now = 11'000;
    const int64_t expected[] = {2000, 4000, 8000, 16'000, 30'000, 30'000};
    for (int64_t d : expected) {
        CHECK_FALSE(o.failed(now)); // the same outage: not logged again
        CHECK(o.delay() == d);
        CHECK(o.next_try() == now + d);
        CHECK_FALSE(o.may_try(now + d - 1));
        CHECK(o.may_try(now + d));
        now += d;
    }
    CHECK(o.since() == 10'000);
}

TEST_CASE("outage: the first success ends it and resets the backoff") {
    Outage o;
    o.failed(0);
    o.failed(1000);
    o.failed(3000);
    CHECK(o.succeeded()); // ends the outage: logged
    CHECK_FALSE(o.down());
    CHECK(o.may_try(3001));
    CHECK_FALSE(o.succeeded());
    // A new outage starts again from the first delay.
    CHECK(o.failed(50'000));
    CHECK(o.delay() == 1000);
    CHECK(o.since() == 50'000);
}

TEST_CASE("outage: custom bounds") {
    Outage o(100, 250);
    o.failed(0);
    CHECK(o.delay() == 100);
    o.failed(100);
    CHECK(o.delay() == 200);
    o.failed(300);
    CHECK(o.delay() == 250);
}

TEST_CASE("event queue: keeps order, drops the oldest when full, counts the dropped") {
    EventQueue q(3);
    CHECK(q.empty());
    for (int i = 0; i < 5; ++i)
        q.push({"e" + std::to_string(i), {{"i", i}}});
    CHECK(q.size() == 3);
    CHECK(q.dropped() == 2);
    CHECK(q.front().name == "e2");
    CHECK(q.front().fields["i"] == 2);
    q.pop();
    CHECK(q.front().name == "e3");
    CHECK(q.take_dropped() == 2);
    CHECK(q.take_dropped() == 0); // reported once
    q.pop();
    q.pop();
    CHECK(q.empty());
}

TEST_CASE("event queue: the default holds 1000") {
    EventQueue q;
    for (int i = 0; i < 1500; ++i)
        q.push({"e", {{"i", i}}});
    CHECK(q.size() == EventQueue::kCapacity);
    CHECK(EventQueue::kCapacity == 1000);
    CHECK(q.front().fields["i"] == 500);
    CHECK(q.take_dropped() == 500);
}

TEST_CASE("event queue: of no capacity keeps nothing") {
    EventQueue q(0);
    q.push({"e", nullptr});
    CHECK(q.empty());
    CHECK(q.dropped() == 1);
}
