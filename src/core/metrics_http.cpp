#include "core/metrics_http.hpp"

#include "core/error.hpp"

#include <cstdlib>
#include <cstring>

namespace loop {

namespace {

struct Conn {
    uv_tcp_t tcp;
    MetricsServer::Render* render;
    std::string request;
    std::string response;
    uv_write_t write;
    bool answered = false;
};

void close_conn(Conn* c) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp),
             [](uv_handle_t* h) { delete reinterpret_cast<Conn*>(h); });
}

std::string reply(int code, const char* reason, const std::string& type, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(code) + " " + reason + "\r\nContent-Type: " + type +
           "\r\nContent-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
           body;
}

void answer(Conn* c) {
    c->answered = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->tcp));
    std::string line = c->request.substr(0, c->request.find("\r\n"));
    std::string method = line.substr(0, line.find(' '));
    std::string rest = line.size() > method.size() ? line.substr(method.size() + 1) : "";
    std::string path = rest.substr(0, rest.find(' '));
    if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
    if (method != "GET" && method != "HEAD") {
        c->response = reply(405, "Method Not Allowed", "text/plain", "method not allowed\n");
    } else if (path != "/metrics") {
        c->response = reply(404, "Not Found", "text/plain", "not found: try /metrics\n");
    } else {
        std::string body = (*c->render)();
        c->response = reply(200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
        if (method == "HEAD") c->response.resize(c->response.find("\r\n\r\n") + 4);
    }
    uv_buf_t buf = uv_buf_init(c->response.data(), static_cast<unsigned>(c->response.size()));
    c->write.data = c;
    uv_write(&c->write, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
             [](uv_write_t* w, int) { close_conn(static_cast<Conn*>(w->data)); });
}

} // namespace

MetricsServer::MetricsServer(uv_loop_t* loop, const std::string& listen, Render render)
    : render_(std::move(render)) {
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
    int rc = uv_tcp_bind(server_, reinterpret_cast<sockaddr*>(&addr), 0);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 16, on_connection);
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
    if (!server_) return;
    uv_close(reinterpret_cast<uv_handle_t*>(server_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    server_ = nullptr;
}

void MetricsServer::on_connection(uv_stream_t* server, int status) {
    if (status < 0) return;
    auto* self = static_cast<MetricsServer*>(server->data);
    auto* c = new Conn;
    c->render = &self->render_;
    uv_tcp_init(server->loop, &c->tcp);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
        close_conn(c);
        return;
    }
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
            buf->base = static_cast<char*>(std::malloc(suggested));
            buf->len = buf->base ? suggested : 0;
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
            auto* c = reinterpret_cast<Conn*>(s);
            if (n > 0) c->request.append(buf->base, static_cast<size_t>(n));
            std::free(buf->base);
            if (c->answered) return;
            if (n < 0 || c->request.size() > 16384) {
                close_conn(c);
                return;
            }
            if (c->request.find("\r\n\r\n") != std::string::npos ||
                c->request.find("\n\n") != std::string::npos)
                answer(c);
        });
}

} // namespace loop
