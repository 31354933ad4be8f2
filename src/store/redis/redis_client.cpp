#include "store/redis/redis_client.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "os/sigpipe.hpp"
#include "store/redis/lua_scripts.hpp"

#include <hiredis/hiredis.h>

#include <sys/time.h>

namespace loop::redis {

namespace {

struct ContextFree {
    void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
    void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

struct timeval timeval_of(int64_t ms) {
    struct timeval tv {};
    tv.tv_sec = static_cast<time_t>(ms / 1000);
    tv.tv_usec = static_cast<suseconds_t>((ms % 1000) * 1000);
    return tv;
}

Value value_of(const redisReply* r) {
    Value v;
    switch (r->type) {
    case REDIS_REPLY_INTEGER:
        v.type = Value::Type::Integer;
        v.integer = r->integer;
        break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        v.type = r->type == REDIS_REPLY_STRING ? Value::Type::String : Value::Type::Status;
        v.str.assign(r->str, r->len);
        break;
    case REDIS_REPLY_ARRAY:
        v.type = Value::Type::Array;
        for (size_t i = 0; i < r->elements; ++i)
            v.elements.push_back(value_of(r->element[i]));
        break;
    default:
        break;
    }
    return v;
}

bool starts_with(std::string_view s, std::string_view p) {
    return s.substr(0, p.size()) == p;
}

// What an error reply means, for a user: the server's words, with a hint first.
std::string error_reason(const std::string& msg) {
    if (msg.find("READONLY") != std::string::npos) return "read-only replica: " + msg;
    if (starts_with(msg, "OOM") || msg.find("-OOM") != std::string::npos)
        return "out of memory (maxmemory reached, nothing written): " + msg;
    if (starts_with(msg, "LOADING")) return "still loading its data set: " + msg;
    if (starts_with(msg, "WRONGPASS") || starts_with(msg, "NOAUTH") ||
        msg.find("invalid password") != std::string::npos ||
        msg.find("without any password configured") != std::string::npos)
        return "authentication failed: " + msg;
    if (starts_with(msg, "NOPERM")) return "permission denied by ACL: " + msg;
    return msg;
}

} // namespace

struct RedisClient::Context {
    std::unique_ptr<redisContext, ContextFree> c;
};

RedisClient::RedisClient(const BackendUrl& url, int64_t command_timeout_ms)
    : url_(url), endpoint_(url.endpoint()), ctx_(std::make_unique<Context>()) {
    if (url_.kind != BackendKind::Redis) throw Error(Exit::Usage, "not a Redis backend URL");
    const struct timeval connect_tv = timeval_of(url_.connect_timeout_ms);
    redisContext* c = url_.is_unix()
                          ? redisConnectUnixWithTimeout(url_.socket_path.c_str(), connect_tv)
                          : redisConnectWithTimeout(url_.host.c_str(), url_.port, connect_tv);
    if (c == nullptr) fail("cannot allocate a connection");
    ctx_->c.reset(c);
    if (c->err) {
        std::string why = c->errstr;
        if (why == "Resource temporarily unavailable" || why == "Connection timed out")
            why = "no answer within the connect timeout (" +
                  std::to_string(url_.connect_timeout_ms) + " ms)";
        fail("cannot connect: " + why);
    }
    command_timeout_ms_ = command_timeout_ms > 0 ? command_timeout_ms : url_.connect_timeout_ms;
    if (redisSetTimeout(c, timeval_of(command_timeout_ms_)) != REDIS_OK)
        fail("cannot set the command timeout");
    if (!url_.user.empty()) {
        send({"AUTH", url_.user, url_.password}, true);
    } else if (!url_.password.empty()) {
        send({"AUTH", url_.password}, true);
    }
    if (url_.db != 0) send({"SELECT", std::to_string(url_.db)}, true);
}

RedisClient::~RedisClient() = default;

void RedisClient::fail(const std::string& reason) {
    std::string msg = "redis " + endpoint_ + ": " + reason;
    // The server's words might quote what was sent; never show the password.
    if (!url_.password.empty()) {
        for (size_t at = msg.find(url_.password); at != std::string::npos;
             at = msg.find(url_.password, at + 3))
            msg.replace(at, url_.password.size(), "***");
    }
    throw Error(Exit::Failure, msg);
}

Value RedisClient::send(const std::vector<std::string>& argv, bool throw_on_error_reply) {
    if (!ctx_->c) fail("connection closed after an earlier error");
    std::vector<const char*> args;
    std::vector<size_t> lens;
    args.reserve(argv.size());
    lens.reserve(argv.size());
    for (const auto& a : argv) {
        args.push_back(a.data());
        lens.push_back(a.size());
    }
    void* raw = nullptr;
    {
        // A server gone away is a failed write (EPIPE), reported as such.
        os::SigpipeBlocked quiet;
        raw = redisCommandArgv(ctx_->c.get(), static_cast<int>(args.size()), args.data(),
                               lens.data());
    }
    ReplyPtr reply(static_cast<redisReply*>(raw));
    if (!reply) {
        std::string why = ctx_->c->errstr;
        if (ctx_->c->err == REDIS_ERR_IO &&
            (why == "Resource temporarily unavailable" || why == "Connection timed out"))
            why = "no reply to " + argv[0] + " within the timeout";
        else if (ctx_->c->err == REDIS_ERR_EOF)
            why = "the server closed the connection (" + why + ")";
        ctx_->c.reset();
        fail(why);
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        std::string msg(reply->str, reply->len);
        if (throw_on_error_reply) fail(error_reason(msg));
        Value v;
        v.type = Value::Type::Status;
        v.str = "-" + msg; // only for eval(): "-NOSCRIPT ..."
        return v;
    }
    return value_of(reply.get());
}

Value RedisClient::command(const std::vector<std::string>& argv) {
    return send(argv, true);
}

Value RedisClient::command_blocking(const std::vector<std::string>& argv, int64_t block_ms) {
    if (!ctx_->c) fail("connection closed after an earlier error");
    if (redisSetTimeout(ctx_->c.get(), timeval_of(block_ms + command_timeout_ms_)) != REDIS_OK)
        fail("cannot set the command timeout");
    Value v = send(argv, true);
    if (ctx_->c) redisSetTimeout(ctx_->c.get(), timeval_of(command_timeout_ms_));
    return v;
}

Value RedisClient::eval(const lua::Script& script, const std::vector<std::string>& keys,
                        const std::vector<std::string>& args) {
    std::vector<std::string> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.emplace_back("EVALSHA");
    argv.emplace_back(script.sha1);
    argv.push_back(std::to_string(keys.size()));
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    for (int attempt = 0;; ++attempt) {
        Value v = send(argv, false);
        if (v.type != Value::Type::Status || !starts_with(v.str, "-")) return v;
        std::string msg = v.str.substr(1);
        if (!starts_with(msg, "NOSCRIPT") || attempt > 0)
            fail("script " + std::string(script.name) + ": " + error_reason(msg));
        Value sha = send({"SCRIPT", "LOAD", std::string(script.text)}, true);
        if (sha.str != script.sha1)
            fail("script " + std::string(script.name) + ": the server's SHA1 " +
                 printable(sha.str) + " differs from the embedded " + std::string(script.sha1));
    }
}

} // namespace loop::redis
