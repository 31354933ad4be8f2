// What the Redis engine's scripts answer, read back: the helpers every
// script's C++ side (redis_scripts.cpp, acquire_script.cpp) shares.
#pragma once

#include "core/records.hpp"
#include "store/redis/lua_scripts.hpp"
#include "store/redis/redis_client.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace loop::redis::reply {

// Fails with exit 3, naming the server and the script.
[[noreturn]] void bad_reply(const RedisClient& c, const lua::Script& s, const std::string& why);

// The JSON object in a script's reply `v` (a string).
nlohmann::json object_of(const RedisClient& c, const lua::Script& s, const Value& v);

// The JSON object a script returns.
nlohmann::json run(RedisClient& c, const lua::Script& s, const std::vector<std::string>& keys,
                   const std::vector<std::string>& args);

// A list in a script's JSON (the scripts' encoder writes an empty one as {}).
nlohmann::json list(const nlohmann::json& j);
// The string (or "") and the integer (or 0) at `key`.
std::string str(const nlohmann::json& j, const char* key);
int64_t num(const nlohmann::json& j, const char* key);
Mode mode_of(const std::string& m);
// The strings of a list.
std::vector<std::string> strings(const nlohmann::json& j);
// A holder as a claim record stores it.
Holder holder_of(const nlohmann::json& h);

// `names` sorted, each once: the order every script takes names in.
std::vector<std::string> sorted_unique(std::vector<std::string> names);

} // namespace loop::redis::reply
