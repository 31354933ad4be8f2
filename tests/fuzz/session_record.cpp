// Session records: a malformed record is refused with loop::Error only,
// and what parses serialises to a text that parses back equal.
#include "core/records.hpp"
#include "fuzz.hpp"

using namespace loop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text = fuzz::text_of(data, size);
    fuzz::refuse_only_with_error([&] {
        SessionRecord s = session_from_json_text(text, "sessions/fuzz");
        std::string once = to_json_text(s);
        SessionRecord back;
        try {
            back = session_from_json_text(once, "sessions/fuzz");
        } catch (const Error& e) {
            fuzz::finding("a serialised session record does not parse back", e.message());
        }
        FUZZ_CHECK(to_json_text(back) == once);
    });
    return 0;
}
