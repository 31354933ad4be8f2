#include "os/fs.hpp"

#include "os/proc.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace loop::os {

namespace {

// ".tmp.<pid>.<n>.<name>": a dead process with the same pid may have left
// one behind, so <n> starts at a random value and a taken name is skipped.
std::string temp_name(const std::string& name) {
    static std::atomic<unsigned> counter{static_cast<unsigned>(random_u64() & 0x7fffffff)};
    char buf[64];
    std::snprintf(buf, sizeof buf, ".tmp.%d.%u.", static_cast<int>(::getpid()),
                  counter.fetch_add(1));
    return buf + name;
}

Status write_all(int fd, std::string_view data) {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return {errno};
        }
        p += n;
        left -= static_cast<size_t>(n);
    }
    return {};
}

// Creates a fresh temp file with `data`; returns its name or an error.
Status write_temp(int dir, const std::string& name, std::string_view data, std::string* tmp) {
    Fd fd;
    for (int attempt = 0; attempt < 16 && !fd; ++attempt) {
        *tmp = temp_name(name);
        fd = Fd(::openat(dir, tmp->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                         0600));
        if (!fd && errno != EEXIST) return {errno};
    }
    if (!fd) return {EEXIST};
    Status s = write_all(fd.get(), data);
    if (!s.ok()) {
        ::unlinkat(dir, tmp->c_str(), 0);
        return s;
    }
    return {};
}

} // namespace

Status make_dirs(const std::string& path, unsigned mode) {
    if (path.empty()) return {EINVAL};
    std::string cur;
    size_t pos = 0;
    while (pos != std::string::npos) {
        pos = path.find('/', pos + 1);
        cur = path.substr(0, pos);
        if (cur.empty() || cur == "/") continue;
        if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) return {errno};
    }
    return {};
}

Status owner_of(int fd, DirOwner* out, unsigned* euid) {
    struct stat st;
    if (::fstat(fd, &st) != 0) return {errno};
    out->uid = st.st_uid;
    out->mode = st.st_mode & 07777;
    out->is_dir = S_ISDIR(st.st_mode);
    *euid = ::geteuid();
    return {};
}

Status make_subdir_at(int dir, const std::string& name, unsigned mode) {
    if (::mkdirat(dir, name.c_str(), mode) != 0) return {errno};
    return {};
}

Fd open_dir(int dir, const std::string& path, int* err, bool nofollow) {
    int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0);
    Fd fd(::openat(dir, path.c_str(), flags));
    if (!fd && err) *err = errno;
    return fd;
}

std::optional<std::string> read_file_at(int dir, const std::string& name, int* err,
                                        uint64_t max_bytes) {
    // O_NONBLOCK: opening a FIFO never waits for a writer.
    Fd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
        *err = errno;
        return std::nullopt;
    }
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) {
        *err = errno;
        return std::nullopt;
    }
    if (!S_ISREG(st.st_mode)) {
        *err = kNotRegular;
        return std::nullopt;
    }
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
        *err = kTooLarge;
        return std::nullopt;
    }
    // Read in one call what fstat announced (and one byte more, to see the
    // end); a short read at or past that size is the end of the file. A
    // size of 0 may be a file of /proc, whose size fstat does not know.
    const size_t size = static_cast<size_t>(st.st_size);
    const uint64_t first = size > 0 ? size + 1 : 4096;
    std::string out(static_cast<size_t>(std::min<uint64_t>(first, max_bytes + 1)), '\0');
    size_t got = 0;
    for (;;) {
        ssize_t n = ::read(fd.get(), out.data() + got, out.size() - got);
        if (n < 0) {
            if (errno == EINTR) continue;
            *err = errno;
            return std::nullopt;
        }
        if (n == 0) break;
        got += static_cast<size_t>(n);
        // A file that grows while it is read is cut off at the bound too.
        if (got > max_bytes) {
            *err = kTooLarge;
            return std::nullopt;
        }
        if (got < out.size()) {
            if (got >= size) break;
            continue;
        }
        out.resize(static_cast<size_t>(std::min<uint64_t>(out.size() * 2, max_bytes + 1)));
    }
    out.resize(got);
    *err = 0;
    return out;
}

std::string read_error_text(int err, uint64_t max_bytes) {
    if (err == kNotRegular) return "not a regular file";
    if (err == kTooLarge)
        return "larger than " + std::to_string(max_bytes / 1024) +
               " KiB, more than a record can be";
    if (err == ELOOP) return "a symlink, which is not followed";
    return std::strerror(err);
}

Status replace_file_at(int dir, const std::string& name, std::string_view data) {
    std::string tmp;
    Status s = write_temp(dir, name, data, &tmp);
    if (!s.ok()) return s;
    if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) {
        int e = errno;
        ::unlinkat(dir, tmp.c_str(), 0);
        return {e};
    }
    return {};
}

Status create_file_at(int dir, const std::string& name, std::string_view data) {
    std::string tmp;
    Status s = write_temp(dir, name, data, &tmp);
    if (!s.ok()) return s;
    int rc = ::linkat(dir, tmp.c_str(), dir, name.c_str(), 0);
    int e = rc == 0 ? 0 : errno;
    ::unlinkat(dir, tmp.c_str(), 0);
    return {e};
}

Status unlink_at(int dir, const std::string& name) {
    if (::unlinkat(dir, name.c_str(), 0) != 0) return {errno};
    return {};
}

std::vector<std::string> list_dir(int dir, int* err) {
    std::vector<std::string> out;
    int dup = ::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0) {
        *err = errno;
        return out;
    }
    DIR* d = ::fdopendir(dup);
    if (!d) {
        *err = errno;
        ::close(dup);
        return out;
    }
    while (dirent* e = ::readdir(d)) {
        if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
        out.emplace_back(e->d_name);
    }
    ::closedir(d);
    *err = 0;
    return out;
}

Fd open_lock_file(int dir, const std::string& name, int* err, bool* read_only) {
    const int flags = O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
    Fd fd(::openat(dir, name.c_str(), O_RDWR | O_CREAT | flags, 0600));
    // On a read-only filesystem an existing lock still serialises readers;
    // a write through it fails (EBADF), which the caller reports as EROFS.
    if (!fd && errno == EROFS && read_only) {
        fd = Fd(::openat(dir, name.c_str(), O_RDONLY | flags));
        if (fd)
            *read_only = true;
        else
            errno = EROFS;
    }
    if (!fd) *err = errno;
    return fd;
}

static Status do_flock(int fd, int op) {
    while (::flock(fd, op) != 0) {
        if (errno == EINTR) continue;
        return {errno};
    }
    return {};
}

Status lock_exclusive(int fd) {
    return do_flock(fd, LOCK_EX);
}
Status lock_shared(int fd) {
    return do_flock(fd, LOCK_SH);
}
Status try_lock_exclusive(int fd) {
    return do_flock(fd, LOCK_EX | LOCK_NB);
}

std::optional<std::string> pread_all(int fd, int* err) {
    std::string out;
    // One read for a lock file with a queue of a few dozen waiters.
    char buf[4096];
    off_t off = 0;
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, off);
        if (n < 0) {
            if (errno == EINTR) continue;
            *err = errno;
            return std::nullopt;
        }
        out.append(buf, static_cast<size_t>(n));
        off += n;
        // A regular file reads short only at its end.
        if (static_cast<size_t>(n) < sizeof buf) break;
    }
    *err = 0;
    return out;
}

Status pwrite_all(int fd, std::string_view data) {
    return pwrite_at(fd, data, 0);
}

Status replace_contents(int fd, std::string_view data) {
    // Written over the old text first, then cut to length: a reader sees
    // the old text or the new one (with, for a moment, the old one's tail),
    // never an empty file.
    if (Status s = pwrite_at(fd, data, 0); !s.ok()) return s;
    if (::ftruncate(fd, static_cast<off_t>(data.size())) != 0) return {errno};
    return {};
}

Status pwrite_at(int fd, std::string_view data, uint64_t offset) {
    size_t done = 0;
    while (done < data.size()) {
        ssize_t n =
            ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return {errno};
        }
        done += static_cast<size_t>(n);
    }
    return {};
}

Status set_size(int fd, uint64_t size) {
    while (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
        if (errno != EINTR) return {errno};
    }
    return {};
}

Status sync_fd(int fd) {
    while (::fsync(fd) != 0) {
        if (errno != EINTR) return {errno};
    }
    return {};
}

Status append_line_at(int dir, const std::string& name, std::string_view line) {
    Fd fd(::openat(dir, name.c_str(),
                   O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
    if (!fd) return {errno};
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return {errno};
    if (!S_ISREG(st.st_mode)) return {kNotRegular};
    ssize_t n;
    while ((n = ::write(fd.get(), line.data(), line.size())) < 0 && errno == EINTR) {
    }
    if (n < 0) return {errno};
    if (static_cast<size_t>(n) < line.size()) // a full disk: the rest, or the error
        return write_all(fd.get(), line.substr(static_cast<size_t>(n)));
    // Appends are serialized by the kernel, so what precedes this line is
    // the whole of the write before it. When that ends without '\n' it was
    // torn (a write that failed part-way) and has swallowed this line: write
    // it once more, on a line of its own. (Looking at the end of the file
    // before writing is not the same: another append may be half-copied.)
    const off_t end = ::lseek(fd.get(), 0, SEEK_CUR);
    const off_t start = end - static_cast<off_t>(line.size());
    if (end < 0 || start <= 0) return {};
    char before = '\n';
    while ((n = ::pread(fd.get(), &before, 1, start - 1)) < 0 && errno == EINTR) {
    }
    if (n == 1 && before != '\n') return write_all(fd.get(), line);
    return {};
}

std::optional<long long> mtime_ms_at(int dir, const std::string& name) {
    struct stat st;
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return std::nullopt;
    return static_cast<long long>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
}

bool exists_at(int dir, const std::string& name, int* err) {
    struct stat st;
    *err = 0;
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return true;
    if (errno != ENOENT) *err = errno;
    return false;
}

bool is_directory_at(int dir, const std::string& name) {
    struct stat st;
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
    return S_ISDIR(st.st_mode);
}

std::optional<std::string> read_from(const std::string& path, long long offset, long long* size) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return std::nullopt;
    struct stat st;
    *size = ::fstat(fd.get(), &st) == 0 ? static_cast<long long>(st.st_size) : offset;
    if (*size < offset) return std::string();
    std::string out;
    char buf[65536];
    ssize_t n;
    while ((n = ::pread(fd.get(), buf, sizeof buf, offset)) > 0) {
        offset += n;
        out.append(buf, static_cast<size_t>(n));
    }
    return out;
}

} // namespace loop::os
