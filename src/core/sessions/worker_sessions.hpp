// Where a supervisor keeps the sessions of its workers and releases their
// claims: the home's records (the file backend), or another engine's
// (store/redis). The supervisor's policy is the same on every engine.
#pragma once

#include "core/core.hpp"

#include <string>
#include <utility>
#include <vector>

namespace loop {

class WorkerSessions {
  public:
    virtual ~WorkerSessions() = default;
    // Records a worker incarnation's session, replacing any.
    virtual void put(const SessionRecord& s) = 0;
    // Releases every claim of session `id`, recorded as `event`.
    virtual std::vector<std::string> release(const std::string& id, const std::string& event) = 0;
    // Removes the session's record.
    virtual void drop(const std::string& id) = 0;
    // Every session with its verdict (the supervisor adopts its workers).
    virtual std::vector<std::pair<SessionRecord, Verdict>>
    list(std::vector<std::string>* errors) = 0;
    // Whether the supervisor watches outside holders and reaps stale claims
    // itself (false: another process does, e.g. the Redis host keeper).
    virtual bool reaps_here() const = 0;
    // Appended to worker session ids ("" on the file backend; on a shared
    // backend the host's key, so that two hosts' w.1 are two sessions).
    virtual std::string id_suffix() const = 0;
};

class FileWorkerSessions : public WorkerSessions {
  public:
    explicit FileWorkerSessions(Core& core) : core_(core) {}
    void put(const SessionRecord& s) override { core_.sessions.put(s); }
    std::vector<std::string> release(const std::string& id, const std::string& event) override {
        return core_.claims.release_session(id, event);
    }
    void drop(const std::string& id) override { core_.sessions.end(id); }
    std::vector<std::pair<SessionRecord, Verdict>> list(std::vector<std::string>* errors) override;
    bool reaps_here() const override { return true; }
    std::string id_suffix() const override { return ""; }

  private:
    Core& core_;
};

} // namespace loop
