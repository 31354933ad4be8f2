#include "cmd/acquire.hpp"

#include "cmd/output.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"

#include <algorithm>
#include <cstdio>

namespace loop::cmd {

AcquireRequest make_request(const std::vector<std::string>& names, bool shared,
                            const std::vector<std::string>& shared_names, const std::string& ttl) {
    AcquireRequest req;
    req.names = normalize_names(names);
    req.mode = shared ? Mode::Shared : Mode::Exclusive;
    for (const auto& n : shared_names.empty() ? shared_names : normalize_names(shared_names)) {
        if (std::binary_search(req.names.begin(), req.names.end(), n) && !shared)
            throw Error(Exit::Usage, "'" + n +
                                         "' is asked for exclusive and shared (--shared-name): "
                                         "name it once");
        req.shared_names.insert(n);
    }
    if (!req.shared_names.empty()) {
        req.names.insert(req.names.end(), req.shared_names.begin(), req.shared_names.end());
        req.names = normalize_names(req.names);
    }
    if (!ttl.empty()) {
        req.ttl_ms = parse_duration_or_throw(ttl, "--ttl");
        if (req.ttl_ms == kInfinite) req.ttl_ms = 0;
    }
    return req;
}

std::map<std::string, std::string> parse_meta(const std::vector<std::string>& items) {
    std::map<std::string, std::string> out;
    for (const auto& kv : items) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
            throw Error(Exit::Usage, "--meta '" + printable(kv, true) + "': expected KEY=VALUE");
        check_utf8(kv, "--meta");
        out[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return out;
}

AcquireOutcome acquire_reporting(const TakeClaims& take, int64_t wait_ms,
                                 const std::string& wait_text, const HeldReport& on_held) {
    WaitStatusLine status;
    HeldReport held;
    if (on_held)
        held = [&](const std::vector<Granted>& granted) {
            status.finish();
            on_held(granted);
        };
    AcquireOutcome out = take(status.callback(), held);
    status.finish();
    print_warnings(out.warnings);
    if (!out.acquired) {
        const int64_t now = os::now_ms();
        std::string prefix = wait_ms != 0 ? "timed out after " + wait_text + ": " : "";
        for (const auto& b : out.blockers)
            std::fprintf(stderr, "loop: %s%s\n", prefix.c_str(), describe_blocker(b, now).c_str());
    }
    return out;
}

} // namespace loop::cmd
