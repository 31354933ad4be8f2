#include "store/redis/redis_backend.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"
#include "store/redis/keeper.hpp"
#include "store/redis/script_reply.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace loop::redis {

using nlohmann::json;

RedisBackend::RedisBackend(const std::string& home_path, BackendUrl url, std::string url_text)
    : home_(home_path), url_(std::move(url)), url_text_(std::move(url_text)),
      probe_(ProcessProbe::system()) {
    keys_.prefix = url_.prefix;
    host_ = host_identity(probe_);
}

RedisClient& RedisBackend::client() {
    if (!client_) client_ = std::make_unique<RedisClient>(url_);
    return *client_;
}

std::optional<SessionRecord> RedisBackend::read_session(const std::string& id) {
    Value v = client().command({"GET", keys_.session(id)});
    if (v.type != Value::Type::String) return std::nullopt;
    return session_from_json_text(v.str, "redis " + client().endpoint() + " " + keys_.session(id));
}

Verdict RedisBackend::verdict(const SessionRecord& s) {
    // Its key exists (or it would not be here): the TTL is Redis's. Only
    // the process can make it dead, where it can be judged.
    if (!s.anchor) return {Life::Alive, "alive by its heartbeat (key in redis)"};
    SessionRecord process_only = s;
    process_only.ttl_ms = 0;
    Verdict v = session_verdict(process_only, probe_.wall_ms(), probe_);
    if (v.life == Life::Unknown)
        return {Life::Alive, "on host " + (s.host.empty() ? std::string("?") : s.host) +
                                 ": alive while its key in redis lives (" + v.why + ")"};
    return v;
}

SessionRecord RedisBackend::implicit_session(int pid) {
    return process_session(implicit_anchor_now(pid, probe_), "process");
}

SessionRecord RedisBackend::own_session(int pid, const std::string& kind, int pgid) {
    // Stored, group and all, by its first claim (the acquire script).
    SessionRecord s = process_session(anchor_of(pid, probe_), kind);
    s.pgid = pgid;
    return s;
}

void RedisBackend::end_own_session(const SessionRecord& me, const std::vector<std::string>& names) {
    // One round trip: the script releases what the session holds (only its
    // own holders), ends it and takes it out of the host's set.
    SessionEndOptions o;
    o.names = names;
    o.drop_host = host_.key;
    o.quiet_gone = me.id == implicit_id_; // a with that took nothing stored nothing
    session_end(client(), keys_, {me.id, me.nonce}, o);
}

SessionRecord RedisBackend::process_session(const Anchor& anchor, const std::string& kind) {
    SessionRecord s;
    s.anchor = anchor;
    const int anchor_pid = anchor.pid;
    s.id = implicit_session_id(anchor_pid, s.anchor->start_ticks, host_.key);
    s.nonce = implicit_nonce(anchor_pid, s.anchor->start_ticks, host_.key);
    s.kind = kind;
    s.host = host_.name;
    s.boot_id = probe_.boot_id;
    s.started_ms = probe_.wall_ms();
    implicit_id_ = s.id;
    return s;
}

SessionRecord RedisBackend::resolve_live(const std::string& text, int implicit_pid) {
    if (text.empty()) return implicit_session(implicit_pid);
    SessionRef ref = parse_session_ref(text);
    std::optional<SessionRecord> s = read_session(ref.id);
    if (!s)
        throw Error(Exit::Usage, "session " + ref.id + " is unknown or has ended on redis " +
                                     client().endpoint() +
                                     ": start one with 'loop _ session start'");
    if (ref.nonce && *ref.nonce != s->nonce)
        throw Error(Exit::Usage, "session " + text +
                                     " is dead: a later incarnation replaced it; start a new one");
    Verdict v = verdict(*s);
    if (v.life == Life::Dead)
        throw Error(Exit::Usage, "session " + ref.id + " is dead (" + v.why + "): start a new one");
    return *s;
}

SessionRecord RedisBackend::start_session(const StartOptions& opts, int caller_pid) {
    SessionRecord s;
    s.kind = "explicit";
    s.nonce = new_nonce();
    s.host = host_.name;
    s.label = opts.label;
    s.ttl_ms = opts.ttl_ms;
    s.boot_id = probe_.boot_id;
    s.started_ms = probe_.wall_ms();
    s.heartbeat_ms = s.started_ms;
    if (opts.pid || opts.ttl_ms == 0) s.anchor = anchor_of(opts.pid.value_or(caller_pid), probe_);
    int64_t key_ttl = s.ttl_ms > 0 ? s.ttl_ms : url_.session_ttl_ms;
    for (int attempt = 0; attempt < 8; ++attempt) {
        s.id = opts.id_prefix + "-" + new_nonce().substr(0, 8);
        if (session_put(client(), keys_, s, key_ttl) != PutResult::Created) continue;
        // Anchored sessions are kept alive by the host's keeper.
        if (s.anchor && s.ttl_ms == 0) {
            Value added = client().command({"SADD", keys_.host(host_.key), s.id});
            Value keeper = client().command({"GET", keys_.keeper(host_.key)});
            ensure_keeper(home_, url_text_, keeper.type == Value::Type::String ? keeper.str : "",
                          added.integer == 1);
        }
        return s;
    }
    throw Error(Exit::Failure, "redis " + client().endpoint() + ": no free session id");
}

void RedisBackend::heartbeat(const std::string& text) {
    SessionRef ref = parse_session_ref(text);
    std::optional<SessionRecord> s = read_session(ref.id);
    if (!s) throw Error(Exit::Busy, "session " + ref.id + " is unknown or has ended");
    if (ref.nonce && *ref.nonce != s->nonce)
        throw Error(Exit::Busy, "session " + text + " is dead: a later incarnation replaced it");
    Verdict v = verdict(*s);
    if (v.life == Life::Dead)
        throw Error(Exit::Busy, "session " + ref.id + " is dead (" + v.why + ")");
    int64_t ttl = s->ttl_ms > 0 ? s->ttl_ms : url_.session_ttl_ms;
    if (!session_heartbeat(client(), keys_, {s->id, s->nonce}, ttl))
        throw Error(Exit::Busy, "session " + ref.id + " ended meanwhile");
}

std::vector<std::string> RedisBackend::end_session(const std::string& text, bool* was_running) {
    SessionRef ref = parse_session_ref(text);
    std::string nonce;
    if (ref.nonce) {
        nonce = *ref.nonce;
    } else if (auto s = read_session(ref.id)) {
        nonce = s->nonce;
    }
    if (nonce.empty()) {
        if (was_running) *was_running = false;
        return {};
    }
    SessionEnd e = session_end(client(), keys_, {ref.id, nonce});
    if (e.status == SessionEnd::Status::OtherIncarnation)
        throw Error(Exit::Usage,
                    "session " + text + " names an earlier incarnation: nothing was ended");
    if (was_running) *was_running = e.status == SessionEnd::Status::Ended;
    client().command({"SREM", keys_.host(host_.key), ref.id});
    return e.released;
}

Caller RedisBackend::caller_of(const std::string& text, int implicit_pid) {
    if (text.empty()) {
        SessionRecord me = implicit_session(implicit_pid);
        return {me.id, me.nonce};
    }
    SessionRef ref = parse_session_ref(text);
    if (ref.nonce) return {ref.id, *ref.nonce};
    std::optional<SessionRecord> s = read_session(ref.id);
    // An ended session holds nothing valid: releasing by id alone is
    // still its own claims (the scripts match the session and any nonce
    // only when none is known).
    return {ref.id, s ? s->nonce : std::string()};
}

std::vector<std::string> RedisBackend::release(const std::string& text, int implicit_pid,
                                               const std::vector<std::string>& names_in,
                                               bool force) {
    std::vector<std::string> names = normalize_names(names_in);
    Caller who = caller_of(text, implicit_pid);
    // All or nothing, as on the file backend: a name held by someone else
    // stops the call unless every holder of it is dead (then it is not
    // ours to release, and the others go on).
    for (size_t round = 0; round <= names.size(); ++round) {
        std::string refused;
        auto results =
            redis::release(client(), keys_, who, names, force, force ? nullptr : &refused);
        if (refused.empty()) {
            std::vector<std::string> out;
            for (const auto& r : results)
                if (r.result == ReleaseResult::Released) out.push_back(r.name);
            return out;
        }
        for (const auto& h : holders(refused))
            if (h.holder.session != who.session && h.verdict.life != Life::Dead)
                throw Error(Exit::Busy, "un" + describe_blocker(h, os::now_ms()) +
                                            "; only the holder can release it (or use --force)");
        names.erase(std::remove(names.begin(), names.end(), refused), names.end());
    }
    return {};
}

std::vector<Granted> RedisBackend::renew(const SessionRecord& me,
                                         const std::vector<std::string>& names_in, int64_t ttl_ms) {
    std::vector<std::string> names = normalize_names(names_in);
    std::vector<Granted> out;
    for (const auto& r : redis::renew(client(), keys_, {me.id, me.nonce}, names, ttl_ms)) {
        switch (r.result) {
        case RenewResult::Renewed: {
            Granted g;
            g.name = r.name;
            g.holder.session = me.id;
            g.holder.expires_ms = r.expires_ms;
            g.already_held = true;
            out.push_back(std::move(g));
            break;
        }
        case RenewResult::Expired:
            throw Error(Exit::Busy, "renew " + r.name +
                                        ": the claim expired and may have been taken; claim it "
                                        "again");
        case RenewResult::NoSession:
            throw Error(Exit::Busy,
                        "renew " + r.name + ": session " + me.id + " has ended; claim it again");
        default:
            throw Error(Exit::Busy,
                        "renew " + r.name + ": not held by session " + me.id + "; claim it first");
        }
    }
    return out;
}

std::optional<ClaimRecord> claim_of_json(const std::string& text) {
    json j = json::parse(text, nullptr, false);
    if (!j.is_object() || !j.contains("holders") || !j["holders"].is_array()) return std::nullopt;
    ClaimRecord rec;
    rec.name = reply::str(j, "name");
    rec.mode = reply::mode_of(reply::str(j, "mode"));
    for (const auto& h : j["holders"]) {
        if (!h.is_object()) return std::nullopt;
        rec.holders.push_back(reply::holder_of(h));
    }
    return rec;
}

std::vector<HolderView> RedisBackend::views_of(const std::vector<ClaimRecord>& recs) {
    std::set<std::string> ids;
    for (const auto& r : recs)
        for (const auto& h : r.holders)
            ids.insert(h.session);
    std::map<std::string, std::optional<SessionRecord>> sessions;
    std::vector<std::string> keys;
    for (const auto& id : ids) {
        sessions[id] = std::nullopt;
        keys.push_back(keys_.session(id));
    }
    const size_t skip = keys_.session("").size();
    std::map<std::string, std::string> unreadable; // held, as the scripts hold them
    each_value(keys, [&](const std::string& key, const std::string& value) {
        try {
            sessions[key.substr(skip)] = session_from_json_text(value, key);
        } catch (const Error& e) {
            unreadable[key.substr(skip)] = e.message();
        }
    });
    const int64_t now = probe_.wall_ms();
    std::vector<HolderView> out;
    for (const auto& r : recs) {
        for (const auto& h : r.holders) {
            HolderView view;
            view.name = r.name;
            view.mode = r.mode;
            view.holder = h;
            view.session = sessions[h.session];
            if (auto bad = unreadable.find(h.session); bad != unreadable.end()) {
                view.verdict = {Life::Unknown, bad->second};
            } else if (!view.session || view.session->nonce != h.nonce) {
                view.verdict = {Life::Dead, "its session ended or expired"};
            } else if (h.expires_ms > 0 && now >= h.expires_ms) {
                view.verdict = {Life::Dead,
                                "ttl expired " + format_age(now - h.expires_ms) + " ago"};
            } else {
                view.verdict = verdict(*view.session);
            }
            out.push_back(std::move(view));
        }
    }
    return out;
}

std::vector<HolderView> RedisBackend::holders(const std::string& name) {
    check_name(name, "claim name");
    Value v = client().command({"GET", keys_.claim(name)});
    if (v.type != Value::Type::String) return {};
    auto rec = claim_of_json(v.str);
    if (!rec)
        throw Error(Exit::Failure, "redis " + client().endpoint() + ": corrupt claim record at " +
                                       keys_.claim(name) + " (inspect it with GET)");
    rec->name = name;
    return views_of({*rec});
}

std::vector<std::string> RedisBackend::scan(const std::string& pattern) {
    std::vector<std::string> out;
    std::string cursor = "0";
    do {
        Value v = client().command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
        if (v.elements.size() != 2) break;
        cursor = v.elements[0].str;
        for (const auto& k : v.elements[1].elements)
            out.push_back(k.str);
    } while (cursor != "0");
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

void RedisBackend::each_value(
    const std::vector<std::string>& keys,
    const std::function<void(const std::string& key, const std::string& value)>& fn) {
    // 500 keys per MGET; a key gone meanwhile (released, ended) is skipped.
    for (size_t at = 0; at < keys.size(); at += 500) {
        size_t end = std::min(keys.size(), at + 500);
        std::vector<std::string> argv = {"MGET"};
        argv.insert(argv.end(), keys.begin() + static_cast<long>(at),
                    keys.begin() + static_cast<long>(end));
        Value v = client().command(argv);
        for (size_t i = 0; i < v.elements.size() && at + i < end; ++i)
            if (v.elements[i].type == Value::Type::String) fn(keys[at + i], v.elements[i].str);
    }
}

std::vector<HolderView> RedisBackend::all(std::vector<std::string>* errors) {
    const std::string claim_prefix = keys_.claim("");
    std::vector<ClaimRecord> recs;
    each_value(scan(claim_prefix + "*"), [&](const std::string& key, const std::string& value) {
        auto rec = claim_of_json(value);
        if (!rec) {
            if (errors)
                errors->push_back("redis " + client().endpoint() + ": corrupt claim record at " +
                                  key + " (inspect it with GET)");
            return;
        }
        rec->name = key.substr(claim_prefix.size());
        recs.push_back(std::move(*rec));
    });
    return views_of(recs);
}

std::vector<SessionView> RedisBackend::sessions(std::vector<std::string>* errors) {
    std::vector<SessionView> out;
    each_value(scan(keys_.session("") + "*"),
               [&](const std::string& key, const std::string& value) {
                   try {
                       SessionRecord s = session_from_json_text(value, key);
                       Verdict vd = verdict(s);
                       out.push_back({std::move(s), std::move(vd)});
                   } catch (const Error& e) {
                       if (errors) errors->push_back(e.message());
                   }
               });
    return out;
}

} // namespace loop::redis
