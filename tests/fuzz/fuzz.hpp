// What every fuzz target shares: bad input may only be refused with
// loop::Error; anything else (another exception, a broken property) is a
// finding, reported by aborting so that libFuzzer saves the input.
#pragma once

#include "core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace loop::fuzz {

[[noreturn]] inline void finding(const char* what, const std::string& detail = "") {
    std::fprintf(stderr, "FINDING: %s%s%s\n", what, detail.empty() ? "" : ": ", detail.c_str());
    std::abort();
}

// Runs `body`; an Error is an accepted refusal, any other exception a finding.
template <class Body> void refuse_only_with_error(Body&& body) {
    try {
        body();
    } catch (const Error&) {
    } catch (const std::exception& e) {
        finding("an exception other than loop::Error escaped", e.what());
    } catch (...) {
        finding("a non-standard exception escaped");
    }
}

inline std::string text_of(const uint8_t* data, size_t size) {
    return std::string(reinterpret_cast<const char*>(data), size);
}

} // namespace loop::fuzz

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) ::loop::fuzz::finding("property broken", #cond);                              \
    } while (0)
