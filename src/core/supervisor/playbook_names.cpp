// The names a playbook uses: restart policies, stop signals, worker names.
#include "core/supervisor/playbook.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <string>

namespace loop {

namespace {

struct SignalName {
    const char* name;
    int number;
};
constexpr SignalName kSignals[] = {{"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT},
                                   {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
                                   {"TERM", SIGTERM}};

} // namespace

const char* restart_policy_name(RestartPolicy p) {
    switch (p) {
    case RestartPolicy::Always:
        return "always";
    case RestartPolicy::OnFailure:
        return "on-failure";
    case RestartPolicy::Never:
        return "never";
    }
    return "always";
}

std::optional<int> parse_signal(const std::string& text) {
    if (text.empty()) return std::nullopt;
    if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        if (text.size() > 2) return std::nullopt;
        int n = std::stoi(text);
        if (n < 1 || n > 64) return std::nullopt;
        return n;
    }
    std::string up;
    for (char c : text)
        up += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    if (up.rfind("SIG", 0) == 0) up.erase(0, 3);
    for (const auto& s : kSignals)
        if (up == s.name) return s.number;
    return std::nullopt;
}

std::string signal_name(int sig) {
    for (const auto& s : kSignals)
        if (s.number == sig) return s.name;
    return std::to_string(sig);
}

std::optional<std::string> worker_name_problem(std::string_view name) {
    if (name.empty()) return "is empty";
    if (name.size() > 64) return "is longer than 64 bytes";
    if (name[0] == '-') return "starts with '-'";
    for (unsigned char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
        if (!ok) {
            char buf[48];
            if (c < 0x20 || c >= 0x7f)
                std::snprintf(buf, sizeof buf, "contains the byte 0x%02x", c);
            else
                std::snprintf(buf, sizeof buf, "contains '%c'", c);
            return std::string(buf);
        }
    }
    return std::nullopt;
}

} // namespace loop
