#include "os/bell.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

namespace loop::os {

Fd listen_bell(int dir, const std::string& file, int* err) {
    for (int attempt = 0; attempt < 2; ++attempt) {
        Fd fd(::openat(dir, file.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
        if (fd) {
            struct stat st;
            if (::fstat(fd.get(), &st) != 0) {
                *err = errno;
                return {};
            }
            if (!S_ISFIFO(st.st_mode)) {
                *err = EINVAL;
                return {};
            }
            return fd;
        }
        if (errno != ENOENT) break;
        if (::mkfifoat(dir, file.c_str(), 0600) != 0 && errno != EEXIST) break;
    }
    *err = errno;
    return {};
}

Fd press_bell(int dir, const std::string& path) {
    // O_NONBLOCK: ENXIO at once when nobody listens, and never a block on
    // a FIFO. O_NOFOLLOW: never a file elsewhere.
    return Fd(::openat(dir, path.c_str(), O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
}

bool ring_bell(int dir, const std::string& path) {
    return static_cast<bool>(press_bell(dir, path)); // closed here: rung
}

} // namespace loop::os
