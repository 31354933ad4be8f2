// Claim policy after the grant: releasing, renewing, listing and reaping.
#include "core/claims/claims.hpp"
#include "core/claims/claims_detail.hpp"
#include "core/claims/wait_queue.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"

#include <algorithm>

namespace loop {

std::vector<std::string> Claims::release(const std::string& session_id,
                                         const std::optional<std::string>& nonce,
                                         std::vector<std::string> names, bool force) {
    names = normalize_names(std::move(names));
    auto lock = store_.lock(names);
    struct Plan {
        std::string name;
        Mode mode;
        Pruned pruned;
        std::vector<HolderView> mine, others;
    };
    std::vector<Plan> plans;
    for (const auto& name : names) {
        auto rec = store_.read(name);
        if (!rec) continue;
        // The releaser's own holders (by its owner token, the nonce) go
        // whatever their liveness: they are not judged.
        Plan p{name, rec->mode, {}, {}, {}};
        ClaimRecord rest{rec->name, rec->mode, {}};
        for (auto& h : rec->holders) {
            if (nonce && h.session == session_id && h.nonce == *nonce)
                p.mine.push_back({name, rec->mode, h, {Life::Alive, "releasing"}, std::nullopt});
            else
                rest.holders.push_back(std::move(h));
        }
        p.pruned = prune(rest, true, nullptr);
        for (auto& v : p.pruned.live) {
            bool mine = v.holder.session == session_id && (!nonce || *nonce == v.holder.nonce);
            (mine ? p.mine : p.others).push_back(v);
        }
        if (p.mine.empty() && !p.others.empty() && !force) {
            throw Error(Exit::Busy, "un" + describe_blocker(p.others.front(), os::now_ms()) +
                                        "; only the holder can release it (or use --force)");
        }
        plans.push_back(std::move(p));
    }
    std::vector<std::string> released;
    for (auto& p : plans) {
        // --force takes every other holder away; a release only its own.
        const bool forced = p.mine.empty() && !p.others.empty();
        const std::vector<HolderView> keep = forced ? std::vector<HolderView>{} : p.others;
        if (keep.empty()) {
            store_.erase(p.name);
        } else {
            store_.write(detail::record_of(p.name, p.mode, keep));
        }
        // The waiter let in wakes while the events are written: it takes
        // the name once the lock is let go of, after them.
        wake_next(store_, *lock, p.name);
        for (const auto& v : forced ? p.others : p.mine) {
            if (forced) {
                events_.append("claim.forced", {{"name", p.name},
                                                {"session", v.holder.session},
                                                {"fence", v.holder.fence},
                                                {"by", session_id}});
            } else {
                events_.append(
                    "claim.released",
                    {{"name", p.name}, {"session", v.holder.session}, {"fence", v.holder.fence}});
            }
        }
        if (!p.mine.empty() || forced) released.push_back(p.name);
        log_reaped(p.pruned.stale, session_id);
    }
    return released;
}

std::vector<Granted> Claims::renew(const SessionRecord& me, std::vector<std::string> names,
                                   int64_t ttl_ms) {
    names = normalize_names(std::move(names));
    auto lock = store_.lock(names);
    const ProcessProbe& probe = sessions_.probe();
    std::vector<ClaimRecord> updated;
    std::vector<Granted> out;
    for (const auto& name : names) {
        auto rec = store_.read(name);
        Holder* mine = nullptr;
        if (rec)
            for (auto& h : rec->holders)
                if (detail::is_mine(h, me)) mine = &h;
        if (!mine)
            throw Error(Exit::Busy,
                        "renew " + name + ": not held by session " + me.id + "; claim it first");
        if (auto left = claim_ttl_left(*mine, probe); left && *left <= 0)
            throw Error(Exit::Busy, "renew " + name + ": the claim expired " + format_age(-*left) +
                                        " ago and may have been taken; claim it again");
        int64_t ttl = ttl_ms > 0 ? ttl_ms : mine->ttl_ms;
        if (ttl > 0) set_claim_expiry(*mine, ttl, probe.now(), probe.boot_id);
        out.push_back({name, rec->mode, *mine, true});
        updated.push_back(*rec);
    }
    for (const auto& rec : updated)
        store_.write(rec);
    return out;
}

std::vector<HolderView> Claims::holders(const std::string& name, VerdictCache* verdicts) {
    std::vector<HolderView> out;
    auto rec = store_.read(name);
    if (!rec) return out;
    out.reserve(rec->holders.size());
    for (auto& h : rec->holders) {
        HolderView v{rec->name, rec->mode, std::move(h), {}, std::nullopt};
        v.verdict = holder_verdict(v.holder, false, &v.session, verdicts);
        out.push_back(std::move(v));
    }
    return out;
}

std::vector<HolderView> Claims::all(std::vector<std::string>* errors) {
    std::vector<HolderView> out;
    auto names = store_.names();
    std::sort(names.begin(), names.end());
    out.reserve(names.size());
    VerdictCache verdicts(sessions_); // listing only: nothing is removed on it
    for (const auto& n : names) {
        try {
            for (auto& v : holders(n, &verdicts))
                out.push_back(std::move(v));
        } catch (const Error& e) {
            if (errors) errors->push_back(e.message());
        }
    }
    return out;
}

std::vector<std::string> Claims::names_with_holder(const std::function<bool(const Holder&)>& match,
                                                   bool* clean) {
    std::vector<std::string> out;
    if (clean) *clean = true;
    for (const auto& name : store_.names()) {
        std::optional<ClaimRecord> rec;
        try {
            rec = store_.read(name);
        } catch (const Error&) {
            if (clean) *clean = false;
            continue; // unreadable: doctor's business, never ours to change
        }
        if (rec && std::any_of(rec->holders.begin(), rec->holders.end(), match))
            out.push_back(name);
    }
    return out;
}

std::vector<std::string> Claims::release_session(const std::string& session_id,
                                                 const std::string& event) {
    std::vector<std::string> released;
    EventBatch events(events_);
    for (const auto& name :
         names_with_holder([&](const Holder& h) { return h.session == session_id; })) {
        auto lock = store_.lock({name});
        auto rec = store_.read(name);
        if (!rec) continue;
        ClaimRecord keep{rec->name, rec->mode, {}};
        for (auto& h : rec->holders) {
            if (h.session == session_id) {
                events.add(event, {{"name", name}, {"session", session_id}, {"fence", h.fence}});
            } else {
                keep.holders.push_back(std::move(h));
            }
        }
        if (keep.holders.empty()) {
            store_.erase(name);
        } else {
            store_.write(keep);
        }
        wake_next(store_, *lock, name);
        released.push_back(name);
    }
    return released;
}

std::vector<ReapItem> Claims::reap_name(const std::string& name, bool dry_run,
                                        std::vector<std::string>* warnings, ClaimPass* pass) {
    auto lock = store_.lock({name});
    std::optional<ClaimRecord> rec;
    try {
        rec = store_.read(name);
    } catch (const Error& e) {
        if (warnings) warnings->push_back(e.message());
        return {};
    }
    if (!rec) return {};
    // Alone, the events are written under the lock, before anyone can take
    // the name; in a pass, with the pass's.
    std::optional<ClaimPass> own;
    if (!pass) pass = &own.emplace(sessions_, events_);
    Pruned p = prune(*rec, true, warnings, &pass->verdicts);
    bool cleared = false;
    for (auto& v : p.live) {
        if (!v.holder.txn.empty()) { // committed (else it would be stale): drop the reference
            v.holder.txn.clear();
            cleared = true;
        }
    }
    if (!dry_run && (!p.stale.empty() || cleared)) {
        if (p.live.empty()) {
            store_.erase(name);
        } else {
            store_.write(detail::record_of(name, rec->mode, p.live));
        }
        if (!p.stale.empty()) wake_next(store_, *lock, name);
        log_reaped(p.stale, "reap", &pass->events);
    }
    if (own) own->events.flush();
    return p.stale;
}

std::vector<std::string> Claims::reap_txns(bool dry_run) {
    std::vector<std::string> removed;
    for (const auto& id : store_.txns()) {
        auto owner = store_.txn_owner(id);
        if (owner && anchor_verdict(*owner, sessions_.probe()).life != Life::Dead) continue;
        if (!owner && store_.txn_committed(id)) continue; // unreadable: leave it to doctor
        // The owner is gone and writes nothing more: clear what still
        // refers to the marker, then the marker itself.
        if (!dry_run) {
            auto refers = [&](const Holder& h) { return h.txn == id; };
            bool clean = true;
            for (const auto& name : names_with_holder(refers, &clean))
                reap_name(name, false, nullptr);
            // Without the marker a committed holder looks interrupted: it
            // goes only once a clean scan finds nothing left that refers to
            // it (a record that could not be read may).
            bool clean_after = true;
            if (!clean || !names_with_holder(refers, &clean_after).empty() || !clean_after)
                continue;
            store_.drop_txn(id);
        }
        removed.push_back(id);
    }
    return removed;
}

} // namespace loop
