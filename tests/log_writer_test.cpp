#include "core/supervisor/log_writer.hpp"
#include "core/text.hpp"
#include "os/log_file.hpp"

#include <doctest/doctest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace loop;
namespace fs = std::filesystem;

namespace {

// Files in order, the last one being written; every write and rotation counted.
struct MemorySink : LogSink {
    std::vector<std::string> files{""};
    int writes = 0, rotations = 0;
    int fail_writes = 0, fail_rotations = 0; // the next N fail
    int write(std::string_view d) override {
        if (fail_writes > 0) {
            --fail_writes;
            return ENOSPC;
        }
        ++writes;
        files.back() += d;
        return 0;
    }
    int rotate(uint64_t* size) override {
        if (fail_rotations > 0) {
            --fail_rotations;
            return EACCES;
        }
        ++rotations;
        files.emplace_back();
        *size = 0;
        return 0;
    }
    std::string all() const {
        std::string out;
        for (const auto& f : files)
            out += f;
        return out;
    }
};

LogSettings settings(int64_t max, bool ts = false) {
    LogSettings s;
    s.max_size = max;
    s.timestamps = ts;
    return s;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        out.push_back(l);
    return out;
}

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "loop-logw-test.XXXXXX").string();
        REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string read(const std::string& name) const {
        std::ifstream in(path / name);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
};

} // namespace

TEST_CASE("log writer: lines pass through as they come, one write per read") {
    MemorySink sink;
    LogWriter w(sink, settings(4096), 0, false);
    w.feed("one\ntwo\nthr", 0);
    CHECK(sink.all() == "one\ntwo\nthr");
    w.feed("ee\n", 0);
    CHECK(sink.all() == "one\ntwo\nthree\n");
    CHECK(sink.writes == 2);
    CHECK(sink.rotations == 0);
}

TEST_CASE("log writer: a timestamp per line, not per read") {
    MemorySink sink;
    LogWriter w(sink, settings(4096, true), 0, false);
    const int64_t t = *parse_time("2026-11-23T18:14:18.123Z");
    w.feed("one\ntw", t);
    w.feed("o\nthree\n", t + 1);
    CHECK(sink.all() == "2026-11-23T18:14:18.123Z one\n"
                        "2026-11-23T18:14:18.123Z two\n"
                        "2026-11-23T18:14:18.124Z three\n");
}

TEST_CASE("log writer: rotation at the size, never splitting a line") {
    MemorySink sink;
    LogWriter w(sink, settings(4096), 0, false);
    std::string input;
    for (int i = 0; i < 2000; ++i) {
        std::string line = "line " + std::to_string(i) + " " + std::string(i % 97, 'x') + "\n";
        input += line;
        // Reads cut anywhere, also in the middle of a line.
        if (i % 3 == 0) {
            w.feed(line.substr(0, line.size() / 2), i);
            w.feed(line.substr(line.size() / 2), i);
        } else {
            w.feed(line, i);
        }
    }
    w.finish();
    CHECK(sink.rotations > 10);
    CHECK(sink.all() == input);
    for (size_t f = 0; f + 1 < sink.files.size(); ++f) {
        INFO("file " << f);
        CHECK(sink.files[f].size() <= 2 * 4096);
        CHECK(sink.files[f].back() == '\n');
        // Filled up to the size, or as near as the next line allows.
        CHECK(sink.files[f].size() + 110 > 4096);
    }
    // A line split between two reads was kept whole in one file.
    size_t n = 0;
    for (const auto& f : sink.files)
        n += lines_of(f).size();
    CHECK(n == 2000);
}

TEST_CASE("log writer: a line longer than log_max_size goes on in the next file") {
    MemorySink sink;
    LogWriter w(sink, settings(4096, true), 0, false);
    std::string big(3 * 4096, 'y');
    w.feed("short\n", 0);
    w.feed(big + "\n", 0);
    w.feed("after\n", 0);
    for (const auto& f : sink.files)
        CHECK(f.size() <= 2 * 4096);
    // The pieces are the line: one prefix, then the next line with its own.
    const std::string stamp = format_time(0) + " ";
    CHECK(sink.all() == stamp + "short\n" + stamp + big + "\n" + stamp + "after\n");
}

TEST_CASE("log writer: the end of the input ends a last line; a torn file is ended first") {
    MemorySink sink;
    LogWriter w(sink, settings(4096), 10, true);
    w.feed("prompt> ", 0);
    w.finish();
    CHECK(sink.all() == "\nprompt> \n");
}

TEST_CASE("log writer: output that cannot be written is counted and said") {
    MemorySink sink;
    LogWriter w(sink, settings(4096), 0, false);
    sink.fail_writes = 1;
    w.feed("gone\n", 0);
    CHECK(w.lost() == 5);
    w.feed("back\n", 0);
    CHECK(sink.all().find("loop: 5 bytes of output lost") == 0);
    CHECK(sink.all().find("\nback\n") != std::string::npos);
}

TEST_CASE("log writer: a rotation that fails is retried after another log_max_size") {
    MemorySink sink;
    LogWriter w(sink, settings(4096), 0, false);
    sink.fail_rotations = 1;
    const std::string line(100, 'z');
    for (int i = 0; i < 100; ++i)
        w.feed(line + "\n", 0);
    // 10100 bytes: the first rotation failed at ~4 KiB, the retry at ~8 KiB worked.
    CHECK(sink.rotations == 1);
    CHECK(sink.files[0].size() > 4096);
    CHECK(sink.files[0].size() <= 2 * 4096);
    CHECK(sink.all().size() == 10100);
}

TEST_CASE("log file: rotation renames and keeps log_keep files") {
    TempDir d;
    os::LogFile f;
    REQUIRE(f.open(d.path.string(), "w.1.log") == 0);
    CHECK(f.size() == 0);
    CHECK_FALSE(f.torn());
    for (int i = 0; i < 5; ++i) {
        REQUIRE(f.write("gen " + std::to_string(i) + "\n") == 0);
        uint64_t size = 99;
        REQUIRE(f.rotate(2, &size) == 0);
        CHECK(size == 0);
    }
    REQUIRE(f.write("gen 5") == 0);
    CHECK(d.read("w.1.log") == "gen 5");
    CHECK(d.read("w.1.log.1") == "gen 4\n");
    CHECK(d.read("w.1.log.2") == "gen 3\n");
    CHECK_FALSE(fs::exists(d.path / "w.1.log.3"));
    // Opened again: the torn last line is seen.
    os::LogFile g;
    REQUIRE(g.open(d.path.string(), "w.1.log") == 0);
    CHECK(g.size() == 5);
    CHECK(g.torn());
    // A smaller keep removes what is beyond it.
    uint64_t size = 0;
    REQUIRE(g.rotate(1, &size) == 0);
    CHECK(d.read("w.1.log.1") == "gen 5");
    CHECK_FALSE(fs::exists(d.path / "w.1.log.2"));
}

TEST_CASE("log file: a writer whose file another one rotated only opens the new one") {
    TempDir d;
    os::LogFile a, b;
    REQUIRE(a.open(d.path.string(), "w.1.log") == 0);
    REQUIRE(b.open(d.path.string(), "w.1.log") == 0);
    REQUIRE(a.write("a1\n") == 0);
    REQUIRE(b.write("b1\n") == 0);
    uint64_t size = 0;
    REQUIRE(a.rotate(3, &size) == 0);
    REQUIRE(a.write("a2\n") == 0);
    REQUIRE(b.rotate(3, &size) == 0);
    CHECK(size == 3); // a's new file, which b now appends to
    REQUIRE(b.write("b2\n") == 0);
    CHECK(d.read("w.1.log.1") == "a1\nb1\n");
    CHECK(d.read("w.1.log") == "a2\nb2\n");
    CHECK_FALSE(fs::exists(d.path / "w.1.log.2"));
}

TEST_CASE("log file: a symlink is not followed") {
    TempDir d;
    fs::create_symlink("/etc/passwd", d.path / "w.1.log");
    os::LogFile f;
    CHECK(f.open(d.path.string(), "w.1.log") == ELOOP);
}
