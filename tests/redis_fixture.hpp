// What the tests of the Redis backend's scripts share: a real redis-server
// with a client, sessions recorded on it, and readers of its keys.
#pragma once

#include "core/error.hpp"
#include "core/sessions/sessions.hpp"
#include "redis_server.hpp"
#include "store/redis/redis_scripts.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace loop::test {

using namespace loop::redis;

inline SessionRecord make_session(const std::string& id) {
    SessionRecord s;
    s.id = id;
    s.nonce = new_nonce();
    s.kind = "explicit";
    s.host = "host-" + id;
    s.ttl_ms = 30'000;
    return s;
}

inline Caller caller(const SessionRecord& s) {
    return {s.id, s.nonce};
}

inline AcquireArgs args(const SessionRecord& s, std::vector<std::string> names,
                        Mode mode = Mode::Exclusive, int64_t ttl_ms = 0) {
    AcquireArgs a;
    a.who = caller(s);
    a.names = std::move(names);
    a.mode = mode;
    a.ttl_ms = ttl_ms;
    a.pid = 4242;
    a.host = s.host;
    return a;
}

struct Redis {
    explicit Redis(const std::string& prefix = "loop:") : c(server.url()) { k.prefix = prefix; }
    SessionRecord session(const std::string& id) {
        SessionRecord s = make_session(id);
        REQUIRE(session_put(c, k, s, 30'000) == PutResult::Created);
        return s;
    }
    AcquireResult take(const SessionRecord& s, std::vector<std::string> names,
                       Mode mode = Mode::Exclusive, int64_t ttl_ms = 0) {
        return acquire(c, k, args(s, std::move(names), mode, ttl_ms));
    }
    bool exists(const std::string& key) { return c.command({"EXISTS", key}).integer == 1; }
    nlohmann::json record(const std::string& name) {
        Value v = c.command({"GET", k.claim(name)});
        return v.is_nil() ? nlohmann::json() : nlohmann::json::parse(v.str);
    }
    // The events of the stream: (event, data).
    std::vector<std::pair<std::string, nlohmann::json>> events() {
        std::vector<std::pair<std::string, nlohmann::json>> out;
        for (const auto& e : c.command({"XRANGE", k.events(), "-", "+"}).elements) {
            const auto& f = e.elements.at(1).elements;
            REQUIRE(f.size() == 4);
            CHECK(f[0].str == "event");
            CHECK(f[2].str == "data");
            out.emplace_back(f[1].str, nlohmann::json::parse(f[3].str));
        }
        return out;
    }

    RedisServer server;
    RedisClient c;
    Keys k;
};

} // namespace loop::test
