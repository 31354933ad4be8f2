#include "os/path.hpp"

#include "os/fd.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace loop::os {

bool is_directory(const std::string& path, int* err) {
    struct stat st;
    *err = 0;
    if (::stat(path.c_str(), &st) != 0) {
        *err = errno;
        return false;
    }
    return S_ISDIR(st.st_mode);
}

bool readable(const std::string& path) {
    return ::access(path.c_str(), R_OK) == 0;
}

std::string current_dir() {
    char cwd[4096];
    if (!::getcwd(cwd, sizeof cwd)) return "";
    return cwd;
}

std::optional<std::string> read_whole_file(const std::string& path, int* err, uint64_t max_bytes) {
    *err = 0;
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        *err = errno;
        return std::nullopt;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) {
        *err = errno;
        return std::nullopt;
    }
    if (S_ISDIR(st.st_mode))
        *err = kIsDirectory;
    else if (!S_ISREG(st.st_mode))
        *err = kNotRegularFile;
    if (*err) return std::nullopt;
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            *err = errno;
            return std::nullopt;
        }
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > max_bytes) {
            *err = kLargerThanMax;
            return std::nullopt;
        }
    }
    return text;
}

} // namespace loop::os
