// os/proc: telling which program a process runs.
#include "os/proc.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <string>
#include <vector>

using namespace loop;
using namespace loop::test;

TEST_CASE("proc: command_line is the argv a process was started with") {
    // sh waits in its builtin read on a pipe held open here: the process
    // stays the one started, with empty arguments in the middle and last.
    int in[2];
    REQUIRE(::pipe(in) == 0);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::dup2(in[0], 0);
        ::close(in[0]);
        ::close(in[1]);
        ::execlp("sh", "sh", "-c", "read x", "", "a b", "", static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(in[0]);
    Child sh(pid);
    // Once it has exec'd (until then it is a copy of this process).
    const std::vector<std::string> want{"sh", "-c", "read x", "", "a b", ""};
    CHECK(wait_until([&] { return os::command_line(pid) == want; }));
    sh.kill_and_reap();
    ::close(in[1]);
    CHECK(os::command_line(pid).empty());
}
