// The supervisor while its shared backend (Redis) does not answer: calls go
// through the SharedLink's backoff (core/shared_link.hpp), so the event loop
// keeps handling signals, worker exits and the control socket. What must
// not be lost is held: a dead worker's release that was not acknowledged is
// retried, and a replica whose session cannot be recorded waits to start.
#include "core/error.hpp"
#include "core/supervisor/supervisor.hpp"

#include <spdlog/spdlog.h>

namespace loop {

namespace {

// How often held work is looked at; the backoff says whether it is tried.
constexpr uint64_t kSharedTickMs = 250;

} // namespace

void Supervisor::watch_shared() {
    if (!options_.shared) return;
    uv_timer_init(&loop_, &shared_timer_);
    shared_timer_.data = this;
    uv_timer_start(
        &shared_timer_, [](uv_timer_t* t) { static_cast<Supervisor*>(t->data)->shared_tick(); },
        kSharedTickMs, kSharedTickMs);
}

void Supervisor::shared_tick() {
    SharedLink& link = *options_.shared;
    if (!link.may_try()) return;
    if (!retry_held() || !link.flush_events()) return;
    if (stopping_) return;
    for (auto& [id, r] : replicas_) {
        if (!r->awaits_backend || r->state != Replica::State::Backoff) continue;
        if (!link.may_try()) break;
        start(*r);
    }
}

void Supervisor::hold_release(const std::string& id, bool drop, const std::string& why) {
    bool& d = held_releases_[id];
    d = d || drop;
    spdlog::warn("{}: its claims stay held until the shared backend acknowledges their "
                 "release (retried): {}",
                 id, why);
}

bool Supervisor::retry_held() {
    for (auto it = held_releases_.begin(); it != held_releases_.end();) {
        if (!options_.shared->may_try()) return false;
        std::vector<std::string> released;
        try {
            released = workers_->release(it->first, "claim.reaped");
            if (it->second) workers_->drop(it->first);
        } catch (const Error&) {
            return false; // the link logs an outage once
        }
        spdlog::info("{}: its held release is done{}", it->first,
                     released.empty() ? ""
                                      : fmt::format(", released {} claim(s)", released.size()));
        for (const auto& n : released)
            spdlog::info("{}: reaped claim {}", it->first, n);
        it = held_releases_.erase(it);
    }
    return true;
}

bool Supervisor::ready_to_start(Replica& r) {
    if (!options_.shared) return true;
    // A new incarnation replaces the session: the last one's release first.
    if (options_.shared->may_try() && retry_held()) {
        r.awaits_backend = false;
        return true;
    }
    if (!r.awaits_backend)
        spdlog::info("{}: waits for the shared backend to answer before it starts", r.id);
    r.awaits_backend = true;
    r.state = Replica::State::Backoff;
    r.pid = 0;
    return false;
}

void Supervisor::finish_shared() {
    if (!options_.shared) return;
    if (options_.shared->may_try() && retry_held()) options_.shared->flush_events();
    for (const auto& [id, drop] : held_releases_)
        spdlog::warn("{}: its claims stay held in the shared backend (their release was not "
                     "acknowledged); the host's keeper ends the session once it answers, "
                     "or its TTL does",
                     id);
}

} // namespace loop
