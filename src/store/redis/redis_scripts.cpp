#include "store/redis/redis_scripts.hpp"

#include "core/error.hpp"
#include "store/redis/lua_scripts.hpp"
#include "store/redis/script_reply.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <set>

namespace loop::redis {

using nlohmann::json;

using namespace reply;

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
