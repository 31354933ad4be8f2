// The supervisor's watch over claim holders that are not its own workers:
// each live holder's process is watched by pidfd, TTLs by one timer set to
// the next expiry, and claim changes by inotify on claims/. A holder's
// death releases its claims at once.
#include "core/error.hpp"
#include "core/supervisor/supervisor.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <set>

namespace loop {

void Supervisor::scan_holders() {
    if (stopping_ || !workers_->reaps_here()) return;
    std::vector<std::string> errors;
    std::vector<HolderView> all;
    try {
        all = core_.claims.all(&errors);
    } catch (const Error& e) {
        spdlog::error("{}", e.message());
        return;
    }
    int64_t next = INT64_MAX;
    std::set<std::string> live, dead_names;
    for (const auto& v : all) {
        if (v.verdict.life == Life::Dead) {
            dead_names.insert(v.name);
            continue;
        }
        if (v.holder.expires_ms > 0) next = std::min(next, v.holder.expires_ms);
        if (v.session && v.session->ttl_ms > 0)
            next = std::min(next, v.session->heartbeat_ms + v.session->ttl_ms);
        if (replicas_.count(v.holder.session)) continue; // our workers: SIGCHLD / own pidfd
        if (!v.session || !v.session->anchor || v.verdict.life != Life::Alive) continue;
        live.insert(v.holder.session);
        if (holders_.count(v.holder.session)) continue;
        if (holders_.size() >= max_watched_holders_) {
            watch_capped("the open-files limit leaves room for " +
                         std::to_string(max_watched_holders_));
            continue;
        }
        auto w = std::make_unique<Watched>();
        int err = 0;
        w->pidfd = os::pidfd_open(v.session->anchor->pid, &err);
        if (!w->pidfd) {
            // Exited between the liveness check and now: reap it at once.
            if (err == ESRCH) dead_names.insert(v.name);
            if (err == EMFILE || err == ENFILE) watch_capped(std::strerror(err));
            continue; // otherwise not ours to see: the sweep covers it
        }
        w->sup = this;
        w->session = v.holder.session;
        w->poll = static_cast<uv_poll_t*>(std::calloc(1, sizeof(uv_poll_t)));
        uv_poll_init(&loop_, w->poll, w->pidfd.get());
        w->poll->data = w.get();
        uv_poll_start(w->poll, UV_READABLE, [](uv_poll_t* p, int, int) {
            auto* ww = static_cast<Watched*>(p->data);
            spdlog::debug("holder session {} exited", ww->session);
            uv_poll_stop(p);
            ww->sup->scan_holders();
        });
        holders_[v.holder.session] = std::move(w);
    }
    for (const auto& name : dead_names) {
        try {
            for (const auto& item : core_.claims.reap_name(name, false, nullptr))
                spdlog::info("reaped claim {} of session {}: {}", item.name, item.holder.session,
                             item.why);
        } catch (const Error& e) {
            spdlog::error("{}", e.message());
        }
    }
    for (auto it = holders_.begin(); it != holders_.end();) {
        if (live.count(it->first)) {
            ++it;
            continue;
        }
        uv_close(reinterpret_cast<uv_handle_t*>(it->second->poll),
                 [](uv_handle_t* h) { std::free(h); });
        it = holders_.erase(it);
    }
    for (const auto& e : errors)
        spdlog::warn("{}", e);
    arm_expiry_timer(next);
    publish_metrics();
}

void Supervisor::watch_capped(const std::string& why) {
    // Descriptors are kept for workers and claims: the holders beyond
    // are left to the safety sweep. Said once.
    if (holders_capped_logged_) return;
    holders_capped_logged_ = true;
    spdlog::warn("watching {} outside claim holders, no more ({}); the others are checked "
                 "every reap_interval ({})",
                 holders_.size(), why, format_age(playbook_.reap_interval_ms));
}

void Supervisor::arm_expiry_timer(int64_t next_ms) {
    if (next_ms == INT64_MAX) {
        uv_timer_stop(&expiry_timer_);
        return;
    }
    int64_t delay = next_ms - os::now_ms() + 1;
    if (delay < 0) delay = 0;
    uv_timer_start(
        &expiry_timer_, [](uv_timer_t* t) { static_cast<Supervisor*>(t->data)->scan_holders(); },
        static_cast<uint64_t>(delay), 0);
}

} // namespace loop
