#include "core/supervisor/metrics_http.hpp"

#include "core/error.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

namespace loop {

struct MetricsServer::Conn {
    uv_tcp_t tcp; // first: the handle is the connection
    MetricsServer* server = nullptr;
    std::list<Conn*>::iterator pos;
    uint64_t opened_ms = 0; // uv_now when accepted
    std::string request;
    std::string response;
    uv_write_t write{};
    bool answered = false;
    bool closing = false;
};

namespace {

std::string reply(int code, const char* reason, const std::string& type, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
           body;
}

} // namespace

void MetricsServer::drop(Conn* c) {
    if (c->closing) return;
    c->closing = true;
    conns_.erase(c->pos);
    // A pending write is cancelled (its callback runs first, and sees closing).
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
             [](uv_handle_t* h) { delete reinterpret_cast<Conn*>(h); });
}

void MetricsServer::send(Conn* c, std::string response) {
    c->answered = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    c->response = std::move(response);
    uv_buf_t buf = uv_buf_init(c->response.data(), static_cast<unsigned>(c->response.size()));
    c->write.data = c;
    int rc = uv_write(&c->write, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
                      [](uv_write_t* w, int) {
                          auto* cc = static_cast<Conn*>(w->data);
                          if (!cc->closing) cc->server->drop(cc);
                      });
    if (rc != 0) drop(c); // the peer is gone
}

void MetricsServer::answer(Conn* c) {
    std::string line = c->request.substr(0, c->request.find_first_of("\r\n"));
    std::string method = line.substr(0, line.find(' '));
    std::string rest = line.size() > method.size() ? line.substr(method.size() + 1) : "";
    std::string path = rest.substr(0, rest.find(' '));
    if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
    if (method != "GET" && method != "HEAD") {
        send(c, reply(405, "Method Not Allowed", "text/plain", "method not allowed\n"));
        return;
    }
    if (path != "/metrics") {
        send(c, reply(404, "Not Found", "text/plain", "not found: try /metrics\n"));
        return;
    }
    std::string response;
    try {
        response = reply(200, "OK", "text/plain; version=0.0.4; charset=utf-8", render_());
        if (method == "HEAD") response.resize(response.find("\r\n\r\n") + 4);
    } catch (const Error& e) {
        spdlog::error("metrics: {}", e.message());
        response = reply(500, "Internal Server Error", "text/plain", e.message() + "\n");
    } catch (const std::exception& e) {
        spdlog::error("metrics: {}", e.what());
        response = reply(500, "Internal Server Error", "text/plain", std::string(e.what()) + "\n");
    }
    send(c, std::move(response));
}

void MetricsServer::close_idle() {
    const uint64_t now = uv_now(server_->loop);
    std::vector<Conn*> expired;
    for (Conn* c : conns_) {
        if (now - c->opened_ms < kMetricsIdleTimeoutMs) break; // the rest are younger
        expired.push_back(c);
    }
    for (Conn* c : expired)
        drop(c);
    if (conns_.empty()) uv_timer_stop(idle_timer_);
}

MetricsServer::MetricsServer(uv_loop_t* loop, const std::string& listen, Render render,
                             size_t max_connections)
    : render_(std::move(render)), max_connections_(std::max<size_t>(max_connections, 1)) {
    std::string host = "127.0.0.1", port = listen;
    if (auto colon = listen.rfind(':'); colon != std::string::npos) {
        host = listen.substr(0, colon);
        port = listen.substr(colon + 1);
        if (host.empty()) host = "127.0.0.1";
        if (host.size() > 2 && host.front() == '[' && host.back() == ']')
            host = host.substr(1, host.size() - 2);
    }
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end || p < 0 || p > 65535)
        throw Error(Exit::Usage, "--metrics-listen '" + listen + "': expected HOST:PORT");
    sockaddr_storage addr{};
    if (uv_ip4_addr(host.c_str(), static_cast<int>(p), reinterpret_cast<sockaddr_in*>(&addr)) !=
            0 &&
        uv_ip6_addr(host.c_str(), static_cast<int>(p), reinterpret_cast<sockaddr_in6*>(&addr)) != 0)
        throw Error(Exit::Usage,
                    "--metrics-listen '" + listen + "': '" + host + "' is not an IP address");
    server_ = new uv_tcp_t;
    uv_tcp_init(loop, server_);
    server_->data = this;
    idle_timer_ = new uv_timer_t;
    uv_timer_init(loop, idle_timer_);
    idle_timer_->data = this;
    int rc = uv_tcp_bind(server_, reinterpret_cast<sockaddr*>(&addr), 0);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 511, on_connection);
    if (rc != 0) {
        close();
        throw Error(Exit::Failure, "--metrics-listen " + listen + ": " + uv_strerror(rc));
    }
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(server_, reinterpret_cast<sockaddr*>(&bound), &len);
    port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                              : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
}

MetricsServer::~MetricsServer() {
    close();
}

void MetricsServer::close() {
    std::vector<Conn*> open(conns_.begin(), conns_.end());
    for (Conn* c : open)
        drop(c);
    if (idle_timer_) {
        uv_close(reinterpret_cast<uv_handle_t*>(idle_timer_),
                 [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
        idle_timer_ = nullptr;
    }
    if (!server_) return;
    uv_close(reinterpret_cast<uv_handle_t*>(server_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    server_ = nullptr;
}

void MetricsServer::on_connection(uv_stream_t* server, int status) {
    if (status < 0) {
        spdlog::debug("metrics: accept: {}", uv_strerror(status));
        return;
    }
    auto* self = static_cast<MetricsServer*>(server->data);
    if (!self->server_) return;
    // Full: the oldest connection that has not sent its request goes
    // first (else the oldest of all), so a crowd of idle clients cannot
    // keep a scrape out.
    if (self->conns_.size() >= self->max_connections_) {
        auto idle = std::find_if(self->conns_.begin(), self->conns_.end(),
                                 [](Conn* c) { return !c->answered; });
        self->drop(idle != self->conns_.end() ? *idle : self->conns_.front());
    }
    auto* c = new Conn;
    c->server = self;
    uv_tcp_init(server->loop, &c->tcp);
    c->pos = self->conns_.insert(self->conns_.end(), c);
    c->opened_ms = uv_now(server->loop);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
        self->drop(c);
        return;
    }
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(self->idle_timer_)))
        uv_timer_start(
            self->idle_timer_,
            [](uv_timer_t* t) { static_cast<MetricsServer*>(t->data)->close_idle(); }, 1000, 1000);
    int rc = uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
            suggested = std::min(suggested, kMaxMetricsRequestBytes + 1);
            buf->base = static_cast<char*>(std::malloc(suggested));
            buf->len = buf->base ? suggested : 0;
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
            auto* c = reinterpret_cast<Conn*>(s);
            if (n > 0 && !c->answered) c->request.append(buf->base, static_cast<size_t>(n));
            std::free(buf->base);
            if (c->answered || c->closing) return;
            if (n < 0) {
                c->server->drop(c); // reset, or closed before a whole request
                return;
            }
            if (c->request.find("\r\n\r\n") != std::string::npos ||
                c->request.find("\n\n") != std::string::npos) {
                c->server->answer(c);
            } else if (c->request.size() > kMaxMetricsRequestBytes) {
                c->server->send(c, reply(431, "Request Header Fields Too Large", "text/plain",
                                         "request too large\n"));
            }
        });
    if (rc != 0) self->drop(c);
}

} // namespace loop
