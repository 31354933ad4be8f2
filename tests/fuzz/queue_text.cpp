// Wait queues (core/claims/queue_text.hpp): reading any text never fails,
// and a queue read from one is written back to a text that reads as the
// same queue.
#include "core/claims/queue_text.hpp"
#include "fuzz.hpp"

using namespace loop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text = fuzz::text_of(data, size);
    fuzz::refuse_only_with_error([&] {
        auto q = queue_from_text(text);
        const std::string again = queue_to_text(q);
        auto back = queue_from_text(again);
        FUZZ_CHECK(back.size() == q.size());
        for (size_t i = 0; i < q.size(); ++i) {
            FUZZ_CHECK(back[i].seq == q[i].seq);
            FUZZ_CHECK(back[i].mode == q[i].mode);
            FUZZ_CHECK(back[i].alone == q[i].alone);
            FUZZ_CHECK(back[i].pid == q[i].pid);
            FUZZ_CHECK(back[i].start_ticks == q[i].start_ticks);
            FUZZ_CHECK(back[i].since_ms == q[i].since_ms);
            FUZZ_CHECK(back[i].seen_ms == q[i].seen_ms);
            FUZZ_CHECK(back[i].id == q[i].id);
            FUZZ_CHECK(back[i].session == q[i].session);
        }
        FUZZ_CHECK(queue_to_text(back) == again);
    });
    return 0;
}
