#include "core/supervisor/playbook.hpp"

#include "core/strict_json.hpp"
#include "core/supervisor/playbook_detail.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "os/path.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

namespace loop {

namespace {

using nlohmann::json;

constexpr size_t kMaxPlaybookBytes = 1 << 20;

// A JSON value as a message shows it: `"two"`, `-1`, `true`, `an array`.
std::string describe(const json& j) {
    if (j.is_object()) return "an object";
    if (j.is_array()) return "an array";
    if (j.is_string()) return "\"" + printable(j.get_ref<const std::string&>(), true) + "\"";
    return printable(j.dump(-1, ' ', false, json::error_handler_t::replace), true);
}

// "/a/./b/" -> "/a/b".
std::string normal_dir(const std::filesystem::path& p) {
    std::string out = p.lexically_normal().string();
    while (out.size() > 1 && out.back() == '/')
        out.pop_back();
    return out;
}

std::string join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
}

// Validation of one parsed document; every failure names the origin and
// the key path.
class Checker {
  public:
    Checker(std::string origin, std::string base_dir)
        : origin_(std::move(origin)), base_dir_(std::move(base_dir)) {}

    [[noreturn]] void fail(const std::string& path, const std::string& what) const {
        throw Error(Exit::Usage, origin_ + ": " + (path.empty() ? "" : path + ": ") + what);
    }

    void only_keys(const json& obj, const std::string& path,
                   std::initializer_list<const char*> allowed) const {
        for (const auto& item : obj.items()) {
            const std::string& key = item.key(); // a lambda cannot capture a binding in clang 14
            bool known = std::any_of(allowed.begin(), allowed.end(),
                                     [&](const char* a) { return key == a; });
            if (known) continue;
            std::string list;
            for (const char* a : allowed)
                list += std::string(list.empty() ? "" : ", ") + a;
            fail(join(path, printable(key, true)), "unknown key (expected one of: " + list + ")");
        }
    }

    const std::string& string(const json& j, const std::string& path, const char* what) const {
        if (!j.is_string()) fail(path, std::string("must be ") + what + ", got " + describe(j));
        const auto& s = j.get_ref<const std::string&>();
        if (s.find('\0') != std::string::npos) fail(path, "contains a NUL byte");
        return s;
    }

    // A finite duration in milliseconds, at least `min_ms`.
    int64_t duration(const json& j, const std::string& path, int64_t min_ms) const {
        const char* shape = "a duration string such as \"250ms\", \"10s\", \"5m\" or \"2h\"";
        if (!j.is_string()) fail(path, std::string("must be ") + shape + ", got " + describe(j));
        const auto& s = j.get_ref<const std::string&>();
        if (s == "inf" || s == "infinity") fail(path, "must be finite, got \"" + s + "\"");
        // A whole part of 12 digits or more is over 365d in any unit (and
        // could overflow when converted): refuse it without converting.
        size_t i = 0;
        while (i < s.size() && s[i] == '0')
            ++i;
        size_t digits = 0;
        while (i + digits < s.size() && s[i + digits] >= '0' && s[i + digits] <= '9')
            ++digits;
        auto ms =
            digits > 11 ? std::optional<int64_t>(kMaxPlaybookDurationMs + 1) : parse_duration(s);
        if (!ms || *ms < 0)
            fail(path, "bad duration \"" + printable(s, true) + "\": use " + shape +
                           " (a bare number is seconds)");
        if (*ms > kMaxPlaybookDurationMs)
            fail(path, "must be at most 365d, got \"" + printable(s, true) + "\"");
        if (*ms < min_ms) {
            if (min_ms == 1)
                fail(path, "must be greater than 0, got \"" + printable(s, true) + "\"");
            fail(path,
                 "must be at least " + format_age(min_ms) + ", got \"" + printable(s, true) + "\"");
        }
        return *ms;
    }

    Playbook playbook(const json& doc) const {
        if (!doc.is_object()) fail("", "must be a JSON object, got " + describe(doc));
        only_keys(doc, "",
                  {"reap_interval", "workers", "log_timestamps", "log_max_size", "log_keep"});
        Playbook pb;
        pb.path = origin_;
        pb.logs = log_settings(doc, "", LogSettings{}, fail_fn());
        if (auto it = doc.find("reap_interval"); it != doc.end())
            pb.reap_interval_ms = duration(*it, "reap_interval", kMinReapIntervalMs);
        auto ws = doc.find("workers");
        if (ws == doc.end())
            fail("workers", "missing: a playbook needs a \"workers\" object (it may be empty)");
        if (!ws->is_object()) fail("workers", "must be an object, got " + describe(*ws));
        for (const auto& [name, def] : ws->items())
            pb.workers.push_back(worker(name, def, pb.logs));
        std::sort(pb.workers.begin(), pb.workers.end(),
                  [](const WorkerSpec& a, const WorkerSpec& b) { return a.name < b.name; });
        return pb;
    }

  private:
    LogFail fail_fn() const {
        return [this](const std::string& path, const std::string& what) { fail(path, what); };
    }

    WorkerSpec worker(const std::string& name, const json& def, const LogSettings& logs) const {
        std::string path = "workers." + printable(name, true);
        if (auto p = worker_name_problem(name))
            fail(path, "bad worker name: " + *p +
                           ": use 1 to 64 characters of A-Z a-z 0-9 _ -, not starting with '-'");
        if (!def.is_object()) fail(path, "must be an object, got " + describe(def));
        only_keys(def, path,
                  {"run", "command", "replicas", "restart", "backoff", "env", "cwd", "stop_signal",
                   "stop_timeout", "log_timestamps", "log_max_size", "log_keep", "rollout"});
        WorkerSpec w;
        w.name = name;
        w.logs = log_settings(def, path, logs, fail_fn());

        auto run = def.find("run");
        auto command = def.find("command");
        if (run != def.end() && command != def.end())
            fail(path, "has both \"run\" and \"command\": give exactly one");
        if (run == def.end() && command == def.end())
            fail(path, "needs \"run\" (a shell command line) or \"command\" (an argv array)");
        if (run != def.end()) {
            w.run = string(*run, path + ".run", "a non-empty shell command line");
            if (w.run.find_first_not_of(" \t\r\n") == std::string::npos)
                fail(path + ".run",
                     "must be a non-empty shell command line, got " + describe(*run));
        } else {
            const std::string cpath = path + ".command";
            if (!command->is_array() || command->empty())
                fail(cpath, "must be a non-empty array of strings, got " + describe(*command));
            for (size_t i = 0; i < command->size(); ++i) {
                const std::string epath = cpath + "[" + std::to_string(i) + "]";
                const auto& arg = string((*command)[i], epath, "a string");
                if (arg.empty()) fail(epath, "must be a non-empty string");
                w.command.push_back(arg);
            }
        }

        if (auto it = def.find("replicas"); it != def.end()) {
            const std::string rpath = path + ".replicas";
            if (it->is_number_unsigned()) {
                auto n = it->get<uint64_t>();
                if (n > static_cast<uint64_t>(kMaxReplicas))
                    fail(rpath, "must be at most " + std::to_string(kMaxReplicas) + ", got " +
                                    describe(*it));
                w.replicas = static_cast<int>(n);
            } else {
                fail(rpath, "must be an integer >= 0, got " + describe(*it));
            }
        }

        if (auto it = def.find("restart"); it != def.end()) {
            const std::string rpath = path + ".restart";
            const char* expected = "must be \"always\", \"on-failure\" or \"never\", got ";
            if (!it->is_string()) fail(rpath, expected + describe(*it));
            const auto& s = it->get_ref<const std::string&>();
            if (s == "always") {
                w.restart = RestartPolicy::Always;
            } else if (s == "on-failure") {
                w.restart = RestartPolicy::OnFailure;
            } else if (s == "never") {
                w.restart = RestartPolicy::Never;
            } else {
                fail(rpath, expected + describe(*it));
            }
        }

        if (auto it = def.find("backoff"); it != def.end()) {
            const std::string bpath = path + ".backoff";
            if (!it->is_object()) fail(bpath, "must be an object, got " + describe(*it));
            only_keys(*it, bpath, {"initial", "max", "reset_after"});
            // Floors: a crash loop restarts a replica at most every
            // initial, and soon every max; a run counts as good only after
            // reset_after.
            if (auto v = it->find("initial"); v != it->end())
                w.backoff.initial_ms = duration(*v, bpath + ".initial", kMinBackoffInitialMs);
            if (auto v = it->find("max"); v != it->end())
                w.backoff.max_ms = duration(*v, bpath + ".max", kMinBackoffMaxMs);
            if (auto v = it->find("reset_after"); v != it->end())
                w.backoff.reset_after_ms =
                    duration(*v, bpath + ".reset_after", kMinBackoffResetAfterMs);
            if (w.backoff.initial_ms > w.backoff.max_ms)
                fail(bpath + ".initial", format_age(w.backoff.initial_ms) +
                                             " is greater than max (" +
                                             format_age(w.backoff.max_ms) + ")");
        }

        if (auto it = def.find("env"); it != def.end()) {
            const std::string epath = path + ".env";
            if (!it->is_object()) fail(epath, "must be an object of strings, got " + describe(*it));
            for (const auto& [key, value] : it->items()) {
                const std::string kpath = epath + "." + printable(key, true);
                if (!valid_env_name(key))
                    fail(kpath,
                         "not a valid environment variable name: use [A-Za-z_][A-Za-z0-9_]*");
                if (key == "LOOP_SESSION_ID" || key == "LOOP_HOME" || key == "LOOP_WORKER" ||
                    key == "LOOP_REPLICA")
                    fail(kpath, "is set by the supervisor for every worker and cannot be given");
                w.env[key] = string(value, kpath, "a string");
            }
        }

        w.cwd = base_dir_.empty() ? "" : normal_dir(base_dir_);
        if (auto it = def.find("cwd"); it != def.end())
            w.cwd = directory(string(*it, path + ".cwd", "a directory path"), path + ".cwd");

        if (auto it = def.find("stop_signal"); it != def.end()) {
            std::optional<int> sig;
            if (it->is_number_unsigned()) {
                auto n = it->get<uint64_t>();
                if (n >= 1 && n <= 64) sig = static_cast<int>(n);
            } else if (it->is_string()) {
                sig = parse_signal(it->get_ref<const std::string&>());
            }
            if (!sig)
                fail(path + ".stop_signal", "must be TERM, INT, HUP, QUIT, KILL, USR1, USR2 or a "
                                            "signal number from 1 to 64, got " +
                                                describe(*it));
            w.stop_signal = *sig;
        }
        if (auto it = def.find("stop_timeout"); it != def.end())
            w.stop_timeout_ms = duration(*it, path + ".stop_timeout", 0);
        if (auto it = def.find("rollout"); it != def.end()) {
            const std::string r =
                string(*it, path + ".rollout", "\"one-by-one\" or \"all-at-once\"");
            if (r == "one-by-one") {
                w.rollout = Rollout::OneByOne;
            } else if (r == "all-at-once") {
                w.rollout = Rollout::AllAtOnce;
            } else {
                fail(path + ".rollout",
                     "must be \"one-by-one\" or \"all-at-once\", got " + describe(*it));
            }
        }
        return w;
    }

    static bool valid_env_name(const std::string& k) {
        if (k.empty()) return false;
        for (size_t i = 0; i < k.size(); ++i) {
            char c = k[i];
            bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
                      (i > 0 && c >= '0' && c <= '9');
            if (!ok) return false;
        }
        return true;
    }

    // Resolves `dir` against the playbook's directory and checks that it is
    // a directory now.
    std::string directory(const std::string& dir, const std::string& path) const {
        if (dir.empty()) fail(path, "must be a non-empty directory path");
        std::filesystem::path p(dir);
        if (p.is_relative() && !base_dir_.empty()) p = std::filesystem::path(base_dir_) / p;
        std::string out = normal_dir(p);
        int err = 0;
        if (os::is_directory(out, &err)) return out;
        if (err == ENOENT)
            fail(path, "directory \"" + printable(dir, true) + "\" does not exist (" +
                           printable(out, true) + ")");
        if (err != 0)
            fail(path, "cannot use \"" + printable(out, true) + "\": " + std::strerror(err));
        fail(path, "\"" + printable(out, true) + "\" is not a directory");
    }

    std::string origin_;
    std::string base_dir_;
};

} // namespace

std::vector<std::string> WorkerSpec::argv() const {
    if (!command.empty()) return command;
    return {"/bin/sh", "-c", run};
}

bool WorkerSpec::same_process(const WorkerSpec& o) const {
    return name == o.name && run == o.run && command == o.command && env == o.env && cwd == o.cwd;
}

bool WorkerSpec::same_definition(const WorkerSpec& o) const {
    return name == o.name && run == o.run && command == o.command && restart == o.restart &&
           backoff == o.backoff && env == o.env && cwd == o.cwd && stop_signal == o.stop_signal &&
           stop_timeout_ms == o.stop_timeout_ms && logs == o.logs && rollout == o.rollout;
}

const char* rollout_name(Rollout r) {
    return r == Rollout::AllAtOnce ? "all-at-once" : "one-by-one";
}

const WorkerSpec* Playbook::find(const std::string& name) const {
    auto it =
        std::lower_bound(workers.begin(), workers.end(), name,
                         [](const WorkerSpec& w, const std::string& n) { return w.name < n; });
    if (it == workers.end() || it->name != name) return nullptr;
    return &*it;
}

Playbook parse_playbook(const std::string& text, const std::string& origin,
                        const std::string& base_dir) {
    return Checker(origin, base_dir).playbook(parse_strict_json(text, origin));
}

Playbook load_playbook(const std::string& path) {
    int err = 0;
    std::optional<std::string> contents = os::read_whole_file(path, &err, kMaxPlaybookBytes);
    if (err == os::kIsDirectory)
        throw Error(Exit::Usage, path + ": is a directory, not a playbook");
    if (err == os::kNotRegularFile) throw Error(Exit::Usage, path + ": is not a regular file");
    if (err == os::kLargerThanMax)
        throw Error(Exit::Usage, path + ": is larger than 1 MiB; is it really a playbook?");
    if (!contents)
        throw Error(Exit::Usage, path + ": cannot read the playbook: " + std::strerror(err));
    const std::string& text = *contents;

    std::error_code ec;
    std::filesystem::path abs = std::filesystem::absolute(path, ec);
    if (ec) throw Error(Exit::Usage, path + ": cannot resolve the path: " + ec.message());
    abs = abs.lexically_normal();
    Playbook pb = parse_playbook(text, path, abs.parent_path().string());
    pb.path = abs.string();
    return pb;
}

} // namespace loop
