#include "core/supervisor/control_client.hpp"

#include "core/error.hpp"
#include "core/supervisor/control.hpp"
#include "core/supervisor/supervisor_lock.hpp"
#include "os/detach.hpp"
#include "os/proc.hpp"
#include "os/unix_socket.hpp"

#include <cerrno>
#include <cstring>

namespace loop {

namespace {

// A supervisor that has just taken the lock binds its socket a moment
// later: connecting is retried this long while the lock says it runs.
constexpr int64_t kStartingMs = 3000;

os::Fd connect_supervisor(Home& home) {
    const int64_t until = os::monotonic_ms() + kStartingMs;
    for (;;) {
        int err = 0;
        os::Fd fd = os::connect_unix(home.root(), home.path(), kControlSocket, &err);
        if (fd) return fd;
        auto info = read_supervisor(home, ProcessProbe::system());
        if (!info || !info->running)
            throw Error(Exit::Failure, "no supervisor runs for " + home.path());
        if ((err != ENOENT && err != ECONNREFUSED) || os::monotonic_ms() >= until)
            throw Error(Exit::Failure, "the supervisor of " + home.path() + " (pid " +
                                           std::to_string(info->anchor.pid) +
                                           ") does not answer on " + home.path() + "/" +
                                           kControlSocket + ": " + std::strerror(err));
        os::sleep_ms(50);
    }
}

} // namespace

nlohmann::json ask_supervisor(Home& home, const nlohmann::json& request, int timeout_ms) {
    os::Fd fd = connect_supervisor(home);
    if (os::Status s = os::send_all(fd.get(), request.dump() + "\n"); !s.ok())
        throw io_error("cannot send the request to the supervisor of " + home.path(), s.err);
    int err = 0;
    auto line = os::read_line(fd.get(), 16u << 20, timeout_ms, &err);
    if (!line) {
        if (err == 0)
            throw Error(Exit::Failure, "the supervisor of " + home.path() +
                                           " closed the connection before answering");
        throw io_error("no answer from the supervisor of " + home.path(), err);
    }
    auto j = nlohmann::json::parse(*line, nullptr, false);
    if (!j.is_object() || !j.contains("ok") || !j["ok"].is_boolean())
        throw Error(Exit::Failure, "the supervisor of " + home.path() + " answered nonsense");
    return j;
}

std::optional<nlohmann::json> supervisor_replicas(Home& home, int timeout_ms) {
    try {
        auto j = ask_supervisor(home, {{"op", "replicas"}}, timeout_ms);
        if (j["ok"] == true && j.contains("replicas") && j["replicas"].is_array())
            return j["replicas"];
    } catch (const Error&) {
    }
    return std::nullopt;
}

} // namespace loop
