// Strict JSON: bad input is refused with exit 2 only; what is accepted is
// what nlohmann::json reads, and its serialisation is accepted back equal.
#include "core/strict_json.hpp"
#include "fuzz.hpp"

using namespace loop;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text = fuzz::text_of(data, size);
    try {
        nlohmann::json doc = parse_strict_json(text, "fuzz.json");
        FUZZ_CHECK(doc == nlohmann::json::parse(text));
        try {
            FUZZ_CHECK(parse_strict_json(doc.dump(), "again.json") == doc);
            FUZZ_CHECK(parse_strict_json(doc.dump(2), "again.json") == doc);
        } catch (const Error& e) {
            fuzz::finding("a serialised document is refused", e.message());
        }
    } catch (const Error& e) {
        FUZZ_CHECK(e.code() == Exit::Usage);
    } catch (const std::exception& e) {
        fuzz::finding("an exception other than loop::Error escaped", e.what());
    }
    return 0;
}
