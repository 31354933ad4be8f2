// The host keeper of the Redis backend (SPEC section 6): a small process,
// started on demand by the first claim of a host (as gpg-agent is), one per
// host and backend. It keeps the host's live anchored sessions alive in
// Redis (a heartbeat every session_ttl/3), ends a dead one's session the
// moment its process exits (pidfd), so that its claims go at once, and
// exits once no local session holds a claim. A host that dies or is cut off
// loses its claims when their sessions' TTL runs out, never sooner.
//
// Keys: P host:HOST (set of the session ids it looks after, added by the
// acquire script), P keeper:HOST ("PID NONCE" while it runs, PEXPIRE
// session_ttl). Its output goes to logs/keeper.log in the home.
#pragma once

#include "core/home.hpp"
#include "store/redis/backend_url.hpp"

#include <string>

namespace loop::redis {

// After a claim or a new session: starts a keeper when `keeper_value` is ""
// (none runs), else tells the running one of a session it has not seen
// (`added`). Never fails the caller: the claim is taken either way.
void ensure_keeper(Home& home, const std::string& url_text, const std::string& keeper_value,
                   bool added);

// Whether process `pid` is a keeper (of any home and backend): a `with`
// that adopted one from its command leaves it running.
bool is_keeper(int pid);

// `loop _ keeper`: runs until nothing local holds a claim. 0 when it ends
// (or another keeper already runs), 3 after Redis stayed unreachable for a
// whole session TTL.
int run_keeper(Home& home, const BackendUrl& url);

} // namespace loop::redis
