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

TEST_CASE("proc: runs_self_with matches this program by the end of its command line") {
    const std::vector<std::string> argv = own_argv();
    REQUIRE(!argv.empty());
    CHECK(os::runs_self_with(::getpid(), {argv.back()}));
    CHECK(os::runs_self_with(::getpid(), argv));
    CHECK_FALSE(os::runs_self_with(::getpid(), {"_", "keeper"}));
    // Only whole arguments count: the end of the last one is not a match.
    if (argv.back().size() > 1)
        CHECK_FALSE(os::runs_self_with(::getpid(), {argv.back().substr(1)}));

    // Another program with the same arguments is not this one.
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::execlp("sleep", "sleep", "100", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    Child sleeper(pid);
    REQUIRE(wait_until([&] { return !os::same_program(pid, ::getpid()); }));
    CHECK_FALSE(os::runs_self_with(pid, {"100"}));
    sleeper.kill_and_reap();
    CHECK_FALSE(os::runs_self_with(pid, {"100"}));
}
