// core/metrics/metrics.cpp: the labels of claim series and the exposition.
#include "core/metrics/metrics.hpp"

#include <doctest/doctest.h>

using loop::EventCounters;

TEST_CASE("worker_of: a supervised worker's session on either backend, none for others") {
    EventCounters c;
    CHECK(c.worker_of("indexer.2") == "indexer");          // file
    CHECK(c.worker_of("indexer.2.0a1b2c3d") == "indexer"); // redis: host-qualified
    CHECK(c.worker_of("p123-456") == "none");
    CHECK(c.worker_of("p123-456.0a1b2c3d") == "none"); // redis: a process session
    CHECK(c.worker_of("a.b.c") == "none");
    CHECK(c.worker_of("w.1.XYZ") == "none");
    CHECK(c.worker_of("w.") == "none");
    CHECK(c.worker_of(".1") == "none");
    CHECK(c.worker_of("w.1.") == "none");
}

TEST_CASE("worker_of and type_of: at most kMaxWorkers / kMaxTypes values, then other") {
    EventCounters c;
    for (size_t i = 0; i < EventCounters::kMaxWorkers; ++i)
        CHECK(c.worker_of("w" + std::to_string(i) + ".1") == "w" + std::to_string(i));
    CHECK(c.worker_of("late.1") == "other");
    CHECK(c.worker_of("w0.7.00ff") == "w0");
    for (size_t i = 0; i < EventCounters::kMaxTypes; ++i)
        CHECK(c.type_of("t" + std::to_string(i) + ":x") == "t" + std::to_string(i));
    CHECK(c.type_of("late:x") == "other");
    CHECK(c.type_of(":x") == "none");
    CHECK(c.type_of("plain") == "none");
}

TEST_CASE("render_exposition: contentions not logged yet are added to the logged ones") {
    EventCounters c;
    c.contentions[{"file", "none"}] = 2;
    c.unlogged_contentions[{"file", "none"}] = 3;
    c.unlogged_contentions[{"repo", "w"}] = 1;
    loop::MetricGauges g;
    g.supervisor_up = true;
    g.sessions_alive = 4;
    std::string text = loop::render_exposition(c, g);
    CHECK(text.find("loop_claim_contentions_total{type=\"file\",worker=\"none\"} 5\n") !=
          std::string::npos);
    CHECK(text.find("loop_claim_contentions_total{type=\"repo\",worker=\"w\"} 1\n") !=
          std::string::npos);
    CHECK(text.find("loop_sessions_alive 4\n") != std::string::npos);
    CHECK(text.find("loop_supervisor_up 1\n") != std::string::npos);
}
