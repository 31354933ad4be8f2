// The append-only event log (events.jsonl): one JSON object per line,
// each written with a single O_APPEND write so lines never interleave.
#pragma once

#include "core/home.hpp"

#include <nlohmann/json.hpp>

#include <string>

namespace loop {

class EventLog {
  public:
    explicit EventLog(Home& home) : home_(home) {}

    // Appends {"ts":..., "event": name, ...fields}. An event that cannot be
    // written is reported on stderr once; it never fails the operation that
    // already happened.
    void append(const std::string& event, nlohmann::json fields);

    std::string path() const { return home_.path() + "/events.jsonl"; }

  private:
    Home& home_;
    bool warned_ = false;
};

} // namespace loop
