#include "core/supervisor/control_server.hpp"

#include "core/error.hpp"
#include "core/supervisor/control.hpp"
#include "os/unix_socket.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace loop {

struct ControlServer::Conn {
    uv_pipe_t pipe; // first: the handle is the connection
    ControlServer* server = nullptr;
    std::list<Conn*>::iterator pos;
    uint64_t id = 0;
    uint64_t opened_ms = 0;
    std::string request;
    std::string response;
    uv_write_t write{};
    bool requested = false; // its request line is in: waits for its answer
    bool answered = false;
    bool closing = false;
};

ControlServer::ControlServer(uv_loop_t* loop, os::Fd listening, Handler handler)
    : handler_(std::move(handler)) {
    server_ = new uv_pipe_t;
    uv_pipe_init(loop, server_, 0);
    server_->data = this;
    idle_timer_ = new uv_timer_t;
    uv_timer_init(loop, idle_timer_);
    idle_timer_->data = this;
    int rc = uv_pipe_open(server_, listening.get());
    if (rc == 0) {
        listening.release(); // the pipe owns it now
        rc = uv_listen(reinterpret_cast<uv_stream_t*>(server_), 64, on_connection);
    }
    if (rc != 0) {
        close();
        throw Error(Exit::Failure, std::string("control socket: ") + uv_strerror(rc));
    }
}

ControlServer::~ControlServer() {
    close();
}

void ControlServer::close() {
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
             [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    server_ = nullptr;
}

void ControlServer::drop(Conn* c) {
    if (c->closing) return;
    c->closing = true;
    conns_.erase(c->pos);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->pipe),
             [](uv_handle_t* h) { delete reinterpret_cast<Conn*>(h); });
}

void ControlServer::reply(uint64_t id, const nlohmann::json& answer) {
    auto it = std::find_if(conns_.begin(), conns_.end(), [id](Conn* c) { return c->id == id; });
    if (it == conns_.end()) return; // the client went away: the work is done all the same
    Conn* c = *it;
    if (c->answered) return;
    c->answered = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&c->pipe));
    c->response = answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    uv_buf_t buf = uv_buf_init(c->response.data(), static_cast<unsigned>(c->response.size()));
    c->write.data = c;
    int rc = uv_write(&c->write, reinterpret_cast<uv_stream_t*>(&c->pipe), &buf, 1,
                      [](uv_write_t* w, int) {
                          auto* cc = static_cast<Conn*>(w->data);
                          if (!cc->closing) cc->server->drop(cc);
                      });
    if (rc != 0) drop(c);
}

void ControlServer::close_idle() {
    const uint64_t now = uv_now(server_->loop);
    std::vector<Conn*> expired;
    for (Conn* c : conns_)
        if (!c->requested && now - c->opened_ms >= kControlIdleMs) expired.push_back(c);
    for (Conn* c : expired)
        drop(c);
    if (std::none_of(conns_.begin(), conns_.end(), [](Conn* c) { return !c->requested; }))
        uv_timer_stop(idle_timer_);
}

void ControlServer::got_request(Conn* c) {
    c->requested = true;
    std::string line = c->request.substr(0, c->request.find('\n'));
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("op") || !j["op"].is_string()) {
        reply(c->id, control_error(Exit::Usage, "bad request: expected {\"op\": ...}"));
        return;
    }
    const uint64_t id = c->id;
    try {
        handler_(id, j);
    } catch (const Error& e) {
        reply(id, control_error(e.code(), e.message()));
    } catch (const std::exception& e) {
        spdlog::error("control: {}", e.what());
        reply(id, control_error(Exit::Failure, e.what()));
    }
}

void ControlServer::on_connection(uv_stream_t* server, int status) {
    if (status < 0) {
        spdlog::debug("control: accept: {}", uv_strerror(status));
        return;
    }
    auto* self = static_cast<ControlServer*>(server->data);
    if (!self->server_) return;
    if (self->conns_.size() >= kMaxControlConnections) {
        auto idle = std::find_if(self->conns_.begin(), self->conns_.end(),
                                 [](Conn* c) { return !c->requested; });
        self->drop(idle != self->conns_.end() ? *idle : self->conns_.front());
    }
    auto* c = new Conn;
    c->server = self;
    c->id = self->next_id_++;
    uv_pipe_init(server->loop, &c->pipe, 0);
    c->pos = self->conns_.insert(self->conns_.end(), c);
    c->opened_ms = uv_now(server->loop);
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->pipe)) != 0) {
        self->drop(c);
        return;
    }
    uv_os_fd_t fd = -1;
    uv_fileno(reinterpret_cast<uv_handle_t*>(&c->pipe), &fd);
    auto uid = os::peer_uid(fd);
    if (!uid || *uid != os::effective_uid()) {
        spdlog::warn("control: refused a connection from uid {}", uid ? std::to_string(*uid) : "?");
        self->drop(c);
        return;
    }
    if (!uv_is_active(reinterpret_cast<uv_handle_t*>(self->idle_timer_)))
        uv_timer_start(
            self->idle_timer_,
            [](uv_timer_t* t) { static_cast<ControlServer*>(t->data)->close_idle(); }, 1000, 1000);
    int rc = uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->pipe),
        [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
            suggested = std::min(suggested, kMaxControlRequestBytes + 1);
            buf->base = static_cast<char*>(std::malloc(suggested));
            buf->len = buf->base ? suggested : 0;
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
            auto* c = reinterpret_cast<Conn*>(s);
            if (n > 0 && !c->requested) c->request.append(buf->base, static_cast<size_t>(n));
            std::free(buf->base);
            if (c->answered || c->closing) return;
            if (n < 0) {
                c->server->drop(c); // gone: a pending answer has nobody to go to
                return;
            }
            if (c->requested) return;
            if (c->request.find('\n') != std::string::npos) {
                c->server->got_request(c);
            } else if (c->request.size() > kMaxControlRequestBytes) {
                c->requested = true;
                c->server->reply(c->id, control_error(Exit::Usage, "request too large"));
            }
        });
    if (rc != 0) self->drop(c);
}

} // namespace loop
