// Keeping the claims of a running `with` alive: renewing those with a TTL
// well before they expire, and noticing when one is lost anyway (released
// by force, expired while `with` was stopped, taken over, its session
// ended), so that the command it guards is stopped.
#pragma once

#include "core/claims/claims.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace loop {

struct LostClaim {
    std::string name;
    std::string why;
};

class ClaimKeeper {
  public:
    // How it looks at and renews a claim, on any backend: the holders of
    // a name, and renewing one of `me`'s names (Error(Busy) when not held).
    using HoldersFn = std::function<std::vector<HolderView>(const std::string&)>;
    using RenewFn = std::function<void(const std::string&, int64_t ttl_ms)>;

    // `granted`: what the acquisition returned; `probe`: the clocks.
    ClaimKeeper(HoldersFn holders, RenewFn renew, const ProcessProbe& probe,
                const SessionRecord& me, const std::vector<Granted>& granted);
    // Over the file backend's claims.
    ClaimKeeper(Claims& claims, const ProcessProbe& probe, const SessionRecord& me,
                const std::vector<Granted>& granted);

    // Milliseconds until the next renewal is due (a third of the TTL after
    // the last one); -1 when no claim has a TTL.
    int64_t next_due_ms() const;

    // Checks that every claim is still held by `me` and renews those due.
    // The first one lost, or nullopt. A claim that cannot be read or renewed
    // (I/O) counts as held until its TTL has run out.
    std::optional<LostClaim> check();

    // The names still held (for the release at the end).
    std::vector<std::string> held() const;

  private:
    struct Kept {
        std::string name;
        int64_t ttl_ms = 0;
        int64_t renewed_boot_ms = 0; // CLOCK_BOOTTIME of the last renewal
        bool lost = false;
    };
    std::optional<std::string> why_lost(Kept& k);
    std::optional<std::string> renew_if_due(Kept& k);

    HoldersFn holders_;
    RenewFn renew_;
    const ProcessProbe& probe_;
    SessionRecord me_;
    std::vector<Kept> kept_;
};

} // namespace loop
