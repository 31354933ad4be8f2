// Durations: a parsed one is -1 (inf) or a non-negative number of
// milliseconds, the throwing form refuses with exit 2 only, and whatever
// parses can be shown.
#include "core/text.hpp"
#include "fuzz.hpp"

using namespace loop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text = fuzz::text_of(data, size);
    fuzz::refuse_only_with_error([&] {
        auto ms = parse_duration(text);
        if (ms) {
            FUZZ_CHECK(*ms >= 0 || *ms == kInfinite);
            FUZZ_CHECK((*ms == kInfinite) == (text == "inf" || text == "infinity"));
            (void)format_age(*ms);
            if (*ms >= 0 && *ms <= 1'000'000'000'000LL)
                FUZZ_CHECK(parse_duration(std::to_string(*ms) + "ms") == *ms);
        }
        try {
            FUZZ_CHECK(parse_duration_or_throw(text, "--ttl") == ms);
        } catch (const Error& e) {
            FUZZ_CHECK(!ms);
            FUZZ_CHECK(e.code() == Exit::Usage);
        }
    });
    return 0;
}
