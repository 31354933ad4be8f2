// os::FileTail: a file read as it grows, as `loop events --follow` reads the
// event log.
#include "os/file_tail.hpp"
#include "support.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

using namespace loop;
using namespace loop::test;

namespace {

void append_text(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << text;
    if (!out) throw std::runtime_error("cannot append to " + path);
}

// Everything one read_new pass hands out.
std::string read_new(os::FileTail& tail) {
    std::string out;
    tail.read_new([&](std::string_view chunk) { out.append(chunk); });
    return out;
}

} // namespace

TEST_CASE("file tail: a missing file is not an error, and is read once it appears") {
    TempDir dir;
    os::FileTail tail(dir.sub("events.jsonl"));
    int err = -1;
    CHECK_FALSE(tail.open(&err));
    CHECK(err == 0);
    CHECK_FALSE(tail.is_open());
    CHECK(read_new(tail) == "");

    write_text(dir.sub("events.jsonl"), "one\n");
    REQUIRE(tail.open(&err));
    CHECK(err == 0);
    CHECK(read_new(tail) == "one\n");
}

TEST_CASE("file tail: appended bytes are handed out once") {
    TempDir dir;
    const std::string path = dir.sub("log");
    write_text(path, "one\n");
    os::FileTail tail(path);
    int err = 0;
    REQUIRE(tail.open(&err));
    CHECK(read_new(tail) == "one\n");
    CHECK(read_new(tail) == "");
    append_text(path, "two\nthr");
    CHECK(read_new(tail) == "two\nthr");
    append_text(path, "ee\n");
    CHECK(read_new(tail) == "ee\n");
    CHECK(read_new(tail) == "");
    CHECK(tail.offset() == 14); // "one\n" + "two\nthr" + "ee\n"
}

TEST_CASE("file tail: a truncated file is read again from byte 0") {
    TempDir dir;
    const std::string path = dir.sub("log");
    write_text(path, "a long first line\n");
    os::FileTail tail(path);
    int err = 0;
    REQUIRE(tail.open(&err));
    CHECK(read_new(tail) == "a long first line\n");
    write_text(path, "short\n"); // truncates the same file
    CHECK(read_new(tail) == "short\n");
    CHECK(read_new(tail) == "");
}

TEST_CASE("file tail: a large file comes in pieces of at most 64 KiB, whole") {
    TempDir dir;
    const std::string path = dir.sub("log");
    std::string text;
    for (int i = 0; text.size() < 200000; ++i)
        text += std::to_string(i) + "\n";
    write_text(path, text);
    os::FileTail tail(path);
    int err = 0;
    REQUIRE(tail.open(&err));
    std::string got;
    size_t largest = 0;
    tail.read_new([&](std::string_view chunk) {
        got.append(chunk);
        largest = std::max(largest, chunk.size());
    });
    CHECK(got == text);
    CHECK(largest <= 65536);
    CHECK(largest > 0);
}

TEST_CASE("file tail: a symlink is not followed, and that is reported") {
    TempDir dir;
    write_text(dir.sub("real"), "secret\n");
    fs::create_symlink(dir.sub("real"), dir.sub("link"));
    os::FileTail tail(dir.sub("link"));
    int err = 0;
    CHECK_FALSE(tail.open(&err));
    CHECK(err == ELOOP);
    CHECK(read_new(tail) == "");
}
