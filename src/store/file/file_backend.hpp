// The file backend (SPEC sections 1-3): claims and sessions as records
// under the home, decisions under per-name lock files (core/claims/claims.hpp).
#pragma once

#include "core/core.hpp"
#include "store/backend.hpp"

#include <string>

namespace loop {

class FileBackend : public Backend {
  public:
    explicit FileBackend(const std::string& home_path) : core_(home_path), workers_(core_) {}

    const char* kind() const override { return "file"; }
    SessionRecord resolve_live(const std::string& ref, int implicit_pid) override;
    SessionRecord own_session(int pid, const std::string& kind, int pgid) override;
    WorkerSessions& workers() override { return workers_; }
    void end_own_session(const SessionRecord& me, const std::vector<std::string>& names) override {
        release_own_quietly(me, names);
        core_.sessions.end(me.id);
    }
    std::vector<std::string> watch_paths() override;
    const ProcessProbe& probe() const override { return core_.sessions.probe(); }
    SessionRecord start_session(const StartOptions& opts, int caller_pid) override;
    void heartbeat(const std::string& ref) override;
    std::vector<std::string> end_session(const std::string& ref, bool* was_running) override;
    std::vector<SessionView> sessions(std::vector<std::string>* errors) override;
    Verdict verdict(const SessionRecord& s) override;
    AcquireOutcome acquire(const SessionRecord& me, const AcquireRequest& req, int64_t wait_ms,
                           const std::function<void(const AcquireOutcome&)>& on_wait) override;
    std::vector<std::string> release(const std::string& ref, int implicit_pid,
                                     const std::vector<std::string>& names, bool force) override;
    std::vector<std::string> release_own(const SessionRecord& me,
                                         const std::vector<std::string>& names) override;
    std::vector<Granted> renew(const SessionRecord& me, const std::vector<std::string>& names,
                               int64_t ttl_ms) override;
    std::vector<HolderView> holders(const std::string& name) override;
    std::vector<HolderView> all(std::vector<std::string>* errors) override;
    ReapReport reap(bool dry_run, int64_t retention_ms) override {
        return core_.reaper.run(dry_run, retention_ms);
    }
    void read_counters(EventCounters& c) override { read_file_counters(core_, c); }
    void record_event(const std::string&, const nlohmann::json&) override {}

    Core& core() { return core_; }

  private:
    Core core_;
    FileWorkerSessions workers_;
};

} // namespace loop
