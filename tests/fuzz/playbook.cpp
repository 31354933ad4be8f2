// Playbooks: a bad one is refused with exit 2 only, and one that is
// accepted keeps every documented bound.
#include "core/supervisor/playbook.hpp"
#include "core/text.hpp"
#include "fuzz.hpp"

#include <algorithm>

using namespace loop;

namespace {

bool duration_in_bounds(int64_t ms, int64_t min_ms) {
    return ms >= min_ms && ms <= kMaxPlaybookDurationMs;
}

void check_worker(const WorkerSpec& w) {
    FUZZ_CHECK(!worker_name_problem(w.name));
    FUZZ_CHECK(w.run.empty() != w.command.empty());
    FUZZ_CHECK(!w.argv().empty());
    FUZZ_CHECK(w.replicas >= 0 && w.replicas <= kMaxReplicas);
    FUZZ_CHECK(duration_in_bounds(w.backoff.initial_ms, 1));
    FUZZ_CHECK(duration_in_bounds(w.backoff.max_ms, 1));
    FUZZ_CHECK(duration_in_bounds(w.backoff.reset_after_ms, 1));
    FUZZ_CHECK(w.backoff.initial_ms <= w.backoff.max_ms);
    FUZZ_CHECK(duration_in_bounds(w.stop_timeout_ms, 0));
    FUZZ_CHECK(w.stop_signal >= 1 && w.stop_signal <= 64);
    FUZZ_CHECK(w.logs.max_size >= kMinLogMaxSize && w.logs.max_size <= kMaxLogMaxSize);
    FUZZ_CHECK(w.logs.keep >= 1 && w.logs.keep <= kMaxLogKeep);
    FUZZ_CHECK(w.same_definition(w));
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text = fuzz::text_of(data, size);
    try {
        Playbook pb = parse_playbook(text, "fuzz.json", "/");
        FUZZ_CHECK(duration_in_bounds(pb.reap_interval_ms, kMinReapIntervalMs));
        FUZZ_CHECK(std::is_sorted(pb.workers.begin(), pb.workers.end(),
                                  [](const auto& a, const auto& b) { return a.name < b.name; }));
        for (const auto& w : pb.workers) {
            check_worker(w);
            FUZZ_CHECK(pb.find(w.name) != nullptr);
        }
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == Exit::Usage);
    } catch (const std::exception& e) {
        fuzz::finding("an exception other than loop::Error escaped", e.what());
    }
    return 0;
}
