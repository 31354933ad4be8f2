// The pieces of loop wired together over the file backend for one home.
#pragma once

#include "core/claims/claims.hpp"
#include "core/claims/reaper.hpp"
#include "core/events.hpp"
#include "core/home.hpp"
#include "core/sessions/sessions.hpp"
#include "store/file/file_store.hpp"

#include <string>

namespace loop {

struct Core {
    explicit Core(const std::string& home_path)
        : home(home_path), store(home), registry(home), events(home),
          sessions(registry, events, ProcessProbe::system()), claims(store, sessions, events),
          reaper(claims, sessions) {}

    Home home;
    FileClaimStore store;
    FileSessionRegistry registry;
    EventLog events;
    Sessions sessions;
    Claims claims;
    Reaper reaper;
};

} // namespace loop
