// Claim names and session ids: check_name refuses exactly what name_problem
// names, with exit 2, and a refusal never echoes a raw control byte; a
// valid name's file name decodes back to it and is never a dot-file.
#include "core/text.hpp"
#include "fuzz.hpp"

using namespace loop;

namespace {

bool shows_only_printable(const std::string& s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7f) return false;
    return true;
}

bool allowed_byte(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string("._:@+=/-").find(static_cast<char>(c)) != std::string::npos;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string name = fuzz::text_of(data, size);
    fuzz::refuse_only_with_error([&] {
        auto problem = name_problem(name);
        bool refused = false;
        try {
            check_name(name, "claim name");
        } catch (const Error& e) {
            refused = true;
            FUZZ_CHECK(e.code() == Exit::Usage);
            FUZZ_CHECK(shows_only_printable(e.message()));
        }
        FUZZ_CHECK(refused == problem.has_value());
        if (!problem) {
            FUZZ_CHECK(!name.empty() && name.size() <= 200);
            FUZZ_CHECK(name[0] != '.' && name[0] != '-' && name[0] != '/');
            FUZZ_CHECK(name.back() != '/');
            FUZZ_CHECK(name.find("//") == std::string::npos);
            FUZZ_CHECK(name.find("/.") == std::string::npos);
            for (unsigned char c : name)
                FUZZ_CHECK(allowed_byte(c));
            const std::string file = name_file(name);
            FUZZ_CHECK(file.find('/') == std::string::npos && file[0] != '.');
            FUZZ_CHECK(file_name_claim(file) == name);
        } else {
            FUZZ_CHECK(!file_name_claim(name_file(name)) || name.find('%') != std::string::npos);
        }
        FUZZ_CHECK(shows_only_printable(printable(name)));
        FUZZ_CHECK(shows_only_printable(printable(name, true)));
    });
    return 0;
}
