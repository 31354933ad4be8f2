// JSON for files people write by hand: a syntax error names its line and
// column, and a duplicate key is an error rather than silently the last one.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace loop {

// Parses `text`; throws Error(Usage) naming `origin` and where it went wrong.
nlohmann::json parse_strict_json(const std::string& text, const std::string& origin);

} // namespace loop
