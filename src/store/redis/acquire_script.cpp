// The acquire script's C++ side: its request, and its answers read back
// (lua/acquire.lua says what each holds).
#include "store/redis/redis_scripts.hpp"

#include "store/redis/script_reply.hpp"

#include <nlohmann/json.hpp>

#include <set>

namespace loop::redis {

using nlohmann::json;
using namespace reply;

namespace {

// The reply of the acquire script (lua/acquire.lua): a grant, as a flat
// array, or the JSON object of any other answer, and then the two records
// as stored (the caller's session, the busy holder's) or nil.
struct AcquireReply {
    bool acquired = false;
    Value grant; // the grant's array, when acquired
    json r;
    std::string session;
    std::string holder_session;
};

AcquireReply run_acquire(RedisClient& c, const std::vector<std::string>& keys,
                         const std::string& arg) {
    Value v = c.eval(lua::acquire, keys, {arg});
    if (v.type != Value::Type::Array || v.elements.size() < 3)
        bad_reply(c, lua::acquire, "the reply is not [JSON, session, holder session]");
    AcquireReply out;
    if (v.elements[1].type == Value::Type::String) out.session = std::move(v.elements[1].str);
    const Value& head = v.elements[0];
    if (head.type == Value::Type::String && head.str == "acquired") {
        out.acquired = true;
        out.grant = std::move(v);
        return out;
    }
    if (v.elements.size() != 3)
        bad_reply(c, lua::acquire, "the reply is not [JSON, session, holder session]");
    out.r = object_of(c, lua::acquire, head);
    if (v.elements[2].type == Value::Type::String)
        out.holder_session = std::move(v.elements[2].str);
    return out;
}

// The grant of the acquire script (its flat array; lua/acquire.lua) for
// `names`, in their order, into `out`.
void grants_of(const RedisClient& c, const Value& v, const std::vector<std::string>& names,
               AcquireResult& out) {
    constexpr size_t kHead = 5, kPerName = 6;
    const auto& e = v.elements;
    if (e.size() != kHead + kPerName * names.size())
        bad_reply(c, lua::acquire, "the grant has " + std::to_string(e.size()) + " elements");
    auto integer = [&](size_t i) {
        if (e[i].type != Value::Type::Integer)
            bad_reply(c, lua::acquire,
                      "element " + std::to_string(i + 1) + " of the grant is not an integer");
        return e[i].integer;
    };
    auto text = [&](size_t i) -> const std::string& {
        if (e[i].type != Value::Type::String)
            bad_reply(c, lua::acquire,
                      "element " + std::to_string(i + 1) + " of the grant is not a string");
        return e[i].str;
    };
    out.status = AcquireResult::Status::Acquired;
    out.created = integer(2) == 1;
    out.added = integer(3) == 1;
    out.keeper = text(4);
    for (size_t i = kHead; i < e.size(); i += kPerName) {
        Grant g;
        g.name = text(i);
        if (g.name != names[(i - kHead) / kPerName])
            bad_reply(c, lua::acquire, "the grant names '" + g.name + "' out of order");
        g.fence = static_cast<uint64_t>(integer(i + 1));
        g.already_held = integer(i + 2) == 1;
        g.mode = mode_of(text(i + 3));
        g.acquired_ms = integer(i + 4);
        g.expires_ms = integer(i + 5);
        out.granted.push_back(std::move(g));
    }
}

Busy busy_of(const json& r) {
    Busy b;
    b.name = str(r, "name");
    b.mode = mode_of(str(r, "mode"));
    if (auto w = r.find("waiter"); w != r.end() && w->is_object()) {
        b.waiting = true;
        b.holder.session = str(*w, "session");
        b.holder.pid = static_cast<int>(num(*w, "pid"));
        b.host = str(*w, "host");
        b.ticket_id = str(*w, "id");
        b.ticket_start_ticks = static_cast<uint64_t>(num(*w, "start_ticks"));
    } else {
        b.holder = holder_of(r["holder"]);
        b.host = str(r["holder"], "host");
    }
    b.holder_pttl_ms = num(r, "holder_pttl_ms");
    b.ttl_left_ms = r.contains("ttl_left_ms") ? num(r, "ttl_left_ms") : -1;
    b.wake_id = str(r, "wake_id");
    return b;
}

} // namespace

AcquireResult acquire(RedisClient& c, const Keys& k, const AcquireArgs& a) {
    const std::vector<std::string> names = sorted_unique(a.names);
    std::vector<std::string> keys = {k.events(),
                                     k.stats(),
                                     k.session(a.who.session),
                                     k.session_claims(a.who.session),
                                     k.host(a.host_key),
                                     k.keeper(a.host_key)};
    for (const auto& n : names) {
        keys.push_back(k.claim(n));
        keys.push_back(k.fence(n));
        keys.push_back(k.wake(n));
        keys.push_back(k.queue(n));
    }
    json req = {{"prefix", k.prefix},
                {"session", a.who.session},
                {"nonce", a.who.nonce},
                {"mode", mode_name(a.mode)},
                {"ttl_ms", a.ttl_ms},
                {"pid", a.pid},
                {"host", a.host},
                {"reason", a.reason},
                {"meta", a.meta.empty() ? json::object() : json(a.meta)},
                {"names", names},
                {"dead", a.dead}};
    if (!a.create.empty()) {
        req["create"] = a.create;
        req["create_ttl_ms"] = a.create_ttl_ms;
    }
    if (!a.host_key.empty() && !a.adopt) req["keep"] = true;
    if (!a.shared_names.empty()) req["shared_names"] = a.shared_names;
    if (a.contend) req["contend"] = true;
    if (a.adopt) {
        req["adopt"] = true;
        req["here"] = {{"boot_id", a.here.boot_id},
                       {"machine_id", a.here.machine_id},
                       {"pid_ns", a.here.pid_ns}};
    }
    if (!a.ticket.id.empty())
        req["ticket"] = {{"id", a.ticket.id},
                         {"pid", a.ticket.pid},
                         {"start_ticks", a.ticket.start_ticks},
                         {"host", a.ticket.host}};
    if (!a.dead_tickets.empty()) req["dead_tickets"] = a.dead_tickets;
    if (a.waited_ms >= 0) {
        req["waited_ms"] = a.waited_ms;
        req["wait_bucket"] = a.wait_bucket;
    }
    const std::string arg = req.dump();
    std::set<std::string> supplied;
    // Each round adds the session keys of holders not seen before; holders
    // that keep changing are a failure, not an endless loop.
    for (int round = 0; round < 32; ++round) {
        AcquireReply reply = run_acquire(c, keys, arg);
        AcquireResult out;
        if (a.adopt) out.session = std::move(reply.session);
        if (reply.acquired) {
            grants_of(c, reply.grant, names, out);
            return out;
        }
        json& r = reply.r;
        std::string st = str(r, "status");
        if (st == "busy") {
            out.status = AcquireResult::Status::Busy;
            out.busy = busy_of(r);
            out.busy->holder_session = std::move(reply.holder_session);
            return out;
        }
        if (st == "no_session") return out;
        if (st != "need_sessions") bad_reply(c, lua::acquire, "unknown status '" + st + "'");
        bool added = false;
        for (const auto& id : strings(r["sessions"]))
            if (supplied.insert(id).second) {
                keys.push_back(k.session(id));
                added = true;
            }
        if (!added) bad_reply(c, lua::acquire, "asked again for session keys it was given");
    }
    bad_reply(c, lua::acquire, "the holders kept changing; try again");
}

} // namespace loop::redis
