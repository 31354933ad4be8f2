// Choosing the backend of one invocation (SPEC section 6).
#include "core/error.hpp"
#include "core/home.hpp"
#include "core/text.hpp"
#include "os/fs.hpp"
#include "store/backend.hpp"
#include "store/file/file_backend.hpp"
#include "store/redis/backend_url.hpp"
#include "store/redis/redis_backend.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>

#include <cerrno>
#include <cstdlib>

namespace loop {

namespace {

// "backend" in the home's config.json, "" when there is no such file or key.
std::string configured_backend(const std::string& home_path) {
    int err = 0;
    const std::string path = home_path + "/config.json";
    auto text = os::read_file_at(AT_FDCWD, path, &err);
    if (!text) {
        if (err == ENOENT || err == ENOTDIR) return ""; // the home says what is wrong
        throw Error(Exit::Failure, "cannot read " + path + ": " + os::read_error_text(err));
    }
    auto j = nlohmann::json::parse(*text, nullptr, false);
    if (!j.is_object())
        throw Error(Exit::Usage, path + ": not a JSON object (expected {\"backend\": \"URL\"})");
    auto it = j.find("backend");
    if (it == j.end()) return "";
    if (!it->is_string()) throw Error(Exit::Usage, path + ": \"backend\" must be a string");
    return it->get<std::string>();
}

} // namespace

std::string chosen_backend(const std::string& home, const std::string& flag) {
    std::string text = flag;
    if (text.empty())
        if (const char* env = std::getenv("LOOP_BACKEND")) text = env;
    if (text.empty()) text = configured_backend(home);
    return text;
}

std::unique_ptr<Backend> open_backend(const std::string& home_flag, const std::string& flag) {
    const std::string home = Home::resolve(home_flag);
    const std::string text = chosen_backend(home, flag);
    redis::BackendUrl url = redis::parse_backend_url(text);
    if (url.kind == redis::BackendKind::File) return std::make_unique<FileBackend>(home);
    return std::make_unique<redis::RedisBackend>(home, std::move(url), text);
}

} // namespace loop
