#include "store/redis/host_identity.hpp"

#include "core/sessions/sessions.hpp"
#include "os/proc.hpp"

#include <cstdio>

namespace loop::redis {

namespace {

// FNV-1a, 64 bits: a name, not a secret.
uint64_t fnv1a(const std::string& text) {
    uint64_t h = 14695981039346656037ull;
    for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

std::string hex16(uint64_t v) {
    char buf[20];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
    return buf;
}

} // namespace

HostIdentity host_identity(const ProcessProbe& probe) {
    // An unknown machine id falls back on the host name: still one key per
    // boot and namespace.
    std::string machine = probe.machine_id.empty() ? "host:" + os::host_name() : probe.machine_id;
    return {hex16(fnv1a(machine + "\n" + probe.boot_id + "\n" + probe.pid_ns)), os::host_name()};
}

std::string worker_suffix(const std::string& host_key, const std::string& home_path) {
    return "." + hex16(fnv1a(host_key + "\n" + home_path)).substr(0, 8);
}

bool anchored_here(const Anchor& a, const ProcessProbe& probe) {
    return a.machine_id == probe.machine_id && a.boot_id == probe.boot_id &&
           a.pid_ns == probe.pid_ns;
}

std::string implicit_session_id(int pid, uint64_t ticks, const std::string& key) {
    return Sessions::process_session_id(pid, ticks) + "." + key.substr(0, 8);
}

std::string implicit_nonce(int pid, uint64_t ticks, const std::string& key) {
    return hex16(
        fnv1a("implicit\n" + key + "\n" + std::to_string(pid) + "\n" + std::to_string(ticks)));
}

} // namespace loop::redis
