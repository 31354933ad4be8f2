// What `claim` and `with` share: turning flags into a request, and taking
// the claims while reporting waits and conflicts the same way.
#pragma once

#include "core/core.hpp"
#include "store/backend.hpp"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace loop::cmd {

// Validates names (before anything is touched), modes and --ttl: `names`
// in the mode `shared` says, `shared_names` (--shared-name) shared.
AcquireRequest make_request(const std::vector<std::string>& names, bool shared,
                            const std::vector<std::string>& shared_names, const std::string& ttl);

// --meta KEY=VALUE items (Error(Usage) for one without a key and '=').
std::map<std::string, std::string> parse_meta(const std::vector<std::string>& items);

// One call of Backend::acquire or acquire_as with `on_wait`, and with
// `on_held` as the request's AcquireRequest::on_held.
using WaitReport = std::function<void(const AcquireOutcome&)>;
using HeldReport = std::function<void(const std::vector<Granted>&)>;
using TakeClaims =
    std::function<AcquireOutcome(const WaitReport& on_wait, const HeldReport& on_held)>;

// Acquires (`take`), waiting up to `wait_text` (already validated into
// `wait_ms`); a status line on a TTY while waiting, gone before `on_held`
// runs; warnings and, when busy, one line per blocker on stderr.
AcquireOutcome acquire_reporting(const TakeClaims& take, int64_t wait_ms,
                                 const std::string& wait_text, const HeldReport& on_held = {});

} // namespace loop::cmd
