#include "store/redis/redis_events.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"
#include "store/redis/redis_backend.hpp"

#include <nlohmann/json.hpp>

namespace loop::redis {

namespace {

// One stream entry [id, [field, value, ...]] as an events.jsonl line ("" if
// it is not one of ours).
std::string line_of(const Value& entry) {
    if (entry.elements.size() != 2) return "";
    std::string name, data;
    const auto& fields = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
        if (fields[i].str == "event") name = fields[i + 1].str;
        if (fields[i].str == "data") data = fields[i + 1].str;
    }
    auto j = nlohmann::json::parse(data, nullptr, false);
    if (name.empty() || !j.is_object()) return "";
    nlohmann::ordered_json out;
    int64_t ts = j.value("ts_ms", int64_t{0});
    out["ts"] = format_time(ts);
    out["event"] = name;
    for (auto& [key, value] : j.items())
        if (key != "ts_ms") out[key] = value;
    return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void take(const Value& entries, EventBatch& out) {
    for (const auto& e : entries.elements) {
        if (e.elements.empty()) continue;
        out.last_id = e.elements[0].str;
        std::string line = line_of(e);
        if (!line.empty()) out.lines.push_back(std::move(line));
    }
}

} // namespace

EventBatch read_events(RedisClient& c, const Keys& k, const std::string& after_id,
                       int64_t block_ms) {
    EventBatch out;
    out.last_id = after_id;
    take(c.command({"XRANGE", k.events(), "(" + after_id, "+", "COUNT", "1000"}), out);
    if (!out.lines.empty() || out.last_id != after_id || block_ms <= 0) return out;
    Value v = c.command_blocking({"XREAD", "COUNT", "1000", "BLOCK", std::to_string(block_ms),
                                  "STREAMS", k.events(), after_id},
                                 block_ms);
    // [[key, [entries...]]] or nil on timeout
    for (const auto& stream : v.elements)
        if (stream.elements.size() == 2) take(stream.elements[1], out);
    return out;
}

void RedisBackend::record_event(const std::string& event, const nlohmann::json& fields) {
    nlohmann::json data = fields.is_object() ? fields : nlohmann::json::object();
    if (!data.contains("ts_ms")) data["ts_ms"] = os::now_ms();
    data["host"] = host_.name;
    client().command({"XADD", keys_.events(), "MAXLEN", "~", "10000", "*", "event", event, "data",
                      data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
}

} // namespace loop::redis
