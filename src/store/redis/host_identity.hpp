// Which host a session of the Redis backend lives on (SPEC section 6): the
// machine id, the boot id and the pid namespace, hashed into a short key
// that names the host in session ids and keys (P host:KEY, P keeper:KEY).
// Two hosts, two boots of one machine or two pid namespaces on one kernel
// never share a key, so a pid is only ever judged where it was read.
#pragma once

#include "core/sessions/liveness.hpp"

#include <cstdint>
#include <string>

namespace loop::redis {

struct HostIdentity {
    std::string key;  // 16 hex digits
    std::string name; // the host name, for display
};

HostIdentity host_identity(const ProcessProbe& probe);

// The suffix of a supervisor's worker session ids ("w.1" + suffix): one
// per host and home, since every home of a host shares the backend's
// namespace while each has its own supervisor.
std::string worker_suffix(const std::string& host_key, const std::string& home_path);

// Whether `a` was read on this host: same machine id, boot and pid
// namespace. Only such sessions are this host's keeper's to look after.
bool anchored_here(const Anchor& a, const ProcessProbe& probe);

// The id of the implicit session of process `pid` (started at `ticks`) on
// host `key`: "p<pid>-<ticks>.<key>", unique across the fleet.
std::string implicit_session_id(int pid, uint64_t ticks, const std::string& key);
// Its nonce, derived from the same facts: every `loop` call of that process
// computes it without asking the server (not a secret: like every nonce, it
// only tells incarnations of an id apart).
std::string implicit_nonce(int pid, uint64_t ticks, const std::string& key);

} // namespace loop::redis
