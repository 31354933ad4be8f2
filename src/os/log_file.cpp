#include "os/log_file.hpp"

#include "os/fs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

namespace loop::os {

int LogFile::open(const std::string& dir, const std::string& name) {
    int err = 0;
    dir_ = open_dir(AT_FDCWD, dir, &err);
    if (!dir_) return err;
    name_ = name;
    return reopen();
}

int LogFile::reopen() {
    Fd fd(::openat(dir_.get(), name_.c_str(),
                   O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
    if (!fd) return errno;
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return errno;
    if (!S_ISREG(st.st_mode)) return EINVAL;
    size_ = static_cast<uint64_t>(st.st_size);
    torn_ = false;
    if (size_ > 0) {
        // Opened write-only: the last byte is read through another descriptor.
        Fd rd(::openat(dir_.get(), name_.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
        char last = '\n';
        if (rd && ::pread(rd.get(), &last, 1, st.st_size - 1) == 1) torn_ = last != '\n';
    }
    fd_ = std::move(fd);
    return 0;
}

int LogFile::write(std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd_.get(), data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        data.remove_prefix(static_cast<size_t>(n));
        size_ += static_cast<uint64_t>(n);
    }
    return 0;
}

int LogFile::rotate(int keep, uint64_t* size) {
    int err = 0;
    Fd lock = open_lock_file(dir_.get(), "." + name_ + ".lock", &err);
    if (!lock) return err;
    if (Status s = lock_exclusive(lock.get()); !s.ok()) return s.err;
    struct stat mine, now;
    bool same = ::fstat(fd_.get(), &mine) == 0 &&
                ::fstatat(dir_.get(), name_.c_str(), &now, AT_SYMLINK_NOFOLLOW) == 0 &&
                mine.st_dev == now.st_dev && mine.st_ino == now.st_ino;
    if (same) {
        // Older files beyond `keep` (a smaller keep than before) go first.
        for (const std::string& f : list_dir(dir_.get(), &err)) {
            if (f.size() <= name_.size() + 1 || f.compare(0, name_.size() + 1, name_ + ".") != 0)
                continue;
            const std::string k = f.substr(name_.size() + 1);
            if (k.find_first_not_of("0123456789") != std::string::npos || k.size() > 6) continue;
            if (std::atoi(k.c_str()) > keep) ::unlinkat(dir_.get(), f.c_str(), 0);
        }
        for (int k = keep - 1; k >= 1; --k) {
            const std::string from = name_ + "." + std::to_string(k);
            const std::string to = name_ + "." + std::to_string(k + 1);
            if (::renameat(dir_.get(), from.c_str(), dir_.get(), to.c_str()) != 0 &&
                errno != ENOENT)
                return errno;
        }
        const std::string first = name_ + ".1";
        if (::renameat(dir_.get(), name_.c_str(), dir_.get(), first.c_str()) != 0) return errno;
    }
    if (int e = reopen(); e != 0) return e;
    *size = size_;
    return 0;
}

Fd open_log_read(int dir, const std::string& name, int* err) {
    Fd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
        *err = errno;
        return fd;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        *err = EINVAL;
        return {};
    }
    return fd;
}

namespace {

FileId id_of(const struct stat& st) {
    return {true, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
            static_cast<uint64_t>(st.st_size)};
}

} // namespace

FileId file_id(int fd) {
    struct stat st;
    return ::fstat(fd, &st) == 0 ? id_of(st) : FileId{};
}

FileId file_id_at(int dir, const std::string& name) {
    struct stat st;
    return ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 ? id_of(st) : FileId{};
}

long read_at(int fd, char* buf, size_t n, uint64_t offset) {
    for (;;) {
        ssize_t r = ::pread(fd, buf, n, static_cast<off_t>(offset));
        if (r >= 0 || errno != EINTR) return static_cast<long>(r);
    }
}

long read_some(int fd, char* buf, size_t n) {
    for (;;) {
        ssize_t r = ::read(fd, buf, n);
        if (r >= 0 || errno != EINTR) return static_cast<long>(r);
    }
}

} // namespace loop::os
