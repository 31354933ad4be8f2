#include "core/supervisor/log_files.hpp"
#include "os/fs.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace loop;
namespace fs = std::filesystem;

namespace {

struct TempDir {
    fs::path path;
    os::Fd fd;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "loop-logfiles-test.XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
        int err = 0;
        fd = os::open_dir(AT_FDCWD, path.string(), &err);
        REQUIRE(fd);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    void write(const std::string& name, const std::string& text, bool append = false) const {
        std::ofstream(path / name, append ? std::ios::app : std::ios::trunc) << text;
    }
    LogStream stream(const std::string& target) const {
        int err = 0;
        auto sets = log_sets(os::list_dir(fd.get(), &err), parse_log_target(target));
        REQUIRE(sets.size() == 1);
        return LogStream(fd.get(), sets[0]);
    }
};

std::vector<std::string> v(std::initializer_list<const char*> l) {
    return {l.begin(), l.end()};
}

} // namespace

TEST_CASE("log files: targets") {
    CHECK(parse_log_target("indexer")->replica == 0);
    CHECK(parse_log_target("indexer.12")->replica == 12);
    CHECK(parse_log_target("indexer.12")->worker == "indexer");
    CHECK_FALSE(parse_log_target(""));
    CHECK_FALSE(parse_log_target("a.0"));
    CHECK_FALSE(parse_log_target("a."));
    CHECK_FALSE(parse_log_target("a.b"));
    CHECK_FALSE(parse_log_target("../a"));
    CHECK_FALSE(parse_log_target("a.1.2"));
}

TEST_CASE("log files: sets by replica, rotated files newest first") {
    std::vector<std::string> names = {
        "w.2.log",       "w.1.log.2",  "w.1.log",   "w.1.log.10",       "w.1.log.1", "x.1.log",
        ".w.1.log.lock", "keeper.log", "w.1.log.x", "w.3.abcdef01.log", "notes.txt", "w.10.log"};
    auto all = log_sets(names, parse_log_target("w"));
    REQUIRE(all.size() == 4);
    CHECK(all[0].label == "w.1");
    CHECK(all[0].live == "w.1.log");
    CHECK(all[0].rotated == v({"w.1.log.1", "w.1.log.2", "w.1.log.10"}));
    CHECK(all[1].label == "w.2");
    CHECK(all[2].label == "w.3"); // a redis backend's session id
    CHECK(all[2].live == "w.3.abcdef01.log");
    CHECK(all[3].label == "w.10");
    CHECK(log_sets(names, parse_log_target("w.2")).size() == 1);
    CHECK(log_sets(names, parse_log_target("w.4")).empty());
    CHECK(log_sets(names, std::nullopt).size() == 5);
}

TEST_CASE("log files: tail reads the rotated files then the live one") {
    TempDir d;
    d.write("w.1.log.2", "a\nb\n");
    d.write("w.1.log.1", "c\nd\n");
    d.write("w.1.log", "e\nf\n");
    CHECK(d.stream("w.1").tail(3, false) == v({"d", "e", "f"}));
    CHECK(d.stream("w.1").tail(10, false) == v({"a", "b", "c", "d", "e", "f"}));
    CHECK(d.stream("w.1").tail(0, false).empty());
    CHECK(d.stream("w.1").tail(1, false) == v({"f"}));
}

TEST_CASE("log files: a line cut across files is one line; a last partial line") {
    TempDir d;
    d.write("w.1.log.1", "one\ntw");
    d.write("w.1.log", "o\nthr");
    CHECK(d.stream("w.1").tail(2, false) == v({"two", "thr"}));
    LogStream s = d.stream("w.1");
    // Followed: the partial line is held until its end comes.
    CHECK(s.tail(2, true) == v({"one", "two"}));
    CHECK(s.partial() == "thr");
    d.write("w.1.log", "ee\nfour\n", true);
    CHECK(s.next() == v({"three", "four"}));
    CHECK(s.next().empty());
}

TEST_CASE("log files: following goes on across rotations, in order") {
    TempDir d;
    d.write("w.1.log", "1\n");
    LogStream s = d.stream("w.1");
    CHECK(s.tail(10, true) == v({"1"}));
    CHECK(s.take_reopened());
    d.write("w.1.log", "2\n", true);
    // Rotated twice before it looks again.
    fs::rename(d.path / "w.1.log", d.path / "w.1.log.1");
    d.write("w.1.log", "3\n");
    fs::rename(d.path / "w.1.log.1", d.path / "w.1.log.2");
    fs::rename(d.path / "w.1.log", d.path / "w.1.log.1");
    d.write("w.1.log", "4\n");
    CHECK(s.next() == v({"2", "3", "4"}));
    CHECK(s.take_reopened());
    d.write("w.1.log", "5\n", true);
    CHECK(s.next() == v({"5"}));
    CHECK_FALSE(s.take_reopened());
}

TEST_CASE("log files: a live file that appears later is read from its start") {
    TempDir d;
    d.write("w.1.log.1", "old\n");
    LogStream s = d.stream("w.1");
    CHECK(s.tail(5, true) == v({"old"}));
    CHECK(s.next().empty());
    d.write("w.1.log", "new\n");
    CHECK(s.next() == v({"new"}));
}
