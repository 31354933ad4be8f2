#include "core/events.hpp"

#include "core/text.hpp"
#include "os/fs.hpp"
#include "os/proc.hpp"

#include <cstdio>
#include <cstring>

namespace loop {

void EventLog::append(const std::string& event, nlohmann::json fields) {
    nlohmann::json j = {{"ts", format_time(os::now_ms())}, {"event", event}};
    for (auto& [k, v] : fields.items())
        j[k] = std::move(v);
    std::string line = j.dump() + "\n";
    os::Status s = os::append_line_at(home_.root(), "events.jsonl", line);
    if (!s.ok() && !warned_) {
        warned_ = true;
        std::fprintf(stderr, "loop: warning: cannot append to %s: %s\n", path().c_str(),
                     std::strerror(s.err));
    }
}

} // namespace loop
