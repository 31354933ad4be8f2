// Session records: a malformed record is refused with loop::Error only,
// what parses serialises to a text that parses back equal, and a record the
// flat reader reads is the one the general reader makes of the same text;
// the one-pass writer writes what nlohmann's document does.
#include "core/records.hpp"
#include "fuzz.hpp"

using namespace loop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text = fuzz::text_of(data, size);
    if (std::optional<SessionRecord> flat = session_from_flat_json(text)) {
        try {
            FUZZ_CHECK(to_json_text(session_from_json_dom(text, "sessions/fuzz")) ==
                       to_json_text(*flat));
        } catch (const Error& e) {
            fuzz::finding("the flat reader read a record the general one refuses", e.message());
        }
    }
    fuzz::refuse_only_with_error([&] {
        SessionRecord s = session_from_json_text(text, "sessions/fuzz");
        std::string once = to_json_text(s);
        FUZZ_CHECK(once == session_to_json_dom(s));
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
