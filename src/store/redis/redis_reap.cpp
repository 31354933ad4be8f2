// loop reap on the Redis backend: ends this host's dead sessions and
// removes, fleet-wide, holders whose session ended or expired or whose TTL
// passed. Each removal is decided again by a script (lua/reap.lua); a
// holder whose liveness cannot be decided is left alone and reported.
#include "core/error.hpp"
#include "store/redis/redis_backend.hpp"

#include <map>
#include <set>

namespace loop::redis {

ReapReport RedisBackend::reap(bool dry_run, int64_t) {
    ReapReport rep;
    // This host's sessions are judged here: a dead one is dead for good.
    std::vector<std::string> dead_here;
    std::map<std::string, std::string> nonces, whys;
    for (const auto& m : client().command({"SMEMBERS", keys_.host(host_.key)}).elements) {
        std::optional<SessionRecord> s;
        try {
            s = read_session(m.str);
        } catch (const Error& e) {
            rep.warnings.push_back(e.message());
            continue;
        }
        if (!s || !s->anchor) continue;
        Verdict v = verdict(*s);
        if (v.life != Life::Dead) continue;
        dead_here.push_back(s->id);
        nonces[s->id] = s->nonce;
        whys[s->id] = v.why;
        rep.sessions.push_back(s->id);
    }
    const std::set<std::string> dead_set(dead_here.begin(), dead_here.end());

    std::map<std::string, std::vector<HolderView>> by_name;
    for (auto& v : all(&rep.warnings)) {
        if (dead_set.count(v.holder.session)) v.verdict = {Life::Dead, whys[v.holder.session]};
        if (v.verdict.life == Life::Unknown)
            rep.warnings.push_back("claim " + v.name + ": held by session " + v.holder.session +
                                   ", left alone: its liveness cannot be decided (" +
                                   v.verdict.why + ")");
        by_name[v.name].push_back(std::move(v));
    }
    for (const auto& [name, views] : by_name) {
        bool any_dead = false;
        std::vector<std::string> holders;
        for (const auto& v : views) {
            any_dead = any_dead || v.verdict.life == Life::Dead;
            holders.push_back(v.holder.session);
        }
        if (!any_dead) continue;
        if (dry_run) {
            for (const auto& v : views)
                if (v.verdict.life == Life::Dead)
                    rep.claims.push_back({name, v.holder, v.verdict.why,
                                          v.verdict.why.rfind("ttl expired", 0) == 0});
            continue;
        }
        for (const auto& r : reap_name(client(), keys_, name, holders, dead_here)) {
            Holder h;
            h.session = r.session;
            h.fence = r.fence;
            rep.claims.push_back({name, h, r.why, r.expired});
        }
    }
    if (!dry_run) {
        for (const auto& id : dead_here) {
            session_end(client(), keys_, {id, nonces[id]});
            client().command({"SREM", keys_.host(host_.key), id});
        }
    }
    return rep;
}

} // namespace loop::redis
