// The command line of a verb scripts run in loops (claim, unclaim, with),
// read without building the CLI11 tree: building it costs more than the
// rest of a file claim. Only a plain command line is read here; anything
// else (help, an unknown or repeated option, an empty value, a value that
// looks like an option, a name in CLI11's list syntax "[a,b]") is left to
// CLI11, so its errors and messages stay the only ones there are.
#pragma once

#include "cmd/cmd.hpp"

#include <string>
#include <vector>

namespace loop::cmd {

// One option a quick parse knows: exactly one of the targets is set.
struct QuickOption {
    const char* name;                           // "--wait"
    std::string* value = nullptr;               // takes one value, at most once
    std::vector<std::string>* values = nullptr; // takes one value, repeatable
    bool* flag = nullptr;                       // takes none, at most once
};

// Reads argv[1..end): the global options (--home, --backend, each at most
// once) before "_", then "_", then `verb`, then `options` and at least one
// positional. False, with nothing of `g` set, when the line is anything
// else; the positionals are appended to `positionals`.
bool quick_parse(int end, char** argv, const char* verb, const std::vector<QuickOption>& options,
                 Globals& g, std::vector<std::string>& positionals);

// "0" to "999999999", as CLI11 would read them (nothing octal, no sign).
bool quick_int(const std::string& text, int& out);

// The action of a script verb's plain command line, or an empty one (then
// CLI11 parses it). `end` is where "--" is, or argc.
Action quick_action(int end, char** argv, Globals& g);

// Per verb, in the verb's own file.
Action quick_claim(int end, char** argv, Globals& g);
Action quick_unclaim(int end, char** argv, Globals& g);
Action quick_with(int end, char** argv, Globals& g);

} // namespace loop::cmd
