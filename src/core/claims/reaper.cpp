#include "core/claims/reaper.hpp"

#include "core/error.hpp"
#include "os/proc.hpp"

#include <algorithm>

namespace loop {

ReapReport Reaper::run(bool dry_run, int64_t retention_ms) {
    ReapReport r;
    auto names = claims_.store().names();
    std::sort(names.begin(), names.end());
    // Each session is judged once for the pass, each name decided under its
    // lock, the events appended together.
    ClaimPass pass = claims_.pass();
    for (const auto& name : names) {
        for (auto& item : claims_.reap_name(name, dry_run, &r.warnings, &pass))
            r.claims.push_back(std::move(item));
    }
    pass.events.flush();
    r.txns = claims_.reap_txns(dry_run);

    SessionRegistry& reg = sessions_.registry();
    const int64_t now = os::now_ms();
    auto ids = reg.ids();
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids) {
        std::optional<SessionRecord> s;
        try {
            s = reg.read(id);
        } catch (const Error& e) {
            r.warnings.push_back(e.message());
            continue;
        }
        if (!s || pass.verdicts.of_record(*s).life != Life::Dead) continue;
        auto changed = reg.changed_ms(id);
        if (changed && now - *changed < retention_ms) continue;
        if (!dry_run) {
            auto guard = reg.lock();
            auto again = reg.read(id);
            if (!again || again->nonce != s->nonce || sessions_.verdict(*again).life != Life::Dead)
                continue;
            reg.erase(id);
        }
        r.sessions.push_back(id);
    }
    return r;
}

} // namespace loop
