// Quiet contention (core/claims/contention.hpp): which busy tries are logged, what
// the note keeps, and that the counter never counts a try twice.
#include "core/claims/contention.hpp"
#include "core/core.hpp"
#include "core/metrics/metrics.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <unistd.h>

using namespace loop;
using loop::test::TempDir;

TEST_CASE("contention: the first try is logged, a burst against the same holder is counted") {
    auto s = contention_step(std::nullopt, "h", 7, "c", 1000, 5);
    CHECK(s.log);
    CHECK(s.tries == 1);
    CHECK(s.flushes == 0);
    CHECK(s.note.holder == "h");
    CHECK(s.note.fence == 7);
    CHECK(s.note.pending == 0);
    CHECK(s.note.epoch == 5);
    std::optional<ContentionNote> note = s.note;
    for (int i = 0; i < 10; ++i) {
        s = contention_step(note, "h", 7, "c2", 1000 + i, 6 + i);
        CHECK_FALSE(s.log);
        note = s.note;
    }
    CHECK(note->pending == 10);
    CHECK(note->contender == "c2");
    CHECK(note->epoch == 5);
    // Another holder (or the same session with a new fence): logged, with
    // the tries it stands for, and a new epoch.
    s = contention_step(note, "h", 8, "c", 2000, 3);
    CHECK(s.log);
    CHECK(s.tries == 11);
    CHECK(s.flushes == 5);
    CHECK(s.note.pending == 0);
    CHECK(s.note.epoch == 6); // greater than the last, also when the clock is behind
    CHECK(s.note.holder == "h");
    CHECK(s.note.fence == 8);
}

TEST_CASE("contention: a claim that goes on to wait is always logged, with the unlogged tries") {
    auto first = contention_step(std::nullopt, "h", 1, "c", 0, 1).note;
    auto polled = contention_step(first, "h", 1, "c", 1, 2).note;
    REQUIRE(polled.pending == 1);
    auto s = contention_step(polled, "h", 1, "w", 2, 3, true);
    CHECK(s.log);
    CHECK(s.tries == 2);
    CHECK(s.flushes == 1);
    CHECK(s.note.pending == 0);
    CHECK(s.note.epoch == 3);
}

TEST_CASE("contention: logged again after kLogEveryMs or kLogEveryTries") {
    auto first = contention_step(std::nullopt, "h", 1, "c", 0, 1).note;
    CHECK_FALSE(contention_step(first, "h", 1, "c", kLogEveryMs - 1, 2).log);
    auto late = contention_step(first, "h", 1, "c", kLogEveryMs, 2);
    CHECK(late.log);
    CHECK(late.tries == 1);
    CHECK(late.flushes == 0); // no unlogged tries to flush
    // A clock stepped back logs rather than hides.
    CHECK(contention_step(first, "h", 1, "c", -5, 2).log);
    ContentionNote many = first;
    many.pending = kLogEveryTries - 2;
    CHECK_FALSE(contention_step(many, "h", 1, "c", 10, 2).log);
    many.pending = kLogEveryTries - 1;
    auto full = contention_step(many, "h", 1, "c", 10, 2);
    CHECK(full.log);
    CHECK(full.tries == kLogEveryTries);
}

TEST_CASE("contention: the note text round-trips, has a fixed size, refuses torn text") {
    ContentionNote n{
        std::string(200, 's'), 18446744073709551615ULL, std::string(200, 'c'), 42, 123456789,
        1764600000000};
    const std::string t = note_to_text(n);
    CHECK(t.size() == kNoteSize);
    auto back = note_from_text(t);
    REQUIRE(back);
    CHECK(back->holder == n.holder);
    CHECK(back->fence == n.fence);
    CHECK(back->contender == n.contender);
    CHECK(back->pending == 42);
    CHECK(back->epoch == 123456789);
    CHECK(back->logged_ms == 1764600000000);
    CHECK_FALSE(note_from_text(""));
    CHECK_FALSE(note_from_text(t.substr(0, 100)));
    CHECK_FALSE(note_from_text(t.substr(0, t.find('\n')) + "\n"));
    std::string torn = t;
    torn[3] = 'x'; // a holder cut short: the field count changes
    torn[4] = ' ';
    CHECK_FALSE(note_from_text(torn));
    std::string tail = t;
    tail[kNoteSize - 1] = '7';
    CHECK_FALSE(note_from_text(tail));
}

TEST_CASE("contention: busy tries leave one event and a note; metrics count every try once") {
    TempDir home;
    Core core(home.path());
    SessionRecord holder = core.sessions.start({}, ::getpid());
    AcquireRequest r;
    r.names = {"repo-x/issue-42"};
    REQUIRE(core.claims.try_acquire(holder, r).acquired);
    SessionRecord me = core.sessions.start({}, ::getpid());
    for (int i = 0; i < 20; ++i)
        CHECK_FALSE(core.claims.try_acquire(me, r).acquired);
    auto notes = core.claims.store().contention_notes();
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].first == "repo-x/issue-42");
    CHECK(notes[0].second.pending == 19);
    CHECK(notes[0].second.holder == holder.id);

    auto count = [&] {
        EventCounters c;
        const std::string m = render_metrics(core, c);
        const std::string key = "loop_claim_contentions_total{type=\"none\",worker=\"none\"} ";
        auto at = m.find(key);
        REQUIRE(at != std::string::npos);
        return std::stoull(m.substr(at + key.size()));
    };
    CHECK(count() == 20);
    // A new holder: one more event, standing for the 19 unlogged tries and
    // itself; the note starts over; the count goes on by one.
    core.claims.release(holder.id, holder.nonce, {"repo-x/issue-42"}, false);
    SessionRecord third = core.sessions.start({}, ::getpid());
    REQUIRE(core.claims.try_acquire(third, r).acquired);
    CHECK_FALSE(core.claims.try_acquire(me, r).acquired);
    notes = core.claims.store().contention_notes();
    REQUIRE(notes.size() == 1);
    CHECK(notes[0].second.pending == 0);
    CHECK(notes[0].second.holder == third.id);
    CHECK(count() == 21);
}

TEST_CASE("contention: a note whose tries an event already logged is not counted again") {
    // The reader's race: it read the note (19 unlogged tries, epoch E), then
    // the log, which by then holds the event that logged them (flushes E).
    EventCounters c;
    c.count(R"({"ts":"2026-01-01T00:00:00Z","event":"claim.contended","name":"n","session":"s",)"
            R"("holder":"h","tries":20,"flushes":77})");
    CHECK(c.flushed.at("n") == 77);
    CHECK(c.contentions.at({"none", "none"}) == 20);
    c.count(R"({"ts":"2026-01-01T00:00:00Z","event":"claim.contended","name":"n","session":"s",)"
            R"("holder":"h","tries":1,"flushes":5})");
    CHECK(c.flushed.at("n") == 77); // the greatest
}

TEST_CASE("contention: metrics skip a note whose tries the log already holds") {
    TempDir home;
    Core core(home.path());
    SessionRecord holder = core.sessions.start({}, ::getpid());
    SessionRecord me = core.sessions.start({}, ::getpid());
    AcquireRequest r;
    r.names = {"n"};
    REQUIRE(core.claims.try_acquire(holder, r).acquired);
    for (int i = 0; i < 5; ++i)
        CHECK_FALSE(core.claims.try_acquire(me, r).acquired);
    auto notes = core.claims.store().contention_notes();
    REQUIRE(notes.size() == 1);
    REQUIRE(notes[0].second.pending == 4);
    auto count = [&] {
        EventCounters c;
        const std::string m = render_metrics(core, c);
        const std::string key = "loop_claim_contentions_total{type=\"none\",worker=\"none\"} ";
        auto at = m.find(key);
        REQUIRE(at != std::string::npos);
        return std::stoull(m.substr(at + key.size()));
    };
    CHECK(count() == 5);
    // The moment between the event that logs the note's tries and the
    // rewrite of the note: the tries are counted once, from the event.
    core.events.append("claim.contended", {{"names", {"n"}},
                                           {"session", me.id},
                                           {"holder", holder.id},
                                           {"name", "n"},
                                           {"tries", 5},
                                           {"flushes", notes[0].second.epoch}});
    CHECK(count() == 6);
}
