#include "os/file_tail.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace loop::os {

bool FileTail::open(int* err) {
    *err = 0;
    if (fd_) return true;
    fd_ = Fd(::open(path_.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (fd_) return true;
    if (errno != ENOENT) *err = errno;
    return false;
}

void FileTail::read_new(const std::function<void(std::string_view)>& chunk) {
    if (!fd_) return;
    struct stat st;
    if (::fstat(fd_.get(), &st) == 0 && static_cast<uint64_t>(st.st_size) < offset_)
        offset_ = 0; // truncated
    char buf[65536];
    ssize_t n;
    while ((n = ::pread(fd_.get(), buf, sizeof buf, static_cast<off_t>(offset_))) > 0) {
        offset_ += static_cast<uint64_t>(n);
        chunk(std::string_view(buf, static_cast<size_t>(n)));
    }
}

} // namespace loop::os
