// A minimal HTTP endpoint for Prometheus scrapes, served from the
// supervisor's own event loop: GET /metrics answers the exposition, any
// other path 404, any other method 405. One request per connection.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

namespace loop {

class MetricsServer {
  public:
    using Render = std::function<std::string()>;

    // `listen` is HOST:PORT (default host 127.0.0.1 when only ":PORT" or
    // "PORT" is given). Throws Error(Usage) for a bad address, Error(Failure)
    // when it cannot listen.
    MetricsServer(uv_loop_t* loop, const std::string& listen, Render render);
    ~MetricsServer();
    MetricsServer(const MetricsServer&) = delete;
    MetricsServer& operator=(const MetricsServer&) = delete;

    int port() const { return port_; }
    void close();

  private:
    static void on_connection(uv_stream_t* server, int status);

    uv_tcp_t* server_ = nullptr;
    Render render_;
    int port_ = 0;
};

} // namespace loop
