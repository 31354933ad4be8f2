// The supervisors of the fleet on Redis: each keeps a record (P
// supervisor:ID, a hash) refreshed by its heartbeat and an entry in the
// index (P supervisors, P supervisors_last) that `loop status` reads.
#include "core/error.hpp"
#include "store/redis/host_identity.hpp"
#include "store/redis/lua_scripts.hpp"
#include "store/redis/redis_backend.hpp"

#include <algorithm>
#include <cstdlib>

namespace loop::redis {

namespace {

// The index keeps a supervisor this long after its last heartbeat.
constexpr int64_t kIndexRetentionMs = 24LL * 3600 * 1000;

} // namespace

int64_t RedisBackend::supervisor_period_ms() const {
    // A third of the session TTL, at most 5 s: a supervisor's record lapses
    // no later than the sessions it kept.
    return std::clamp<int64_t>(url_.session_ttl_ms / 3, 100, 5000);
}

std::string RedisBackend::supervisor_id() const {
    return host_.key + worker_suffix(host_.key, home_.path());
}

SupervisorRecord RedisBackend::own_record(const SupervisorRecord& r) const {
    SupervisorRecord out = r;
    out.id = supervisor_id();
    out.host = host_.name;
    out.host_id = host_.key;
    if (out.home.empty()) out.home = home_.path();
    return out;
}

RedisClient& RedisBackend::supervisor_client() {
    if (!sup_client_) sup_client_ = std::make_unique<RedisClient>(url_);
    return *sup_client_;
}

void RedisBackend::put_supervisor(const SupervisorRecord& in) {
    SupervisorRecord r = own_record(in);
    std::vector<std::string> args = {r.id, std::to_string(3 * supervisor_period_ms()),
                                     std::to_string(kIndexRetentionMs), summary_text(r)};
    for (auto& f : record_fields(r))
        args.push_back(std::move(f));
    try {
        supervisor_client().eval(
            lua::supervisor_put,
            {keys_.supervisor(r.id), keys_.supervisors(), keys_.supervisors_last()}, args);
    } catch (const Error&) {
        sup_client_.reset();
        throw;
    }
}

void RedisBackend::drop_supervisor(const SupervisorRecord& in) {
    SupervisorRecord r = own_record(in);
    try {
        supervisor_client().eval(
            lua::supervisor_drop,
            {keys_.supervisor(r.id), keys_.supervisors(), keys_.supervisors_last()},
            {r.id, summary_text(r)});
    } catch (const Error&) {
        sup_client_.reset();
        throw;
    }
}

std::vector<SupervisorRecord> RedisBackend::supervisors(std::vector<std::string>* errors) {
    Value index = client().command({"ZRANGE", keys_.supervisors(), "0", "-1", "WITHSCORES"});
    std::vector<SupervisorRecord> out;
    const std::string here = supervisor_id();
    for (size_t i = 0; i + 1 < index.elements.size(); i += 2) {
        const std::string& id = index.elements[i].str;
        const int64_t last = std::atoll(index.elements[i + 1].str.c_str());
        Value rec = client().command({"HGETALL", keys_.supervisor(id)});
        std::optional<SupervisorRecord> r;
        if (!rec.elements.empty()) {
            std::vector<std::string> pairs;
            for (const auto& e : rec.elements)
                pairs.push_back(e.str);
            std::string why;
            r = record_of_fields(pairs, &why);
            if (!r && errors)
                errors->push_back("redis " + client().endpoint() + ": unreadable record at " +
                                  keys_.supervisor(id) + ": " + why + " (inspect it with HGETALL)");
        }
        if (!r) {
            // Gone (or unreadable): what the index kept of it.
            Value sum = client().command({"HGET", keys_.supervisors_last(), id});
            if (sum.type == Value::Type::String) r = record_of_summary(id, sum.str);
            if (!r) continue;
            r->heartbeat_ms = last;
            // An unreadable record that lives is a supervisor that runs.
            if (!rec.elements.empty()) r->state = SupervisorRecord::State::Running;
        }
        r->id = id;
        r->local = id == here;
        out.push_back(std::move(*r));
    }
    std::sort(out.begin(), out.end(), [](const SupervisorRecord& a, const SupervisorRecord& b) {
        return a.host != b.host ? a.host < b.host : a.id < b.id;
    });
    return out;
}

} // namespace loop::redis
