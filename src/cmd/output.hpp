// Small helpers shared by the commands for printing.
#pragma once

#include "core/claims.hpp"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace loop::cmd {

// JSON shapes documented in loop(1): a claim holder and a session.
nlohmann::json claim_json(const std::string& name, Mode mode, const Holder& h);
nlohmann::json holder_json(const HolderView& v);
nlohmann::json session_json(const SessionRecord& s, const Verdict& v);

void print_json(const nlohmann::json& j);
void print_warnings(const std::vector<std::string>& warnings);

// Left-aligned columns separated by two spaces.
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

// The session named by --session or $LOOP_SESSION_ID, or "" for implicit.
std::string session_flag_or_env(const std::string& flag);

} // namespace loop::cmd
