// The playbook's log settings: log_timestamps, log_max_size, log_keep, at
// the top level (the defaults) and per worker.
#include "core/supervisor/playbook_detail.hpp"
#include "core/text.hpp"

#include <cctype>

namespace loop {

namespace {

std::string key_path(const std::string& path, const char* key) {
    return path.empty() ? key : path + "." + key;
}

std::string shown(const nlohmann::json& j) {
    if (j.is_object()) return "an object";
    if (j.is_array()) return "an array";
    if (j.is_string()) return "\"" + printable(j.get_ref<const std::string&>(), true) + "\"";
    return printable(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), true);
}

} // namespace

std::optional<int64_t> parse_size(std::string_view text) {
    size_t i = 0;
    int64_t n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        n = n * 10 + (text[i] - '0');
        if (n > (1LL << 50)) return std::nullopt;
        ++i;
    }
    if (i == 0) return std::nullopt;
    std::string unit;
    for (size_t k = i; k < text.size(); ++k)
        unit += static_cast<char>(std::tolower(static_cast<unsigned char>(text[k])));
    int shift = 0;
    if (unit.empty() || unit == "b") {
        shift = 0;
    } else if (unit == "k" || unit == "kb" || unit == "kib") {
        shift = 10;
    } else if (unit == "m" || unit == "mb" || unit == "mib") {
        shift = 20;
    } else if (unit == "g" || unit == "gb" || unit == "gib") {
        shift = 30;
    } else {
        return std::nullopt;
    }
    if (n > ((1LL << 50) >> shift)) return std::nullopt;
    return n << shift;
}

LogSettings log_settings(const nlohmann::json& obj, const std::string& path,
                         const LogSettings& defaults, const LogFail& fail) {
    LogSettings s = defaults;
    if (auto it = obj.find("log_timestamps"); it != obj.end()) {
        if (!it->is_boolean())
            fail(key_path(path, "log_timestamps"), "must be true or false, got " + shown(*it));
        s.timestamps = it->get<bool>();
    }
    if (auto it = obj.find("log_max_size"); it != obj.end()) {
        const std::string p = key_path(path, "log_max_size");
        const char* shape = "a size such as \"64KiB\", \"10MB\" or \"1GiB\" (powers of 1024)";
        std::optional<int64_t> n;
        if (it->is_number_unsigned()) {
            auto v = it->get<uint64_t>();
            if (v <= static_cast<uint64_t>(kMaxLogMaxSize))
                n = static_cast<int64_t>(v);
            else
                n = kMaxLogMaxSize + 1;
        } else if (it->is_string()) {
            n = parse_size(it->get_ref<const std::string&>());
            if (!n) fail(p, "bad size " + shown(*it) + ": use " + shape);
        } else {
            fail(p, std::string("must be ") + shape + ", got " + shown(*it));
        }
        if (*n < kMinLogMaxSize) fail(p, "must be at least 4KiB, got " + shown(*it));
        if (*n > kMaxLogMaxSize) fail(p, "must be at most 64GiB, got " + shown(*it));
        s.max_size = *n;
    }
    if (auto it = obj.find("log_keep"); it != obj.end()) {
        const std::string p = key_path(path, "log_keep");
        if (!it->is_number_unsigned() || it->get<uint64_t>() < 1 ||
            it->get<uint64_t>() > static_cast<uint64_t>(kMaxLogKeep))
            fail(p, "must be an integer from 1 to " + std::to_string(kMaxLogKeep) + ", got " +
                        shown(*it));
        s.keep = static_cast<int>(it->get<uint64_t>());
    }
    return s;
}

} // namespace loop
