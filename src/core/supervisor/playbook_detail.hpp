// Parts of the playbook checker kept in their own files.
#pragma once

#include "core/supervisor/playbook.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace loop {

// Refuses (throws) with the key path and what is wrong.
using LogFail = std::function<void(const std::string& path, const std::string& what)>;

// The log_timestamps, log_max_size and log_keep keys of `obj` (the
// document or a worker at `path`, "" for the top level), over `defaults`.
LogSettings log_settings(const nlohmann::json& obj, const std::string& path,
                         const LogSettings& defaults, const LogFail& fail);

} // namespace loop
