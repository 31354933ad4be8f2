// Reloading the playbook (SIGHUP or `loop reload`): validated first, then
// reconciled. A worker whose process changed is restarted, one replica at
// a time (each after the one before is up) or all at once, per its
// `rollout`.
#include "core/error.hpp"
#include "core/supervisor/control.hpp"
#include "core/supervisor/supervisor.hpp"
#include "os/proc.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace loop {

void Supervisor::apply_definition(Replica& r, const WorkerSpec& w) {
    if (r.spec.same_process(w) && !r.restart_when_stopped) {
        // Backoff, restart policy and how to stop it apply to the
        // running process as they are.
        if (!r.spec.same_definition(w))
            spdlog::info("{}: settings changed, applied without a restart", r.id);
        r.spec = w;
        return;
    }
    if (r.spec.same_definition(w)) return;
    if (r.state == Replica::State::Running) {
        if (r.draining || w.rollout == Rollout::AllAtOnce) {
            spdlog::info("{}: definition changed, restarting", r.id);
            r.restart_when_stopped = true;
            stop(r, false);
        } else {
            rollouts_pending_ = true; // advance_rollouts() restarts it in turn
        }
        return;
    }
    if (r.state == Replica::State::Stopping) {
        // Its exit starts the new definition, unless `loop stop` stops it.
        if (!r.held) r.restart_when_stopped = true;
        return;
    }
    // Backing off, stopped or failed: nothing runs the old definition.
    r.spec = w;
    if (r.held || r.state == Replica::State::Idle) return;
    spdlog::info("{}: definition changed, starting it", r.id);
    r.failures = 0;
    start(r);
}

nlohmann::json Supervisor::reload(const char* via) {
    if (stopping_)
        return control_error(Exit::Failure,
                             "the supervisor of " + core_.home.path() + " is stopping");
    Playbook next;
    try {
        next = load_playbook(playbook_.path);
    } catch (const Error& e) {
        spdlog::error("reload refused, still running the previous playbook: {}", e.message());
        // Noted for `loop status` before the event says it happened.
        if (options_.lock) options_.lock->note_reload_failed(os::now_ms(), e.message());
        core_.events.append("supervisor.reload_failed",
                            {{"pid", os::self_pid()}, {"reason", e.message()}, {"via", via}});
        return control_error(Exit::Usage, e.message());
    }
    spdlog::info("reloading {} ({})", playbook_.path, via);
    if (options_.lock) options_.lock->note_reload_failed(0, "");
    const PlaybookDiff diff = diff_playbooks(playbook_, next);
    playbook_ = std::move(next);
    for (auto& [id, r] : replicas_) {
        const WorkerSpec* w = playbook_.find(r->worker);
        if (w && r->index <= w->replicas) apply_definition(*r, *w); // else stopped by reconcile
    }
    reconcile();
    uint64_t every = static_cast<uint64_t>(std::max<int64_t>(playbook_.reap_interval_ms, 100));
    uv_timer_start(
        &sweep_timer_, [](uv_timer_t* t) { static_cast<Supervisor*>(t->data)->sweep(); }, every,
        every);
    nlohmann::json changes = diff_json(diff, playbook_);
    nlohmann::json ev = changes;
    ev["pid"] = os::self_pid();
    ev["via"] = via;
    core_.events.append("supervisor.reloaded", ev);
    advance_rollouts();
    return {{"ok", true}, {"playbook", playbook_.path}, {"changes", changes}};
}

void Supervisor::advance_rollouts() {
    if (!rollouts_pending_ || stopping_) return;
    using Phase = RolloutReplica::Phase;
    const int64_t now = os::monotonic_ms();
    bool any = false;
    int64_t wait = -1;
    for (const auto& w : playbook_.workers) {
        std::vector<RolloutReplica> view;
        for (int i = 1; i <= w.replicas; ++i) {
            auto it = replicas_.find(w.name + "." + std::to_string(i) + workers_->id_suffix());
            if (it == replicas_.end()) continue;
            const Replica& r = *it->second;
            RolloutReplica v;
            v.index = i;
            const bool current = r.spec.same_definition(w);
            if (r.held) {
                v.phase = Phase::Other;
            } else if (r.draining ||
                       (r.state == Replica::State::Stopping && r.restart_when_stopped) ||
                       (r.state == Replica::State::Backoff && current)) {
                v.phase = Phase::Restarting;
            } else if (r.state == Replica::State::Running) {
                v.running_ms = now - r.started_mono;
                v.phase = !current                      ? Phase::Outdated
                          : v.running_ms < kReplicaUpMs ? Phase::Starting
                                                        : Phase::Up;
            }
            if (v.phase == Phase::Outdated) any = true;
            view.push_back(v);
        }
        RolloutStep step = next_rollout_step(view, kReplicaUpMs);
        if (step.restart > 0) {
            Replica& r = slot(w.name, step.restart);
            spdlog::info("{}: definition changed, restarting (one by one)", r.id);
            r.restart_when_stopped = true;
            stop(r, false);
        }
        if (step.wait_ms >= 0) wait = wait < 0 ? step.wait_ms : std::min(wait, step.wait_ms);
    }
    rollouts_pending_ = any;
    if (any && wait >= 0)
        uv_timer_start(
            &rollout_timer_,
            [](uv_timer_t* t) { static_cast<Supervisor*>(t->data)->advance_rollouts(); },
            static_cast<uint64_t>(wait) + 1, 0);
}

} // namespace loop
