#include "cmd/cmd.hpp"

#include "core/error.hpp"
#include "core/home.hpp"
#include "store/redis/backend_url.hpp"

#include <cstdlib>
#include <cstring>

namespace loop::cmd {

std::string find_verb(int argc, char** argv) {
    static const char* const known[] = {
        "claim",  "unclaim",    "renew",  "with",   "owner",   "session", "claims", "sessions",
        "reap",   "supervise",  "status", "events", "version", "metrics", "doctor", "completion",
        "keeper", "log-writer", "logs",   "reload", "restart", "stop",    "start"};
    bool after_underscore = false;
    for (int i = 1; i < argc; ++i) {
        const char* a = argv[i];
        if (std::strcmp(a, "--") == 0) break;
        if (std::strcmp(a, "--home") == 0 || std::strcmp(a, "--backend") == 0) {
            ++i;
            continue;
        }
        if (a[0] == '-') {
            if (std::strncmp(a, "--home=", 7) == 0 || std::strncmp(a, "--backend=", 10) == 0)
                continue;
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

bool is_script_verb(const std::string& verb) {
    return verb == "claim" || verb == "unclaim" || verb == "renew" || verb == "owner";
}

std::string help_hint(const std::string& verb) {
    static const char* const underscore[] = {"claim", "unclaim", "renew",
                                             "with",  "owner",   "session"};
    if (verb.empty()) return "loop --help";
    for (const char* u : underscore)
        if (verb == u) return "loop _ " + verb + " --help";
    return "loop " + verb + " --help";
}

std::unique_ptr<Backend> backend_of(const Globals& g) {
    return open_backend(g.home, g.backend);
}

void require_file_backend(const Globals& g, const char* verb) {
    std::string text = chosen_backend(Home::resolve(g.home), g.backend);
    if (text.empty()) return;
    redis::BackendUrl url = redis::parse_backend_url(text);
    if (url.kind != redis::BackendKind::File)
        throw Error(Exit::Usage, std::string(verb) + " does not run on the redis backend yet (" +
                                     url.redacted() + "); use the file backend (--backend file)");
}

} // namespace loop::cmd
