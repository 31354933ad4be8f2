#include "core/claims/claim_keeper.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

namespace loop {

ClaimKeeper::ClaimKeeper(Claims& claims, const ProcessProbe& probe, const SessionRecord& me,
                         const std::vector<Granted>& granted)
    : ClaimKeeper([&claims](const std::string& n) { return claims.holders(n); },
                  [&claims, me](const std::string& n, int64_t ttl) { claims.renew(me, {n}, ttl); },
                  probe, me, granted) {}

ClaimKeeper::ClaimKeeper(HoldersFn holders, RenewFn renew, const ProcessProbe& probe,
                         const SessionRecord& me, const std::vector<Granted>& granted)
    : holders_(std::move(holders)), renew_(std::move(renew)), probe_(probe), me_(me) {
    const int64_t now = probe_.boot_ms();
    for (const auto& g : granted)
        kept_.push_back({g.name, g.holder.ttl_ms, now, false});
}

int64_t ClaimKeeper::next_due_ms() const {
    const int64_t now = probe_.boot_ms();
    int64_t best = -1;
    for (const auto& k : kept_) {
        if (k.lost || k.ttl_ms <= 0) continue;
        int64_t due = k.renewed_boot_ms + k.ttl_ms / 3 - now;
        if (due < 0) due = 0;
        if (best < 0 || due < best) best = due;
    }
    return best;
}

std::optional<std::string> ClaimKeeper::why_lost(Kept& k) {
    std::vector<HolderView> holders;
    try {
        holders = holders_(k.name);
    } catch (const Error& e) {
        if (e.code() != Exit::Failure) throw;
        // Unreadable: nobody else can take it either; the TTL bounds it.
        if (k.ttl_ms > 0 && probe_.boot_ms() - k.renewed_boot_ms >= k.ttl_ms)
            return "cannot check it past its ttl: " + e.message();
        return std::nullopt;
    }
    const HolderView* other = nullptr;
    for (const auto& h : holders) {
        if (h.holder.session == me_.id && h.holder.nonce == me_.nonce) {
            if (h.verdict.life != Life::Dead) return std::nullopt;
            return h.verdict.why;
        }
        if (h.verdict.life != Life::Dead && !other) other = &h;
    }
    if (other)
        return "now held by session " + other->holder.session + " (fence " +
               std::to_string(other->holder.fence) + ")";
    return "released by another session";
}

std::optional<std::string> ClaimKeeper::renew_if_due(Kept& k) {
    if (k.ttl_ms <= 0 || probe_.boot_ms() < k.renewed_boot_ms + k.ttl_ms / 3) return std::nullopt;
    try {
        renew_(k.name, k.ttl_ms);
        k.renewed_boot_ms = probe_.boot_ms();
    } catch (const Error& e) {
        if (e.code() == Exit::Busy) return e.message();
        if (probe_.boot_ms() - k.renewed_boot_ms >= k.ttl_ms)
            return "cannot renew it past its ttl: " + e.message();
    }
    return std::nullopt;
}

std::optional<LostClaim> ClaimKeeper::check() {
    for (auto& k : kept_) {
        if (k.lost) continue;
        std::optional<std::string> why = why_lost(k);
        if (!why) why = renew_if_due(k);
        if (why) {
            k.lost = true;
            return LostClaim{k.name, *why};
        }
    }
    return std::nullopt;
}

std::vector<std::string> ClaimKeeper::held() const {
    std::vector<std::string> out;
    for (const auto& k : kept_)
        if (!k.lost) out.push_back(k.name);
    return out;
}

} // namespace loop
