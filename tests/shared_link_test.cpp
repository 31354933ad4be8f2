// A supervisor's calls to a shared backend through the outage policy: a
// backend that does not answer is called once per backoff, not once per
// call; events wait in order and are sent when it answers; a call that was
// not tried fails, never reports success.
#include "core/error.hpp"
#include "core/supervisor/shared_link.hpp"

#include <doctest/doctest.h>

using namespace loop;

namespace {

// Workers on a backend that answers or not, counting the calls that reach it.
struct FakeWorkers : WorkerSessions {
    bool answering = true;
    int calls = 0;
    void check() {
        ++calls;
        if (!answering)
            throw Error(Exit::Failure, "redis 127.0.0.1:6379: no reply within the timeout");
    }
    void put(const SessionRecord&) override { check(); }
    std::vector<std::string> release(const std::string&, const std::string&) override {
        check();
        return {"job"};
    }
    void drop(const std::string&) override { check(); }
    std::vector<std::pair<SessionRecord, Verdict>> list(std::vector<std::string>*) override {
        check();
        return {};
    }
    bool reaps_here() const override { return false; }
    std::string id_suffix() const override { return ".h"; }
};

struct Fixture {
    FakeWorkers workers;
    int64_t clock = 1'000'000;
    int reconnects = 0, renders = 0;
    std::vector<std::string> sent;
    SharedLink link{make_hooks()};

    SharedLink::Hooks make_hooks() {
        SharedLink::Hooks h;
        h.workers = &workers;
        h.record_event = [this](const std::string& e, const nlohmann::json& f) {
            workers.check();
            CHECK(f.contains("ts_ms"));
            sent.push_back(e);
        };
        h.render = [this](bool) {
            ++renders;
            workers.check();
            return std::string("metrics\n");
        };
        h.reconnect = [this] { ++reconnects; };
        h.clock = [this] { return clock; };
        return h;
    }
};

} // namespace

TEST_CASE("shared link: while backed off a call fails at once without reaching the backend") {
    Fixture f;
    f.workers.answering = false;
    CHECK_THROWS_AS(f.link.release("w.1", "claim.reaped"), Error);
    CHECK(f.workers.calls == 1);
    CHECK(f.link.down());
    // Within the backoff: not tried, and not taken as done.
    CHECK_THROWS_AS(f.link.release("w.1", "claim.reaped"), Error);
    CHECK_THROWS_AS(f.link.put(SessionRecord{}), Error);
    CHECK(f.workers.calls == 1);
    CHECK(f.link.retry_in_ms() == 1000);
    // Once it has passed: one try, on a new connection.
    f.clock += 1000;
    CHECK(f.link.may_try());
    CHECK_THROWS_AS(f.link.drop("w.1"), Error);
    CHECK(f.workers.calls == 2);
    CHECK(f.reconnects == 1);
    CHECK(f.link.retry_in_ms() == 2000);
    // It answers again: the next try succeeds and ends the outage.
    f.workers.answering = true;
    f.clock += 2000;
    CHECK(f.link.release("w.1", "claim.reaped") == std::vector<std::string>{"job"});
    CHECK_FALSE(f.link.down());
    CHECK(f.reconnects == 2);
    f.link.put(SessionRecord{});
    CHECK(f.reconnects == 2); // up: the connection is kept
    CHECK(f.link.id_suffix() == ".h");
}

TEST_CASE("shared link: a refusal is an answer, not an outage") {
    Fixture f;
    struct Refusing : FakeWorkers {
        void put(const SessionRecord&) override { throw Error(Exit::Usage, "replaced"); }
    } refusing;
    SharedLink::Hooks h = f.make_hooks();
    h.workers = &refusing;
    SharedLink link(std::move(h));
    CHECK_THROWS_AS(link.put(SessionRecord{}), Error);
    CHECK_FALSE(link.down());
}

TEST_CASE("shared link: events wait in order while it does not answer and go when it does") {
    Fixture f;
    f.link.forward("a", {{"n", 1}});
    CHECK(f.sent == std::vector<std::string>{"a"});
    f.workers.answering = false;
    f.link.forward("b", nlohmann::json::object()); // tried: fails, queued
    f.link.forward("c", nlohmann::json::object()); // backed off: queued untried
    CHECK(f.workers.calls == 2);
    CHECK(f.link.queued_events() == 2);
    CHECK_FALSE(f.link.flush_events());
    f.workers.answering = true;
    f.clock += 1000;
    CHECK(f.link.flush_events());
    CHECK(f.sent == std::vector<std::string>{"a", "b", "c"});
    CHECK(f.link.queued_events() == 0);
    CHECK_FALSE(f.link.down());
}

TEST_CASE("shared link: the metrics are not rendered while backed off") {
    Fixture f;
    CHECK(f.link.render(true) == std::optional<std::string>("metrics\n"));
    f.workers.answering = false;
    CHECK_FALSE(f.link.render(true).has_value());
    CHECK(f.renders == 2);
    CHECK_FALSE(f.link.render(true).has_value());
    CHECK(f.renders == 2); // skipped
    f.workers.answering = true;
    f.clock += 1000;
    CHECK(f.link.render(true).has_value());
    CHECK(f.renders == 3);
}
