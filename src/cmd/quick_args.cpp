#include "cmd/quick_args.hpp"

#include <cstring>

namespace loop::cmd {

namespace {

// Whether argv[i] names option `name` ("--name=V" or "--name V"; *matched),
// and its value if that is usable: neither empty nor like an option.
bool option_value(int& i, int end, char** argv, const char* name, bool& matched,
                  std::string& value) {
    const char* a = argv[i];
    const size_t n = std::strlen(name);
    matched = std::strncmp(a, name, n) == 0 && (a[n] == '=' || a[n] == '\0');
    if (!matched) return false;
    if (a[n] == '=')
        value = a + n + 1;
    else if (i + 1 < end)
        value = argv[++i];
    else
        return false;
    return !value.empty() && value[0] != '-';
}

// One of `options` at argv[i]: 1 read, 0 not one of them, -1 unusable.
int take_option(int& i, int end, char** argv, const std::vector<QuickOption>& options,
                std::vector<bool>& seen) {
    for (size_t k = 0; k < options.size(); ++k) {
        const QuickOption& o = options[k];
        if (o.flag) {
            if (std::strcmp(argv[i], o.name) != 0) continue;
            if (seen[k]) return -1;
            seen[k] = true;
            *o.flag = true;
            return 1;
        }
        bool matched = false;
        std::string value;
        bool usable = option_value(i, end, argv, o.name, matched, value);
        if (!matched) continue;
        if (!usable || (o.value && seen[k])) return -1;
        seen[k] = true;
        if (o.value)
            *o.value = std::move(value);
        else
            o.values->push_back(std::move(value));
        return 1;
    }
    return 0;
}

} // namespace

bool quick_parse(int end, char** argv, const char* verb, const std::vector<QuickOption>& options,
                 Globals& g, std::vector<std::string>& positionals) {
    std::string home, backend;
    bool has_home = false, has_backend = false;
    int i = 1;
    for (; i < end && argv[i][0] == '-'; ++i) {
        bool matched = false;
        if (option_value(i, end, argv, "--home", matched, home) && !has_home) {
            has_home = true;
            continue;
        }
        if (matched) return false;
        if (option_value(i, end, argv, "--backend", matched, backend) && !has_backend) {
            has_backend = true;
            continue;
        }
        return false;
    }
    if (i + 1 >= end || std::strcmp(argv[i], "_") != 0 || std::strcmp(argv[i + 1], verb) != 0)
        return false;
    std::vector<bool> seen(options.size(), false);
    std::vector<std::string> found;
    for (i += 2; i < end; ++i) {
        // CLI11 splits "[a,b]" into names: such a word is not plain.
        if (argv[i][0] != '-' && argv[i][0] != '[') {
            found.emplace_back(argv[i]);
            continue;
        }
        if (take_option(i, end, argv, options, seen) != 1) return false;
    }
    if (found.empty()) return false;
    g.home = std::move(home);
    g.backend = std::move(backend);
    for (auto& f : found)
        positionals.push_back(std::move(f));
    return true;
}

bool quick_int(const std::string& text, int& out) {
    if (text.empty() || text.size() > 9 || (text[0] == '0' && text.size() > 1)) return false;
    int v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    return true;
}

Action quick_action(int end, char** argv, Globals& g) {
    if (g.verb == "claim") return quick_claim(end, argv, g);
    if (g.verb == "unclaim") return quick_unclaim(end, argv, g);
    if (g.verb == "with") return quick_with(end, argv, g);
    return {};
}

} // namespace loop::cmd
