// Claim records: a malformed record is refused with loop::Error only, what
// parses serialises to a text that parses back equal, and the one-pass
// writer writes what nlohmann's document does.
#include "core/records.hpp"
#include "fuzz.hpp"

using namespace loop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text = fuzz::text_of(data, size);
    fuzz::refuse_only_with_error([&] {
        ClaimRecord c = claim_from_json_text(text, "claims/fuzz");
        FUZZ_CHECK(!c.holders.empty());
        FUZZ_CHECK(c.mode == Mode::Shared || c.holders.size() == 1);
        std::string once = to_json_text(c);
        FUZZ_CHECK(once == claim_to_json_dom(c));
        ClaimRecord back;
        try {
            back = claim_from_json_text(once, "claims/fuzz");
        } catch (const Error& e) {
            fuzz::finding("a serialised claim record does not parse back", e.message());
        }
        FUZZ_CHECK(to_json_text(back) == once);
    });
    return 0;
}
