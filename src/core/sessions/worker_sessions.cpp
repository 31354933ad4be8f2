#include "core/sessions/worker_sessions.hpp"

#include "core/error.hpp"

#include <algorithm>

namespace loop {

std::vector<std::pair<SessionRecord, Verdict>>
FileWorkerSessions::list(std::vector<std::string>* errors) {
    std::vector<std::pair<SessionRecord, Verdict>> out;
    auto ids = core_.registry.ids();
    std::sort(ids.begin(), ids.end());
    for (const auto& id : ids) {
        try {
            if (auto s = core_.registry.read(id)) out.push_back({*s, core_.sessions.verdict(*s)});
        } catch (const Error& e) {
            if (errors) errors->push_back(e.message());
        }
    }
    return out;
}

} // namespace loop
