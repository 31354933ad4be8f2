// What every engine's Backend does the same way unless it can do better.
#include "store/backend.hpp"

#include "core/error.hpp"

namespace loop {

void Backend::release_own_quietly(const SessionRecord& me, const std::vector<std::string>& names) {
    if (names.empty()) return;
    try {
        release_own(me, names);
    } catch (const Error& e) {
        if (e.code() != Exit::Busy) throw;
        // All or nothing refused one taken by now: the others one by one.
        for (const auto& n : names) {
            try {
                release_own(me, {n});
            } catch (const Error& each) {
                if (each.code() != Exit::Busy) throw;
            }
        }
    }
}

} // namespace loop
