// The CLI's end of the control channel (see control.hpp).
#pragma once

#include "core/home.hpp"

#include <nlohmann/json.hpp>

#include <optional>

namespace loop {

// Sends `request` to the supervisor of `home` and returns its reply.
// Error(Failure) "no supervisor runs for HOME" when none does, or naming
// what went wrong on the way. `timeout_ms` < 0 waits as long as the
// supervisor takes (a stop takes up to stop_timeout).
nlohmann::json ask_supervisor(Home& home, const nlohmann::json& request, int timeout_ms = -1);

// The replica states of the running supervisor, or nullopt when no
// supervisor runs or it does not answer within `timeout_ms`.
std::optional<nlohmann::json> supervisor_replicas(Home& home, int timeout_ms);

} // namespace loop
