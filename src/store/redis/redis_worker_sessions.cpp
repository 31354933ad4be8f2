#include "core/error.hpp"
#include "store/redis/host_identity.hpp"
#include "store/redis/keeper.hpp"
#include "store/redis/redis_backend.hpp"

namespace loop::redis {

void RedisWorkerSessions::put(const SessionRecord& s) {
    // The id is this supervisor's (host-qualified): an earlier incarnation's
    // key, if any is left, is replaced.
    RedisClient& c = b_.client();
    c.command({"DEL", b_.keys_.session(s.id)});
    if (session_put(c, b_.keys_, s, b_.url_.session_ttl_ms) != PutResult::Created)
        throw Error(Exit::Failure, "redis " + c.endpoint() + ": cannot record session " + s.id);
    Value added = c.command({"SADD", b_.keys_.host(b_.host_.key), s.id});
    Value keeper = c.command({"GET", b_.keys_.keeper(b_.host_.key)});
    ensure_keeper(b_.home_, b_.url_text_, keeper.type == Value::Type::String ? keeper.str : "",
                  added.integer == 1);
}

std::vector<std::string> RedisWorkerSessions::release(const std::string& id, const std::string&) {
    std::optional<SessionRecord> s = b_.read_session(id);
    if (!s) return {}; // ended: none of its holders is valid any more
    return session_end(b_.client(), b_.keys_, {s->id, s->nonce}).released;
}

void RedisWorkerSessions::drop(const std::string& id) {
    b_.client().command({"DEL", b_.keys_.session(id)});
    b_.client().command({"SREM", b_.keys_.host(b_.host_.key), id});
}

std::vector<std::pair<SessionRecord, Verdict>>
RedisWorkerSessions::list(std::vector<std::string>* errors) {
    std::vector<std::pair<SessionRecord, Verdict>> out;
    for (auto& v : b_.sessions(errors))
        out.push_back({std::move(v.record), std::move(v.verdict)});
    return out;
}

std::string RedisWorkerSessions::id_suffix() const {
    return worker_suffix(b_.host_.key, b_.home_.path());
}

} // namespace loop::redis
