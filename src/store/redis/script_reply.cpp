#include "store/redis/script_reply.hpp"

#include "core/error.hpp"

#include <algorithm>

namespace loop::redis::reply {

using nlohmann::json;

[[noreturn]] void bad_reply(const RedisClient& c, const lua::Script& s, const std::string& why) {
    throw Error(Exit::Failure,
                "redis " + c.endpoint() + ": script " + std::string(s.name) + ": " + why);
}

json object_of(const RedisClient& c, const lua::Script& s, const Value& v) {
    if (v.type != Value::Type::String) bad_reply(c, s, "the reply is not a string");
    json j = json::parse(v.str, nullptr, false);
    if (!j.is_object()) bad_reply(c, s, "the reply is not a JSON object");
    return j;
}

json run(RedisClient& c, const lua::Script& s, const std::vector<std::string>& keys,
         const std::vector<std::string>& args) {
    return object_of(c, s, c.eval(s, keys, args));
}

json list(const json& j) {
    if (j.is_array()) return j;
    return json::array();
}

std::string str(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t num(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number() ? it->get<int64_t>() : 0;
}

Mode mode_of(const std::string& m) {
    return m == "shared" ? Mode::Shared : Mode::Exclusive;
}

std::vector<std::string> strings(const json& j) {
    std::vector<std::string> out;
    for (const auto& e : list(j))
        if (e.is_string()) out.push_back(e.get<std::string>());
    return out;
}

Holder holder_of(const json& h) {
    Holder out;
    out.session = str(h, "session");
    out.nonce = str(h, "nonce");
    out.pid = static_cast<int>(num(h, "pid"));
    out.fence = static_cast<uint64_t>(num(h, "fence"));
    out.acquired_ms = num(h, "acquired_ms");
    out.expires_ms = num(h, "expires_ms");
    out.ttl_ms = num(h, "ttl_ms");
    out.reason = str(h, "reason");
    if (auto m = h.find("meta"); m != h.end() && m->is_object())
        for (const auto& [key, value] : m->items())
            if (value.is_string()) out.meta[key] = value.get<std::string>();
    return out;
}

std::vector<std::string> sorted_unique(std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

} // namespace loop::redis::reply
