// A minimal HTTP endpoint for Prometheus scrapes, served from the
// supervisor's own event loop: GET /metrics answers the exposition, any
// other path 404, any other method 405. One request per connection.
//
// No client can end or starve the loop: at most `max_connections` are open
// (a new one closes the oldest that has not sent its request yet), one
// that has not been answered and closed within kIdleTimeoutMs is closed, a
// request over kMaxRequestBytes is answered 431, and an error while
// rendering is logged and answered 500.
#pragma once

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <string>

namespace loop {

constexpr size_t kMaxMetricsConnections = 256;
constexpr uint64_t kMetricsIdleTimeoutMs = 5'000;
constexpr size_t kMaxMetricsRequestBytes = 8'192;

class MetricsServer {
  public:
    using Render = std::function<std::string()>;

    // `listen` is HOST:PORT (default host 127.0.0.1 when only ":PORT" or
    // "PORT" is given). Throws Error(Usage) for a bad address, Error(Failure)
    // when it cannot listen.
    MetricsServer(uv_loop_t* loop, const std::string& listen, Render render,
                  size_t max_connections = kMaxMetricsConnections);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    int port() const { return port_; }
    size_t open_connections() const { return conns_.size(); }
    void close();

    struct Conn;

  private:
    static void on_connection(uv_stream_t* server, int status);
    void drop(Conn* c);
    void answer(Conn* c);
    void send(Conn* c, std::string response);
    void close_idle();

    uv_tcp_t* server_ = nullptr;
    uv_timer_t* idle_timer_ = nullptr;
    Render render_;
    size_t max_connections_;
    std::list<Conn*> conns_; // oldest first
    int port_ = 0;
};

} // namespace loop
