// Requests over the control socket: `loop restart|stop|start W[.N]`
// (answered once every replica named got there) and the replica states
// `loop status` shows. `loop reload` is in supervisor_reload.cpp.
#include "core/error.hpp"
#include "core/supervisor/control.hpp"
#include "core/supervisor/supervisor.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"
#include "os/unix_socket.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace loop {

void Supervisor::open_control() {
    int err = 0;
    os::Fd fd = os::listen_unix(core_.home.root(), core_.home.path(), kControlSocket, &err);
    if (!fd) {
        spdlog::warn("cannot serve {}/{}: {}; loop reload, restart, stop and start cannot reach "
                     "this supervisor",
                     core_.home.path(), kControlSocket, std::strerror(err));
        return;
    }
    control_ = std::make_unique<ControlServer>(
        &loop_, std::move(fd),
        [this](uint64_t id, const nlohmann::json& request) { on_control(id, request); });
}

const char* Supervisor::state_name(const Replica& r) {
    switch (r.state) {
    case Replica::State::Running:
        return r.draining ? "stopping" : "running";
    case Replica::State::Stopping:
        return "stopping";
    case Replica::State::Backoff:
        return "backoff";
    case Replica::State::Stopped:
        return r.held ? "stopped" : r.last_failed ? "failed" : "exited";
    case Replica::State::Idle:
        break;
    }
    return "stopped";
}

nlohmann::json Supervisor::replica_json(const Replica& r) const {
    nlohmann::json j = {{"session", r.id},           {"worker", r.worker}, {"replica", r.index},
                        {"state", state_name(r)},    {"pid", nullptr},     {"restarts", r.restarts},
                        {"backoff_left_ms", nullptr}};
    if (r.pid > 0 && (r.state == Replica::State::Running || r.state == Replica::State::Stopping))
        j["pid"] = r.pid;
    if (r.state == Replica::State::Backoff)
        j["backoff_left_ms"] = std::max<int64_t>(r.restart_at_mono - os::monotonic_ms(), 0);
    return j;
}

nlohmann::json Supervisor::replicas_json() const {
    std::vector<const Replica*> shown;
    for (const auto& [id, r] : replicas_) {
        const WorkerSpec* w = playbook_.find(r->worker);
        bool wanted = w && r->index <= w->replicas;
        if (wanted || r->state != Replica::State::Idle) shown.push_back(r.get());
    }
    std::sort(shown.begin(), shown.end(), [](const Replica* a, const Replica* b) {
        return a->worker != b->worker ? a->worker < b->worker : a->index < b->index;
    });
    nlohmann::json out = nlohmann::json::array();
    for (const Replica* r : shown)
        out.push_back(replica_json(*r));
    return out;
}

void Supervisor::on_control(uint64_t id, const nlohmann::json& request) {
    const std::string op = request.at("op").get<std::string>();
    if (op == "replicas") {
        control_->reply(id, {{"ok", true}, {"replicas", replicas_json()}});
        return;
    }
    if (op != "reload" && op != "restart" && op != "stop" && op != "start")
        throw Error(Exit::Usage, "unknown request '" + escape_controls(op) + "'");
    if (stopping_)
        throw Error(Exit::Failure, "the supervisor of " + core_.home.path() + " is stopping");
    if (op == "reload") {
        control_->reply(id, reload("loop reload"));
        return;
    }
    auto t = request.find("target");
    if (t == request.end() || !t->is_string())
        throw Error(Exit::Usage, op + ": expected a target WORKER or WORKER.N");
    Target target = parse_target(t->get<std::string>());
    std::vector<int> indices = resolve_target(playbook_, target);
    Pending p;
    p.conn = id;
    p.op = op;
    for (int i : indices) {
        Replica& r = slot(target.worker, i);
        p.ids.push_back(r.id);
        const bool running = r.state == Replica::State::Running && !r.draining;
        if (op == "restart" || (op == "start" && !running)) p.nonce_before[r.id] = r.nonce;
    }
    spdlog::info("{} {} (loop {})", op, t->get<std::string>(), op);
    for (int i : indices)
        act(op, slot(target.worker, i));
    pending_.push_back(std::move(p));
    check_pending();
}

void Supervisor::act(const std::string& op, Replica& r) {
    if (op == "stop") {
        r.held = true;
        r.restart_when_stopped = false;
        stop(r, false);
        return;
    }
    r.held = false;
    r.failures = 0; // the operator asked: no backoff
    switch (r.state) {
    case Replica::State::Running:
        // Draining: its main process is gone; it starts again once the rest is.
        if (op == "restart" || r.draining) {
            r.restart_when_stopped = true;
            stop(r, false);
        }
        return;
    case Replica::State::Stopping:
        r.restart_when_stopped = true; // its exit starts it again
        return;
    case Replica::State::Backoff:
    case Replica::State::Stopped:
    case Replica::State::Idle:
        if (const WorkerSpec* w = playbook_.find(r.worker)) r.spec = *w;
        start(r);
        return;
    }
}

void Supervisor::check_pending() {
    if (pending_.empty()) return;
    auto done = [this](const Pending& p) {
        for (const auto& id : p.ids) {
            auto it = replicas_.find(id);
            if (it == replicas_.end()) continue;
            const Replica& r = *it->second;
            if (r.draining || r.state == Replica::State::Stopping) return false;
            // Stopped, or Idle once removed: also for a start that a stop
            // (or a reload) overtook, answered as not started.
            if (p.op == "stop" || r.state == Replica::State::Stopped ||
                r.state == Replica::State::Idle)
                continue;
            if (auto n = p.nonce_before.find(id); n != p.nonce_before.end() && n->second == r.nonce)
                return false;
        }
        return true;
    };
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (!done(*it)) {
            ++it;
            continue;
        }
        nlohmann::json reply = {{"ok", true}, {"replicas", nlohmann::json::array()}};
        std::string failed;
        for (const auto& id : it->ids) {
            auto r = replicas_.find(id);
            if (r == replicas_.end()) continue;
            reply["replicas"].push_back(replica_json(*r->second));
            if (it->op != "stop" && r->second->state != Replica::State::Running)
                failed += (failed.empty() ? "" : ", ") + id + " did not start (" +
                          state_name(*r->second) + ")";
        }
        if (!failed.empty()) {
            reply["ok"] = false;
            reply["exit"] = static_cast<int>(Exit::Failure);
            reply["error"] = failed + "; see its log under " + core_.home.sub_path("logs");
        }
        if (control_) control_->reply(it->conn, reply);
        it = pending_.erase(it);
    }
}

void Supervisor::fail_pending(const std::string& why) {
    for (const auto& p : pending_)
        if (control_) control_->reply(p.conn, control_error(Exit::Failure, why));
    pending_.clear();
}

} // namespace loop
