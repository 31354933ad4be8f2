#include "store/redis/redis_scripts.hpp"

#include "core/error.hpp"
#include "store/redis/lua_scripts.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <set>

namespace loop::redis {

using nlohmann::json;

namespace {

[[noreturn]] void bad_reply(const RedisClient& c, const lua::Script& s, const std::string& why) {
    throw Error(Exit::Failure,
                "redis " + c.endpoint() + ": script " + std::string(s.name) + ": " + why);
}

// The JSON object in a script's reply `v` (a string).
json object_of(const RedisClient& c, const lua::Script& s, const Value& v) {
    if (v.type != Value::Type::String) bad_reply(c, s, "the reply is not a string");
    json j = json::parse(v.str, nullptr, false);
    if (!j.is_object()) bad_reply(c, s, "the reply is not a JSON object");
    return j;
}

// The JSON object a script returns.
json run(RedisClient& c, const lua::Script& s, const std::vector<std::string>& keys,
         const std::vector<std::string>& args) {
    return object_of(c, s, c.eval(s, keys, args));
}

// The reply of the acquire script: its JSON object, then two records as
// stored (the caller's session, the busy holder's) or nil.
struct AcquireReply {
    json r;
    std::string session;
    std::string holder_session;
};

AcquireReply run_acquire(RedisClient& c, const std::vector<std::string>& keys,
                         const std::string& arg) {
    Value v = c.eval(lua::acquire, keys, {arg});
    if (v.type != Value::Type::Array || v.elements.size() != 3)
        bad_reply(c, lua::acquire, "the reply is not [JSON, session, holder session]");
    AcquireReply out;
    out.r = object_of(c, lua::acquire, v.elements[0]);
    if (v.elements[1].type == Value::Type::String) out.session = std::move(v.elements[1].str);
    if (v.elements[2].type == Value::Type::String)
        out.holder_session = std::move(v.elements[2].str);
    return out;
}

// The scripts' encoder writes an empty list as {}.
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

Grant grant_of(const json& g) {
    Grant out;
    out.name = str(g, "name");
    out.fence = static_cast<uint64_t>(num(g, "fence"));
    out.already_held = g.value("already_held", false);
    out.mode = mode_of(str(g, "mode"));
    out.acquired_ms = num(g, "acquired_ms");
    out.expires_ms = num(g, "expires_ms");
    return out;
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

std::vector<std::string> sorted_unique(std::vector<std::string> names) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return names;
}

} // namespace

PutResult session_put(RedisClient& c, const Keys& k, const SessionRecord& s, int64_t ttl_ms) {
    std::string text = to_json_text(s);
    if (!text.empty() && text.back() == '\n') text.pop_back();
    json r =
        run(c, lua::session_put, {k.events(), k.stats(), k.session(s.id), k.session_claims(s.id)},
            {text, std::to_string(ttl_ms)});
    std::string st = str(r, "status");
    if (st == "created") return PutResult::Created;
    if (st == "refreshed") return PutResult::Refreshed;
    if (st == "exists") return PutResult::Exists;
    bad_reply(c, lua::session_put, "unknown status '" + st + "'");
}

bool session_heartbeat(RedisClient& c, const Keys& k, const Caller& who, int64_t ttl_ms) {
    json r = run(c, lua::session_heartbeat, {k.session(who.session), k.session_claims(who.session)},
                 {who.nonce, std::to_string(ttl_ms)});
    return str(r, "status") == "ok";
}

SessionEnd session_end(RedisClient& c, const Keys& k, const Caller& who,
                       const SessionEndOptions& o) {
    SessionEnd out;
    std::set<std::string> tried;
    std::vector<std::string> names;
    if (o.names) {
        names = *o.names;
    } else {
        Value members = c.command({"SMEMBERS", k.session_claims(who.session)});
        for (const auto& m : members.elements)
            names.push_back(m.str);
    }
    for (bool first = true;; first = false) {
        names = sorted_unique(std::move(names));
        std::vector<std::string> keys = {k.events(), k.stats(), k.session(who.session),
                                         k.session_claims(who.session), k.host(o.drop_host)};
        for (const auto& n : names) {
            keys.push_back(k.claim(n));
            keys.push_back(k.wake(n));
            keys.push_back(k.queue(n));
            tried.insert(n);
        }
        json args = {{"session", who.session}, {"nonce", who.nonce}, {"names", names}};
        if (first && !o.drop_host.empty()) args["drop_host"] = true;
        if (o.quiet_gone) args["quiet_gone"] = true;
        json r = run(c, lua::session_end, keys, {args.dump()});
        std::string st = str(r, "status");
        // The first call decides what became of the session key.
        if (first) {
            out.status = st == "gone"                ? SessionEnd::Status::Gone
                         : st == "other_incarnation" ? SessionEnd::Status::OtherIncarnation
                                                     : SessionEnd::Status::Ended;
        }
        for (auto& n : strings(r["released"]))
            out.released.push_back(std::move(n));
        // Names taken between SMEMBERS and the script: once more with them.
        names.clear();
        for (auto& n : strings(r["remaining"]))
            if (!tried.count(n)) names.push_back(std::move(n));
        if (names.empty()) break;
    }
    std::sort(out.released.begin(), out.released.end());
    return out;
}

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
        json& r = reply.r;
        std::string st = str(r, "status");
        AcquireResult out;
        if (a.adopt) out.session = std::move(reply.session);
        if (st == "acquired") {
            out.status = AcquireResult::Status::Acquired;
            for (const auto& g : list(r["granted"]))
                out.granted.push_back(grant_of(g));
            out.created = r.value("created", false);
            out.added = r.value("added", false);
            out.keeper = str(r, "keeper");
            return out;
        }
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

std::vector<WakeEntry> read_wake(RedisClient& c, const Keys& k, const std::string& name,
                                 const std::string& from, int64_t block_ms) {
    Value v = c.command_blocking(
        {"XREAD", "COUNT", "16", "BLOCK", std::to_string(block_ms), "STREAMS", k.wake(name), from},
        block_ms);
    std::vector<WakeEntry> out;
    // [[stream, [[id, [field, value, ...]], ...]]], or nil on a timeout.
    if (v.elements.size() != 1 || v.elements[0].elements.size() != 2) return out;
    for (const auto& e : v.elements[0].elements[1].elements) {
        if (e.elements.size() != 2) continue;
        WakeEntry w;
        w.id = e.elements[0].str;
        const auto& f = e.elements[1].elements;
        for (size_t i = 0; i + 1 < f.size(); i += 2) {
            const std::string& key = f[i].str;
            const std::string& val = f[i + 1].str;
            if (key == "next")
                w.next = val;
            else if (key == "next_mode")
                w.next_mode = val;
            else if (key == "next_pid")
                w.next_pid = std::atoi(val.c_str());
            else if (key == "next_start_ticks")
                w.next_start_ticks = std::strtoull(val.c_str(), nullptr, 10);
            else if (key == "next_host")
                w.next_host = val;
        }
        if (!w.id.empty()) out.push_back(std::move(w));
    }
    return out;
}

std::vector<Released> release(RedisClient& c, const Keys& k, const Caller& who,
                              const std::vector<std::string>& names_in, bool force,
                              std::string* refused) {
    const std::vector<std::string> names = sorted_unique(names_in);
    std::vector<std::string> keys = {k.events(), k.stats(), k.session_claims(who.session)};
    for (const auto& n : names) {
        keys.push_back(k.claim(n));
        keys.push_back(k.wake(n));
        keys.push_back(k.queue(n));
    }
    json req = {{"session", who.session}, {"nonce", who.nonce}, {"force", force}, {"names", names}};
    if (refused) req["strict"] = true;
    json r = run(c, lua::release, keys, {req.dump()});
    std::vector<Released> out;
    if (refused) *refused = str(r, "refused");
    if (refused && !refused->empty()) return out;
    for (const auto& e : list(r["results"])) {
        Released rel;
        rel.name = str(e, "name");
        std::string res = str(e, "result");
        rel.result = res == "released"        ? ReleaseResult::Released
                     : res == "held_by_other" ? ReleaseResult::HeldByOther
                                              : ReleaseResult::NotHeld;
        rel.sessions = strings(e["sessions"]);
        out.push_back(std::move(rel));
    }
    return out;
}

std::vector<Renewed> renew(RedisClient& c, const Keys& k, const Caller& who,
                           const std::vector<std::string>& names_in, int64_t ttl_ms) {
    const std::vector<std::string> names = sorted_unique(names_in);
    std::vector<std::string> keys = {k.events(), k.session(who.session)};
    for (const auto& n : names)
        keys.push_back(k.claim(n));
    json req = {
        {"session", who.session}, {"nonce", who.nonce}, {"ttl_ms", ttl_ms}, {"names", names}};
    json r = run(c, lua::renew, keys, {req.dump()});
    std::vector<Renewed> out;
    if (str(r, "status") == "no_session") {
        for (const auto& n : names)
            out.push_back({n, RenewResult::NoSession, 0});
        return out;
    }
    for (const auto& e : list(r["results"])) {
        Renewed rn;
        rn.name = str(e, "name");
        std::string res = str(e, "result");
        rn.result = res == "renewed"         ? RenewResult::Renewed
                    : res == "expired"       ? RenewResult::Expired
                    : res == "held_by_other" ? RenewResult::HeldByOther
                                             : RenewResult::NotHeld;
        rn.expires_ms = num(e, "expires_ms");
        out.push_back(std::move(rn));
    }
    return out;
}

std::vector<Reaped> reap_name(RedisClient& c, const Keys& k, const std::string& name,
                              const std::vector<std::string>& holders,
                              const std::vector<std::string>& dead) {
    std::vector<std::string> keys = {k.events(), k.stats(), k.claim(name), k.wake(name)};
    for (const auto& id : sorted_unique(holders))
        keys.push_back(k.session(id));
    json req = {{"prefix", k.prefix}, {"name", name}, {"dead", dead}};
    json r = run(c, lua::reap, keys, {req.dump()});
    std::vector<Reaped> out;
    for (const auto& e : list(r["removed"]))
        out.push_back({str(e, "session"), static_cast<uint64_t>(num(e, "fence")), str(e, "why"),
                       e.value("expired", false)});
    return out;
}

void record_timeout(RedisClient& c, const Keys& k, const TimeoutArgs& a) {
    json req = {{"names", a.names}, {"session", a.session}, {"waited_ms", a.waited_ms},
                {"name", a.name},   {"holder", a.holder},   {"ticket", a.ticket},
                {"log", a.log}};
    std::vector<std::string> keys = {k.events(), k.stats()};
    for (const auto& n : a.names) {
        keys.push_back(k.queue(n));
        keys.push_back(k.wake(n));
    }
    (void)c.eval(lua::timeout, keys, {req.dump()});
}

} // namespace loop::redis
