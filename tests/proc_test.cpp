// os/proc: telling which program a process runs.
#include "os/proc.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace loop;
using namespace loop::test;

namespace {

std::vector<std::string> own_argv() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> out;
    for (size_t at = 0; at < text.size();) {
        size_t end = text.find('\0', at);
        if (end == std::string::npos) end = text.size();
        out.push_back(text.substr(at, end - at));
        at = end + 1;
    }
    return out;
}

} // namespace

TEST_CASE("proc: command_line is the argv a process was started with") {
    const std::vector<std::string> argv = own_argv();
    REQUIRE(!argv.empty());
    CHECK(os::command_line(::getpid()) == argv);

    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::execlp("sleep", "sleep", "100", "1", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    Child sleeper(pid);
    // Once it has exec'd (until then it is a copy of this process).
    const std::vector<std::string> want{"sleep", "100", "1"};
    CHECK(wait_until([&] { return os::command_line(pid) == want; }));
    sleeper.kill_and_reap();
    CHECK(os::command_line(pid).empty());
}
