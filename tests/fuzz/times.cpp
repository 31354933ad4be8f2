// Timestamps: what parse_time accepts is shown by format_time as a text
// that parses back to the same instant; format_time and format_clock take
// any instant, however extreme.
#include "core/text.hpp"
#include "fuzz.hpp"

#include <cstring>

using namespace loop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text = fuzz::text_of(data, size);
    fuzz::refuse_only_with_error([&] {
        if (auto ms = parse_time(text)) {
            std::string shown = format_time(*ms);
            FUZZ_CHECK(parse_time(shown) == *ms);
        }
        if (size >= sizeof(int64_t)) {
            int64_t any;
            std::memcpy(&any, data, sizeof any);
            std::string shown = format_time(any);
            (void)format_clock(any);
            // Years 0000 to 9999 print in the form parse_time reads back.
            if (any >= -62'167'219'200'000LL && any <= 253'402'300'799'999LL)
                FUZZ_CHECK(parse_time(shown) == any);
        }
    });
    return 0;
}
