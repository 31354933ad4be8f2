// Session verdicts of one pass over many claims (a reap, a listing, the
// release of a session's claims): each incarnation of a session (id plus
// nonce) has its record and its process read and judged once, not once per
// claim it holds.
//
// A Dead verdict is final: an incarnation that ended, was replaced or
// whose process died never lives again, so acting on it later in the pass
// is safe. Alive (or undecidable) is only a hint, good for keeping a holder
// and never for removing one: a holder that dies during the pass is left
// to the next. Ask only after reading the holder that names the
// incarnation, so that a record found missing means it ended.
#pragma once

#include "core/records.hpp"
#include "core/sessions/liveness.hpp"

#include <optional>
#include <string>
#include <unordered_map>

namespace loop {

class Sessions;

// What is known of one incarnation: its verdict and, when its record is
// there and names it, the record.
struct SessionVerdict {
    Verdict verdict;
    std::optional<SessionRecord> session;
};

// The verdict of incarnation (`id`, `nonce`) now, read from the registry.
SessionVerdict judge_incarnation(Sessions& sessions, const std::string& id,
                                 const std::string& nonce);

class VerdictCache {
  public:
    explicit VerdictCache(Sessions& sessions) : sessions_(sessions) {}

    const SessionVerdict& of(const std::string& id, const std::string& nonce);
    // The verdict of a record the caller has read itself.
    const Verdict& of_record(const SessionRecord& s);

  private:
    static std::string key(const std::string& id, const std::string& nonce) {
        return std::to_string(id.size()) + ':' + id + nonce; // unambiguous for any bytes
    }
    Sessions& sessions_;
    std::unordered_map<std::string, SessionVerdict> known_;
};

} // namespace loop
