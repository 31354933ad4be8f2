// Small helpers shared by the commands for printing.
#pragma once

#include "core/claims/claims.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace loop::cmd {

// JSON shapes documented in loop(1): a claim holder and a session.
nlohmann::json claim_json(const std::string& name, Mode mode, const Holder& h);
nlohmann::json holder_json(const HolderView& v);
nlohmann::json session_json(const SessionRecord& s, const Verdict& v);

void print_json(const nlohmann::json& j);
void print_warnings(const std::vector<std::string>& warnings);

// Colour only on a terminal and never with NO_COLOR.
bool use_colour();
// "yes" / "no" / "unknown", coloured when `colour`.
std::string alive_cell(Life l, bool colour);

// Left-aligned columns (ANSI colour codes do not count towards the width) separated by two spaces.
void print_table(const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows);

// While `claim --wait` waits on a terminal: one status line on stderr,
// rewritten in place (who holds it, for how long, how long we waited).
// Nothing when stderr is not a TTY. finish() clears the line.
class WaitStatusLine {
  public:
    WaitStatusLine();
    void update(const AcquireOutcome& out);
    void finish();
    std::function<void(const AcquireOutcome&)> callback();

  private:
    bool tty_ = false;
    bool shown_ = false;
    int64_t start_ms_ = 0;
};

// The session named by --session or $LOOP_SESSION_ID, or "" for implicit.
std::string session_flag_or_env(const std::string& flag);

} // namespace loop::cmd
