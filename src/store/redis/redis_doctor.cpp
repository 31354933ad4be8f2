#include "store/redis/redis_doctor.hpp"

#include "core/error.hpp"
#include "store/redis/redis_client.hpp"

#include <map>
#include <memory>
#include <sstream>

namespace loop::redis {

namespace {

// "key:value" lines of an INFO section.
std::map<std::string, std::string> info(RedisClient& c, const char* section) {
    std::map<std::string, std::string> out;
    Value v = c.command({"INFO", section});
    std::istringstream in(v.str);
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        auto colon = line.find(':');
        if (line.empty() || line[0] == '#' || colon == std::string::npos) continue;
        out[line.substr(0, colon)] = line.substr(colon + 1);
    }
    return out;
}

Finding finding(const std::string& kind, const std::string& where, const std::string& problem,
                const std::string& fix, Severity severity) {
    Finding f;
    f.kind = kind;
    f.path = where;
    f.problem = problem;
    f.fix = fix;
    f.severity = severity;
    return f;
}

} // namespace

std::vector<Finding> doctor_findings(const BackendUrl& url) {
    std::vector<Finding> out;
    const std::string where = url.redacted();
    std::unique_ptr<RedisClient> c;
    try {
        c = std::make_unique<RedisClient>(url);
        c->command({"PING"});
    } catch (const Error& e) {
        out.push_back(finding("redis-unreachable", where, e.message(),
                              "start the server or fix the URL; nothing can be claimed meanwhile",
                              Severity::Problem));
        return out;
    }
    auto memory = info(*c, "memory");
    const std::string policy = memory.count("maxmemory_policy") ? memory["maxmemory_policy"] : "";
    if (policy != "noeviction") {
        out.push_back(finding(
            "redis-eviction", where,
            "maxmemory-policy is " + (policy.empty() ? std::string("unknown") : policy) +
                ": under memory pressure Redis may evict session or claim keys, and a claim "
                "could then be granted twice",
            "CONFIG SET maxmemory-policy noeviction (and set it in redis.conf)",
            Severity::Problem));
    }
    auto persistence = info(*c, "persistence");
    bool aof = persistence["aof_enabled"] == "1";
    std::string save;
    try {
        Value v = c->command({"CONFIG", "GET", "save"});
        if (v.elements.size() == 2) save = v.elements[1].str;
    } catch (const Error&) {
        save = "?"; // CONFIG is renamed or denied: do not guess
    }
    if (!aof && save.empty()) {
        out.push_back(finding(
            "redis-persistence", where,
            "persistence is off (no AOF, no RDB snapshots): a restart of Redis forgets every "
            "claim and session (fences still increase: they never fall below the server's "
            "clock)",
            "CONFIG SET appendonly yes, if claims must survive a restart of Redis",
            Severity::Info));
    }
    return out;
}

} // namespace loop::redis
