// One reaping pass: removes stale claim holders (dead sessions, expired
// TTLs, interrupted multi-name acquisitions), commit markers nobody needs,
// and records of sessions dead for longer than the retention period.
// Safe to run at any time, concurrently with claimers and a supervisor:
// every removal is decided again under the name's lock.
#pragma once

#include "core/claims/claims.hpp"
#include "core/sessions/sessions.hpp"

#include <string>
#include <vector>

namespace loop {

struct ReapReport {
    std::vector<ReapItem> claims;
    std::vector<std::string> sessions;
    std::vector<std::string> txns;
    size_t bells = 0;                  // doorbells of waiters that were killed
    std::vector<std::string> warnings; // undecidable or unreadable: left alone
    size_t workers = 1;                // threads the pass over the claims used
};

class Reaper {
  public:
    Reaper(Claims& claims, Sessions& sessions) : claims_(claims), sessions_(sessions) {}

    static constexpr int64_t kDefaultRetentionMs = 3'600'000;

    ReapReport run(bool dry_run, int64_t session_retention_ms = kDefaultRetentionMs);

  private:
    // The claims of `names`, on several threads when there are many.
    // `pass` is the calling thread's; the other threads have their own.
    void reap_claims(const std::vector<std::string>& names, bool dry_run, ClaimPass& pass,
                     ReapReport& r);

    Claims& claims_;
    Sessions& sessions_;
};

} // namespace loop
