// The supervisor's record in the fleet (core/fleet_record.hpp): on a shared
// backend it is written on a heartbeat of its own (the sweep runs only every
// reap_interval) and whenever a replica changes state, and removed on a clean
// stop. A write that fails (the backend unreachable) is logged once and
// tried again at the next period; the record lapses by its TTL meanwhile.
#include "core/error.hpp"
#include "core/supervisor/supervisor.hpp"
#include "os/proc.hpp"

#include <spdlog/spdlog.h>

namespace loop {

SupervisorRecord Supervisor::record_now() const {
    SupervisorRecord r;
    r.pid = os::self_pid();
    r.started_ms = started_ms_;
    r.playbook = playbook_.path;
    r.home = core_.home.path();
    r.replicas = published_replicas(replicas_json());
    return r;
}

void Supervisor::start_record() {
    if (options_.record_period_ms <= 0 || !options_.put_record) return;
    uv_timer_init(&loop_, &record_timer_);
    record_timer_.data = this;
    const auto every = static_cast<uint64_t>(options_.record_period_ms);
    uv_timer_start(
        &record_timer_,
        [](uv_timer_t* t) { static_cast<Supervisor*>(t->data)->publish_record(true); }, every,
        every);
    publish_record(true);
}

void Supervisor::publish_record(bool periodic) {
    if (options_.record_period_ms <= 0 || !options_.put_record || finished_) return;
    if (!periodic && record_failing_) return;
    SupervisorRecord r = record_now();
    if (!periodic && r.replicas == published_replicas_) return;
    // What was tried counts as written: a change is not tried again on every
    // turn of the loop while the backend does not answer.
    published_replicas_ = r.replicas;
    try {
        options_.put_record(r);
        if (record_failing_) spdlog::info("the supervisor's record is written again");
        record_failing_ = false;
    } catch (const Error& e) {
        if (!record_failing_)
            spdlog::warn("cannot write the supervisor's record (status on other hosts shows it "
                         "gone once it lapses): {}",
                         e.message());
        record_failing_ = true;
    }
}

void Supervisor::drop_record() {
    if (options_.record_period_ms <= 0 || !options_.drop_record) return;
    uv_timer_stop(&record_timer_);
    try {
        options_.drop_record(record_now());
    } catch (const Error& e) {
        spdlog::warn("cannot remove the supervisor's record (it lapses by its TTL): {}",
                     e.message());
    }
}

} // namespace loop
