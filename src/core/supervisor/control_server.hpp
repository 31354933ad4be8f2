// The supervisor's end of the control channel: HOME/supervisor.sock served
// on its own event loop. Each connection sends one JSON request line and
// gets one JSON reply line, possibly later (a stop answers once the replica
// has stopped). Only the home's owner may connect (the socket is owner-only, the peer
// uid is checked). No client can block the loop: at most kMaxControlConnections
// are open (the oldest that has not sent a request yet is closed for a new
// one), one that has not sent its request within kControlIdleMs is closed,
// and a request over kMaxControlRequestBytes is refused.
#pragma once

#include "os/fd.hpp"

#include <nlohmann/json.hpp>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <list>
#include <string>

namespace loop {

inline constexpr size_t kMaxControlConnections = 64;
inline constexpr uint64_t kControlIdleMs = 10'000;

class ControlServer {
  public:
    // Called with a connection id and its request; the answer goes to reply().
    using Handler = std::function<void(uint64_t id, const nlohmann::json& request)>;

    // Serves the listening socket `listening` (from os::listen_unix).
    ControlServer(uv_loop_t* loop, os::Fd listening, Handler handler);
    ~ControlServer();
    ControlServer(const ControlServer&) = delete;
    ControlServer& operator=(const ControlServer&) = delete;

    // Answers connection `id` and closes it; nothing when it has gone.
    void reply(uint64_t id, const nlohmann::json& answer);
    void close();

    struct Conn;

  private:
    static void on_connection(uv_stream_t* server, int status);
    void drop(Conn* c);
    void close_idle();
    void got_request(Conn* c);

    uv_pipe_t* server_ = nullptr;
    uv_timer_t* idle_timer_ = nullptr;
    Handler handler_;
    std::list<Conn*> conns_; // oldest first
    uint64_t next_id_ = 1;
};

} // namespace loop
