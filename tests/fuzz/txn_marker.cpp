// Commit markers of multi-name acquisitions (txn/ID): reading any text
// never fails, and the owner read from one is written back to a marker
// that reads as the same owner.
#include "core/records.hpp"
#include "fuzz.hpp"

using namespace loop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text = fuzz::text_of(data, size);
    fuzz::refuse_only_with_error([&] {
        auto owner = txn_marker_owner(text);
        if (!owner) return;
        auto back = txn_marker_owner(txn_marker_text(*owner));
        FUZZ_CHECK(back.has_value());
        FUZZ_CHECK(back->pid == owner->pid);
        FUZZ_CHECK(back->start_ticks == owner->start_ticks);
        FUZZ_CHECK(back->boot_id == owner->boot_id);
    });
    return 0;
}
