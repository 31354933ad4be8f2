#include "core/error.hpp"
#include "core/supervisor/playbook.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace loop;
namespace fs = std::filesystem;

namespace {

// A temporary directory, removed with everything in it at scope exit.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "loop-playbook-test.XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    fs::path write(const std::string& name, const std::string& text) const {
        fs::path p = path / name;
        std::ofstream(p) << text;
        return p;
    }
};

const char* kOrigin = "playbooks/test.json";

// The error parsing `text` raises; fails the test when there is none.
Error parse_error(const std::string& text, const std::string& base = "/") {
    try {
        parse_playbook(text, kOrigin, base);
    } catch (const Error& e) {
        return e;
    } catch (const std::exception& e) {
        FAIL("not a loop::Error: " << e.what());
    }
    FAIL("accepted: " << text);
    return Error(Exit::Ok, "");
}

// Refused as usage, naming the file and then `key_path` ("" = none).
void check_refused(const std::string& text, const std::string& key_path,
                   const std::string& what = "", const std::string& base = "/") {
    Error e = parse_error(text, base);
    INFO("message: " << e.message());
    CHECK(e.code() == Exit::Usage);
    std::string prefix = std::string(kOrigin) + ": " + (key_path.empty() ? "" : key_path + ": ");
    CHECK(e.message().rfind(prefix, 0) == 0);
    if (!what.empty()) CHECK(e.message().find(what) != std::string::npos);
}

// A playbook with one worker "w" whose definition has `extra` keys after run.
std::string one_worker(const std::string& extra) {
    return R"({"workers": {"w": {"run": "true")" + std::string(extra.empty() ? "" : ", ") + extra +
           "}}}";
}

fs::path shipped_dir() {
    return fs::path(LOOP_SOURCE_DIR) / "playbooks";
}

} // namespace

TEST_CASE("playbook: unknown key at the top level") {
    check_refused(R"({"workers": {}, "reap_intervall": "5s"})", "reap_intervall", "unknown key");
}

TEST_CASE("playbook: unknown key in a worker and in its backoff") {
    check_refused(one_worker(R"("replica": 2)"), "workers.w.replica", "unknown key");
    check_refused(one_worker(R"("backoff": {"initial": "1s", "maximum": "2s"})"),
                  "workers.w.backoff.maximum", "unknown key");
}

TEST_CASE("playbook: wrong types") {
    check_refused(R"({"workers": []})", "workers", "must be an object");
    check_refused(R"({"workers": {"w": "true"}})", "workers.w", "must be an object");
    check_refused(R"({"workers": {"w": {"run": 5}}})", "workers.w.run", "got 5");
    check_refused(one_worker(R"("replicas": "2")"), "workers.w.replicas", "got \"2\"");
    check_refused(one_worker(R"("replicas": 1.5)"), "workers.w.replicas", "integer");
    check_refused(one_worker(R"("replicas": true)"), "workers.w.replicas", "integer");
    check_refused(one_worker(R"("env": {"A": 1})"), "workers.w.env.A", "must be a string");
    check_refused(one_worker(R"("env": ["A=1"])"), "workers.w.env", "must be an object");
    check_refused(one_worker(R"("backoff": "1s")"), "workers.w.backoff", "must be an object");
    check_refused(one_worker(R"("cwd": 7)"), "workers.w.cwd");
    check_refused(one_worker(R"("stop_timeout": 10)"), "workers.w.stop_timeout", "duration");
    check_refused(R"({"workers": {"w": {"command": "true"}}})", "workers.w.command", "array");
    check_refused(R"({"workers": {"w": {"command": ["sh", 1]}}})", "workers.w.command[1]");
}

TEST_CASE("playbook: bad durations") {
    check_refused(R"({"reap_interval": "soon", "workers": {}})", "reap_interval",
                  "bad duration \"soon\"");
    check_refused(R"({"reap_interval": "inf", "workers": {}})", "reap_interval", "finite");
    check_refused(R"({"reap_interval": "10ms", "workers": {}})", "reap_interval", "at least");
    check_refused(one_worker(R"("stop_timeout": "-1s")"), "workers.w.stop_timeout", "bad duration");
    check_refused(one_worker(R"("stop_timeout": "99999999999999999d")"), "workers.w.stop_timeout",
                  "at most");
    check_refused(one_worker(R"("stop_timeout": "366d")"), "workers.w.stop_timeout", "at most");
    check_refused(one_worker(R"("stop_timeout": "31536000001ms")"), "workers.w.stop_timeout",
                  "at most");
    CHECK(parse_playbook(one_worker(R"("stop_timeout": "123456789ms")"), kOrigin, "/")
              .workers[0]
              .stop_timeout_ms == 123456789);
    CHECK(parse_playbook(one_worker(R"("stop_timeout": "365d")"), kOrigin, "/")
              .workers[0]
              .stop_timeout_ms == 365LL * 86'400'000);
    check_refused(one_worker(R"("backoff": {"initial": "0"})"), "workers.w.backoff.initial",
                  "at least 10ms");
    check_refused(one_worker(R"("backoff": {"max": "inf"})"), "workers.w.backoff.max", "finite");
    check_refused(one_worker(R"("backoff": {"reset_after": "0s"})"),
                  "workers.w.backoff.reset_after", "at least 1s");
    check_refused(one_worker(R"("backoff": {"initial": "5s", "max": "1s"})"),
                  "workers.w.backoff.initial", "greater than max");
}

TEST_CASE("playbook: replicas must be an integer >= 0") {
    check_refused(one_worker(R"("replicas": -1)"), "workers.w.replicas",
                  "must be an integer >= 0, got -1");
    check_refused(one_worker(R"("replicas": 100000)"), "workers.w.replicas", "at most 1000");
    CHECK(parse_playbook(one_worker(R"("replicas": 0)"), kOrigin, "/").workers[0].replicas == 0);
}

TEST_CASE("playbook: run must not be empty") {
    check_refused(R"({"workers": {"w": {"run": ""}}})", "workers.w.run", "non-empty");
    check_refused(R"({"workers": {"w": {"run": "  \n"}}})", "workers.w.run", "non-empty");
    check_refused(R"({"workers": {"w": {"command": []}}})", "workers.w.command", "non-empty");
    check_refused(R"({"workers": {"w": {"command": ["sh", ""]}}})", "workers.w.command[1]",
                  "non-empty");
}

TEST_CASE("playbook: run and command together") {
    check_refused(R"({"workers": {"w": {"run": "true", "command": ["true"]}}})", "workers.w",
                  "exactly one");
}

TEST_CASE("playbook: neither run nor command") {
    check_refused(R"({"workers": {"w": {"replicas": 1}}})", "workers.w", "\"run\"");
}

TEST_CASE("playbook: bad restart value") {
    check_refused(one_worker(R"("restart": "sometimes")"), "workers.w.restart", "\"sometimes\"");
    check_refused(one_worker(R"("restart": "Always")"), "workers.w.restart", "on-failure");
}

TEST_CASE("playbook: bad stop signal") {
    check_refused(one_worker(R"("stop_signal": "TERMINATE")"), "workers.w.stop_signal",
                  "\"TERMINATE\"");
    check_refused(one_worker(R"("stop_signal": 0)"), "workers.w.stop_signal", "got 0");
    check_refused(one_worker(R"("stop_signal": "65")"), "workers.w.stop_signal", "1 to 64");
    check_refused(one_worker(R"("stop_signal": -15)"), "workers.w.stop_signal");
}

TEST_CASE("playbook: bad env key") {
    check_refused(one_worker(R"("env": {"1X": "a"})"), "workers.w.env.1X", "environment");
    check_refused(one_worker(R"("env": {"A-B": "a"})"), "workers.w.env.A-B", "environment");
    check_refused(one_worker(R"("env": {"": "a"})"), "workers.w.env.", "environment");
    check_refused(one_worker(R"("env": {"LOOP_SESSION_ID": "x"})"), "workers.w.env.LOOP_SESSION_ID",
                  "supervisor");
    check_refused(one_worker(R"("env": {"A": "a\u0000b"})"), "workers.w.env.A", "NUL");
}

TEST_CASE("playbook: cwd must be an existing directory") {
    TempDir dir;
    dir.write("file", "x");
    const std::string base = dir.path.string();
    check_refused(one_worker(R"("cwd": "missing")"), "workers.w.cwd", "does not exist", base);
    check_refused(one_worker(R"("cwd": "file")"), "workers.w.cwd", "not a directory", base);
    check_refused(one_worker(R"("cwd": "")"), "workers.w.cwd", "non-empty", base);

    fs::create_directory(dir.path / "sub");
    Playbook pb = parse_playbook(one_worker(R"("cwd": "sub/")"), kOrigin, base);
    CHECK(pb.workers[0].cwd == (dir.path / "sub").string());
    pb = parse_playbook(one_worker(R"("cwd": ".")"), kOrigin, base + "/");
    CHECK(pb.workers[0].cwd == base);
    pb = parse_playbook(one_worker(R"("cwd": ")" + (dir.path / "sub").string() + "\""), kOrigin,
                        "/nonexistent");
    CHECK(pb.workers[0].cwd == (dir.path / "sub").string());
}

TEST_CASE("playbook: bad worker names") {
    check_refused(R"({"workers": {"a.b": {"run": "true"}}})", "workers.a.b", "contains '.'");
    check_refused(R"({"workers": {"": {"run": "true"}}})", "workers.", "is empty");
    check_refused(R"({"workers": {"-w": {"run": "true"}}})", "workers.-w", "starts with '-'");
    check_refused(R"({"workers": {"a b": {"run": "true"}}})", "workers.a b", "contains ' '");
    check_refused(R"({"workers": {"a/b": {"run": "true"}}})", "workers.a/b", "contains '/'");
    check_refused("{\"workers\": {\"" + std::string(65, 'x') + "\": {\"run\": \"true\"}}}",
                  "workers." + std::string(60, 'x') + "...", "longer than 64");
    CHECK_FALSE(worker_name_problem("Index_er-2"));
    CHECK_FALSE(worker_name_problem(std::string(64, 'x')));
}

TEST_CASE("playbook: invalid JSON names the line and byte") {
    Error e = parse_error("{\n  \"workers\": {\n    \"w\": {\"run\": tru}\n  }\n}\n");
    INFO(e.message());
    CHECK(e.code() == Exit::Usage);
    CHECK(e.message().rfind(std::string(kOrigin) + ": invalid JSON at line 3", 0) == 0);
    CHECK(e.message().find("line 3, column 21 (byte 38): unexpected '}'") != std::string::npos);

    Error end = parse_error("{\"workers\": {");
    CHECK(end.code() == Exit::Usage);
    CHECK(end.message().find("end of input") != std::string::npos);

    Error trailing = parse_error("{\"workers\": {}} x");
    CHECK(trailing.code() == Exit::Usage);
    CHECK(trailing.message().find("line 1, column 17") != std::string::npos);

    Error huge = parse_error("{\"workers\": {\"w\": {\"run\": \"x\", \"replicas\": 1e999}}}");
    CHECK(huge.code() == Exit::Usage);
    CHECK(huge.message().find("number out of range") != std::string::npos);

    Error empty = parse_error("");
    CHECK(empty.code() == Exit::Usage);
    CHECK(empty.message().find("invalid JSON") != std::string::npos);
}

TEST_CASE("playbook: duplicate keys are refused") {
    check_refused(R"({"workers": {"w": {"run": "a", "replicas": 1, "replicas": 2}}})",
                  "workers.w.replicas", "duplicate key");
    check_refused(R"({"workers": {"w": {"run": "a"}}, "workers": {}})", "workers", "duplicate key");
}

TEST_CASE("playbook: the document must be an object with workers") {
    check_refused("[]", "", "must be a JSON object, got an array");
    check_refused("\"workers\"", "", "must be a JSON object");
    check_refused("{}", "workers", "missing");
}

TEST_CASE("playbook: defaults") {
    Playbook pb = parse_playbook(R"({"workers": {"w": {"run": "echo hi"}}})", kOrigin, "/srv/pb/");
    CHECK(pb.path == kOrigin);
    CHECK(pb.reap_interval_ms == 30'000);
    REQUIRE(pb.workers.size() == 1);
    const WorkerSpec& w = pb.workers[0];
    CHECK(w.name == "w");
    CHECK(w.replicas == 1);
    CHECK(w.restart == RestartPolicy::Always);
    CHECK(w.backoff.initial_ms == 100);
    CHECK(w.backoff.max_ms == 30'000);
    CHECK(w.backoff.reset_after_ms == 60'000);
    CHECK(w.env.empty());
    CHECK(w.cwd == "/srv/pb");
    CHECK(w.stop_signal == SIGTERM);
    CHECK(w.stop_timeout_ms == 10'000);

    Playbook none = parse_playbook(R"({"workers": {}})", kOrigin, "/");
    CHECK(none.workers.empty());
}

TEST_CASE("playbook: every key read") {
    TempDir dir;
    fs::create_directory(dir.path / "work");
    Playbook pb = parse_playbook(R"({
      "reap_interval": "1.5s",
      "workers": {
        "zeta": {"command": ["/bin/echo", "a b"], "replicas": 0, "restart": "never",
                 "stop_signal": 9, "stop_timeout": "0"},
        "alpha": {"run": "x", "replicas": 3, "restart": "on-failure",
                  "backoff": {"initial": "250ms", "max": "2m", "reset_after": "1h"},
                  "env": {"QUEUE": "main", "_x9": ""}, "cwd": "work",
                  "stop_signal": "SIGINT", "stop_timeout": "1m"}
      }})",
                                 kOrigin, dir.path.string());
    CHECK(pb.reap_interval_ms == 1500);
    REQUIRE(pb.workers.size() == 2);
    CHECK(pb.workers[0].name == "alpha"); // sorted by name
    CHECK(pb.workers[1].name == "zeta");
    const WorkerSpec& a = pb.workers[0];
    CHECK(a.replicas == 3);
    CHECK(a.restart == RestartPolicy::OnFailure);
    CHECK(a.backoff == Backoff{250, 120'000, 3'600'000});
    CHECK(a.env == std::map<std::string, std::string>{{"QUEUE", "main"}, {"_x9", ""}});
    CHECK(a.cwd == (dir.path / "work").string());
    CHECK(a.stop_signal == SIGINT);
    CHECK(a.stop_timeout_ms == 60'000);
    const WorkerSpec& z = pb.workers[1];
    CHECK(z.replicas == 0);
    CHECK(z.restart == RestartPolicy::Never);
    CHECK(z.stop_signal == SIGKILL);
    CHECK(z.stop_timeout_ms == 0);

    REQUIRE(pb.find("alpha") == &pb.workers[0]);
    REQUIRE(pb.find("zeta") == &pb.workers[1]);
    CHECK(pb.find("beta") == nullptr);
    CHECK(pb.find("") == nullptr);
}

TEST_CASE("playbook: argv") {
    Playbook pb = parse_playbook(
        R"({"workers": {"a": {"run": "echo $HOME"}, "b": {"command": ["/bin/echo", "$HOME"]}}})",
        kOrigin, "/");
    CHECK(pb.workers[0].argv() == std::vector<std::string>{"/bin/sh", "-c", "echo $HOME"});
    CHECK(pb.workers[1].argv() == std::vector<std::string>{"/bin/echo", "$HOME"});
}

TEST_CASE("playbook: backoff settings have floors, so that a crash loop cannot spin") {
    // reset_after 1ms made every run "good" and every restart immediate.
    check_refused(one_worker(R"("backoff": {"reset_after": "1ms"})"),
                  "workers.w.backoff.reset_after", "at least 1s");
    check_refused(one_worker(R"("backoff": {"reset_after": "999ms"})"),
                  "workers.w.backoff.reset_after", "at least 1s");
    check_refused(one_worker(R"("backoff": {"initial": "1ms"})"), "workers.w.backoff.initial",
                  "at least 10ms");
    check_refused(one_worker(R"("backoff": {"initial": "10ms", "max": "20ms"})"),
                  "workers.w.backoff.max", "at least 1s");
    // The floors themselves are accepted.
    Backoff b = parse_playbook(one_worker(R"("backoff": {"initial": "10ms", "max": "1s",
                                                          "reset_after": "1s"})"),
                               kOrigin, "/")
                    .workers.at(0)
                    .backoff;
    CHECK(b.initial_ms == kMinBackoffInitialMs);
    CHECK(b.max_ms == kMinBackoffMaxMs);
    CHECK(b.reset_after_ms == kMinBackoffResetAfterMs);
    CHECK(kMinBackoffInitialMs == 10);
    CHECK(kMinBackoffMaxMs == 1000);
    CHECK(kMinBackoffResetAfterMs == 1000);
}

TEST_CASE("playbook: same_process: what a reload applies without a restart") {
    auto worker = [](const std::string& extra) {
        return parse_playbook(one_worker(extra), kOrigin, "/").workers.at(0);
    };
    WorkerSpec base = worker(R"("replicas": 1)");
    CHECK(base.same_process(worker(R"("backoff": {"max": "1m"})")));
    CHECK(base.same_process(worker(R"("stop_signal": "INT", "stop_timeout": "1s")")));
    CHECK(base.same_process(worker(R"("restart": "never", "replicas": 3)")));
    CHECK_FALSE(base.same_process(worker(R"("env": {"A": "1"})")));
    CHECK_FALSE(base.same_process(worker(R"("cwd": "/tmp")")));
    WorkerSpec other = base;
    other.run = "false";
    CHECK_FALSE(base.same_process(other));
}

TEST_CASE("playbook: same_definition ignores replicas only") {
    auto worker = [](const std::string& extra) {
        return parse_playbook(one_worker(extra), kOrigin, "/").workers.at(0);
    };
    WorkerSpec base = worker(R"("replicas": 1)");
    CHECK(base.same_definition(worker(R"("replicas": 5)")));
    CHECK(base.same_definition(worker(R"("restart": "always", "stop_timeout": "10s")")));
    CHECK_FALSE(base.same_definition(worker(R"("restart": "never")")));
    CHECK_FALSE(base.same_definition(worker(R"("env": {"A": "1"})")));
    CHECK_FALSE(base.same_definition(worker(R"("backoff": {"max": "1m"})")));
    CHECK_FALSE(base.same_definition(worker(R"("stop_signal": "INT")")));
    CHECK_FALSE(base.same_definition(worker(R"("stop_timeout": "1s")")));
    CHECK_FALSE(base.same_definition(worker(R"("cwd": "/tmp")")));
    WorkerSpec other = base;
    other.run = "false";
    CHECK_FALSE(base.same_definition(other));
    other = base;
    other.run.clear();
    other.command = {"true"};
    CHECK_FALSE(base.same_definition(other));
    other = base;
    other.name = "v";
    CHECK_FALSE(base.same_definition(other));
}

TEST_CASE("playbook: signals") {
    CHECK(parse_signal("TERM") == SIGTERM);
    CHECK(parse_signal("SIGTERM") == SIGTERM);
    CHECK(parse_signal("term") == SIGTERM);
    CHECK(parse_signal("15") == 15);
    CHECK(parse_signal("HUP") == SIGHUP);
    CHECK(parse_signal("INT") == SIGINT);
    CHECK(parse_signal("KILL") == SIGKILL);
    CHECK(parse_signal("QUIT") == SIGQUIT);
    CHECK(parse_signal("USR1") == SIGUSR1);
    CHECK(parse_signal("SIGUSR2") == SIGUSR2);
    CHECK(parse_signal("64") == 64);
    CHECK_FALSE(parse_signal("0"));
    CHECK_FALSE(parse_signal("65"));
    CHECK_FALSE(parse_signal("015x"));
    CHECK_FALSE(parse_signal(""));
    CHECK_FALSE(parse_signal("SIG"));
    CHECK_FALSE(parse_signal("99999999999999999999"));
    CHECK(signal_name(SIGTERM) == "TERM");
    CHECK(signal_name(SIGKILL) == "KILL");
    CHECK(signal_name(40) == "40");
    CHECK(std::string(restart_policy_name(RestartPolicy::OnFailure)) == "on-failure");
    CHECK(std::string(restart_policy_name(RestartPolicy::Always)) == "always");
    CHECK(std::string(restart_policy_name(RestartPolicy::Never)) == "never");
}

TEST_CASE("playbook: load_playbook reads a file and resolves cwd against its directory") {
    TempDir dir;
    fs::create_directory(dir.path / "scripts");
    fs::path file = dir.write("p.json", R"({"workers": {"w": {"run": "x", "cwd": "scripts"}}})");
    Playbook pb = load_playbook(file.string());
    CHECK(pb.path == file.string());
    CHECK(pb.workers.at(0).cwd == (dir.path / "scripts").string());

    fs::path bad = dir.write("bad.json", R"({"workers": {"w": {"run": "x", "replicas": -1}}})");
    try {
        load_playbook(bad.string());
        FAIL("accepted");
    } catch (const Error& e) {
        CHECK(e.code() == Exit::Usage);
        CHECK(e.message() ==
              bad.string() + ": workers.w.replicas: must be an integer >= 0, got -1");
    }
    for (const fs::path& p : {dir.path / "missing.json", dir.path / "scripts"}) {
        try {
            load_playbook(p.string());
            FAIL("accepted " << p);
        } catch (const Error& e) {
            INFO(e.message());
            CHECK(e.code() == Exit::Usage);
            CHECK(e.message().rfind(p.string() + ": ", 0) == 0);
        }
    }
}

TEST_CASE("playbook: the shipped playbooks load") {
    int count = 0, scripts = 0;
    for (const auto& entry : fs::directory_iterator(shipped_dir())) {
        if (entry.path().extension() != ".json") continue;
        INFO(entry.path());
        ++count;
        Playbook pb;
        try {
            pb = load_playbook(entry.path().string());
        } catch (const Error& e) {
            FAIL(e.message());
        }
        CHECK_FALSE(pb.workers.empty());
        for (const auto& w : pb.workers) {
            CHECK(fs::is_directory(w.cwd));
            // Every script a worker runs by relative path is there and executable.
            std::string first = w.command.empty() ? w.run.substr(0, w.run.find(' ')) : w.command[0];
            if (first.rfind("./", 0) == 0) {
                fs::path script = fs::path(w.cwd) / first;
                INFO(script);
                CHECK(::access(script.c_str(), X_OK) == 0);
                ++scripts;
            }
        }
    }
    CHECK(count >= 2);
    CHECK(scripts >= 2);
    CHECK(fs::exists(shipped_dir() / "demo.json"));
}

TEST_CASE("playbook: log settings, their defaults and floors") {
    Playbook pb = parse_playbook(one_worker(""), kOrigin, "/");
    CHECK_FALSE(pb.workers.at(0).logs.timestamps);
    CHECK(pb.workers.at(0).logs.max_size == 8LL << 20);
    CHECK(pb.workers.at(0).logs.keep == 3);
    WorkerSpec w = parse_playbook(one_worker(R"("log_timestamps": true, "log_max_size": "64KiB",
                                                "log_keep": 7)"),
                                  kOrigin, "/")
                       .workers.at(0);
    CHECK(w.logs.timestamps);
    CHECK(w.logs.max_size == 64 * 1024);
    CHECK(w.logs.keep == 7);
    // Top-level keys are the defaults of every worker; a worker's own win.
    pb = parse_playbook(R"({"log_timestamps": true, "log_keep": 2, "workers": {
        "a": {"run": "true"}, "b": {"run": "true", "log_keep": 5, "log_max_size": 4096}}})",
                        kOrigin, "/");
    CHECK(pb.workers.at(0).logs.timestamps);
    CHECK(pb.workers.at(0).logs.keep == 2);
    CHECK(pb.workers.at(1).logs.timestamps);
    CHECK(pb.workers.at(1).logs.keep == 5);
    CHECK(pb.workers.at(1).logs.max_size == 4096);

    check_refused(one_worker(R"("log_timestamps": "yes")"), "workers.w.log_timestamps",
                  "true or false");
    check_refused(one_worker(R"("log_max_size": "1KiB")"), "workers.w.log_max_size",
                  "at least 4KiB");
    check_refused(one_worker(R"("log_max_size": 4095)"), "workers.w.log_max_size", "at least");
    check_refused(one_worker(R"("log_max_size": "65GiB")"), "workers.w.log_max_size", "at most");
    check_refused(one_worker(R"("log_max_size": "10 parsecs")"), "workers.w.log_max_size",
                  "bad size");
    check_refused(one_worker(R"("log_max_size": -1)"), "workers.w.log_max_size");
    check_refused(one_worker(R"("log_keep": 0)"), "workers.w.log_keep", "from 1 to 1000");
    check_refused(one_worker(R"("log_keep": 1001)"), "workers.w.log_keep");
    check_refused(one_worker(R"("log_keep": "3")"), "workers.w.log_keep");
    check_refused(R"({"log_keep": 0, "workers": {}})", "log_keep");
}

TEST_CASE("playbook: sizes") {
    CHECK(parse_size("4096") == 4096);
    CHECK(parse_size("4k") == 4096);
    CHECK(parse_size("10MB") == 10LL << 20);
    CHECK(parse_size("10MiB") == 10LL << 20);
    CHECK(parse_size("1GiB") == 1LL << 30);
    CHECK(parse_size("7b") == 7);
    CHECK_FALSE(parse_size(""));
    CHECK_FALSE(parse_size("MB"));
    CHECK_FALSE(parse_size("1.5MB"));
    CHECK_FALSE(parse_size("1 MB"));
    CHECK_FALSE(parse_size("1TB"));
    CHECK_FALSE(parse_size("99999999999999999999999"));
    CHECK_FALSE(parse_size("2000000GiB"));
}

TEST_CASE("playbook: log settings change the definition, not the process") {
    auto worker = [](const std::string& extra) {
        return parse_playbook(one_worker(extra), kOrigin, "/").workers.at(0);
    };
    WorkerSpec base = worker("");
    CHECK(base.same_process(worker(R"("log_timestamps": true)")));
    CHECK_FALSE(base.same_definition(worker(R"("log_timestamps": true)")));
    CHECK_FALSE(base.same_definition(worker(R"("log_keep": 1)")));
}

TEST_CASE("playbook: rollout is one-by-one by default, all-at-once on request, nothing else") {
    Playbook d = parse_playbook(one_worker(""), kOrigin, "/");
    CHECK(d.workers.at(0).rollout == Rollout::OneByOne);
    Playbook a = parse_playbook(one_worker(R"("rollout": "all-at-once")"), kOrigin, "/");
    CHECK(a.workers.at(0).rollout == Rollout::AllAtOnce);
    CHECK(std::string(rollout_name(Rollout::AllAtOnce)) == "all-at-once");
    // A change of rollout alone is a setting: the process stays.
    CHECK(a.workers[0].same_process(d.workers[0]));
    CHECK_FALSE(a.workers[0].same_definition(d.workers[0]));
    check_refused(one_worker(R"("rollout": "rolling")"), "workers.w.rollout", "one-by-one");
    check_refused(one_worker(R"("rollout": 1)"), "workers.w.rollout");
}

TEST_CASE("playbook: load_playbook names what is wrong with the file it was given") {
    TempDir dir;
    auto message_of = [](const std::string& p) {
        try {
            load_playbook(p);
        } catch (const Error& e) {
            CHECK(e.code() == Exit::Usage);
            return e.message();
        }
        return std::string("accepted");
    };
    const std::string missing = (dir.path / "missing.json").string();
    CHECK(message_of(missing) == missing + ": cannot read the playbook: " + std::strerror(ENOENT));
    fs::create_directory(dir.path / "sub");
    const std::string sub = (dir.path / "sub").string();
    CHECK(message_of(sub) == sub + ": is a directory, not a playbook");
    CHECK(message_of("/dev/null") == "/dev/null: is not a regular file");

    // 1 MiB is the most a playbook may be; one byte more is refused.
    const std::string big = (dir.path / "big.json").string();
    std::string text = R"({"workers": {"w": {"run": "x"}}})";
    text += std::string((1 << 20) - text.size(), ' ');
    dir.write("big.json", text);
    CHECK_NOTHROW(load_playbook(big));
    dir.write("big.json", text + " ");
    CHECK(message_of(big) == big + ": is larger than 1 MiB; is it really a playbook?");

    // The user's symlinks are followed, for the file and for a cwd.
    fs::create_symlink(dir.path / "sub", dir.path / "sub-link");
    dir.write("real.json", R"({"workers": {"w": {"run": "x", "cwd": "sub-link"}}})");
    fs::create_symlink(dir.path / "real.json", dir.path / "link.json");
    Playbook pb = load_playbook((dir.path / "link.json").string());
    CHECK(pb.workers.at(0).cwd == (dir.path / "sub-link").string());

    dir.write("cwd-file.json", R"({"workers": {"w": {"run": "x", "cwd": "real.json"}}})");
    const std::string cwd_file = (dir.path / "cwd-file.json").string();
    CHECK(message_of(cwd_file) == cwd_file + ": workers.w.cwd: \"" +
                                      (dir.path / "real.json").string() + "\" is not a directory");
}
