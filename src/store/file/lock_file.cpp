#include "store/file/lock_file.hpp"

#include <algorithm>
#include <cstdio>
#include <limits>

namespace loop {

CounterText parse_fence_counter(const std::string& text, uint64_t* value) {
    if (text.empty()) return CounterText::Empty;
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    uint64_t v = 0;
    size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
        const uint64_t digit = static_cast<uint64_t>(text[i] - '0');
        if (v > (kMax - digit) / 10) return CounterText::Corrupt;
        v = v * 10 + digit;
    }
    if (i == 0) return CounterText::Corrupt;
    if (i < text.size() && text[i] != '\n') return CounterText::Corrupt;
    *value = v;
    return CounterText::Number;
}

std::string header_boot(const std::string& text) {
    if (text.size() < kLockHeaderSize || text[kFenceWidth] != '\n' ||
        text[kLockHeaderSize - 1] != '\n')
        return "";
    std::string boot = text.substr(kFenceWidth + 1, kLockHeaderSize - kFenceWidth - 2);
    while (!boot.empty() && boot.back() == ' ')
        boot.pop_back();
    return boot;
}

std::string queue_part(const std::string& text) {
    if (header_boot(text).empty()) return "";
    return text.substr(kLockHeaderSize);
}

std::string header_text(uint64_t fence, const std::string& boot) {
    char buf[kFenceWidth + 2];
    std::snprintf(buf, sizeof buf, "%020llu\n", static_cast<unsigned long long>(fence));
    std::string b = boot.substr(0, kLockHeaderSize - kFenceWidth - 2);
    b.resize(kLockHeaderSize - kFenceWidth - 2, ' ');
    return std::string(buf) + b + "\n";
}

std::optional<uint64_t> next_fence_value(uint64_t last, uint64_t above, bool trusted,
                                         uint64_t now_us) {
    uint64_t base = std::max(last, above);
    if (!trusted) base = std::max(base, now_us);
    if (base == std::numeric_limits<uint64_t>::max()) return std::nullopt;
    return base + 1;
}

} // namespace loop
