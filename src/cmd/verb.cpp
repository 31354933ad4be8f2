#include "cmd/cmd.hpp"

#include <cstring>

namespace loop::cmd {

std::string find_verb(int argc, char** argv) {
    static const char* const known[] = {
        "claim", "unclaim",   "renew",  "with",   "owner",   "session", "claims", "sessions",
        "reap",  "supervise", "status", "events", "version", "metrics", "doctor", "completion"};
    bool after_underscore = false;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (std::strcmp(a, "--") == 0) break;
        if (std::strcmp(a, "--home") == 0) {
            ++i;
            continue;
        }
        if (a[0] == '-') {
            if (std::strncmp(a, "--home=", 7) == 0) continue;
            return ""; // --help, -h and anything unexpected: build everything
        }
        if (!after_underscore && std::strcmp(a, "_") == 0) {
            after_underscore = true;
            continue;
        }
        for (const char* k : known)
            if (std::strcmp(a, k) == 0) return a;
        return "";
    }
    return "";
}

std::string help_hint(const std::string& verb) {
    static const char* const underscore[] = {"claim", "unclaim", "renew",
                                             "with",  "owner",   "session"};
    if (verb.empty()) return "loop --help";
    for (const char* u : underscore)
        if (verb == u) return "loop _ " + verb + " --help";
    return "loop " + verb + " --help";
}

} // namespace loop::cmd
