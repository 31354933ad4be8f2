#include "core/claims/verdict_cache.hpp"

#include "core/error.hpp"
#include "core/sessions/sessions.hpp"

namespace loop {

SessionVerdict judge_incarnation(Sessions& sessions, const std::string& id,
                                 const std::string& nonce) {
    SessionVerdict out;
    std::optional<SessionRecord> s;
    try {
        s = sessions.find(id);
    } catch (const Error& e) {
        out.verdict = {Life::Unknown, e.message()};
        return out;
    }
    if (!s) {
        out.verdict = {Life::Dead, "session " + id + " ended"};
    } else if (s->nonce != nonce) {
        out.verdict = {Life::Dead, "session " + id + " was replaced"};
    } else {
        out.verdict = sessions.verdict(*s);
        out.session = std::move(s);
    }
    return out;
}

const SessionVerdict& VerdictCache::of(const std::string& id, const std::string& nonce) {
    std::string k = key(id, nonce);
    auto it = known_.find(k);
    if (it == known_.end())
        it = known_.emplace(std::move(k), judge_incarnation(sessions_, id, nonce)).first;
    return it->second;
}

const Verdict& VerdictCache::of_record(const SessionRecord& s) {
    std::string k = key(s.id, s.nonce);
    auto it = known_.find(k);
    if (it == known_.end())
        it = known_.emplace(std::move(k), SessionVerdict{sessions_.verdict(s), s}).first;
    return it->second.verdict;
}

} // namespace loop
