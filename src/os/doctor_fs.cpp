#include "os/doctor_fs.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

namespace loop::os {

std::optional<FileFacts> facts_at(int dir, const std::string& name, int* err) {
    struct stat st;
    int rc =
        name.empty() ? ::fstat(dir, &st) : ::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW);
    if (rc != 0) {
        *err = errno;
        return std::nullopt;
    }
    FileFacts f;
    if (S_ISREG(st.st_mode)) {
        f.type = FileFacts::Type::File;
    } else if (S_ISDIR(st.st_mode)) {
        f.type = FileFacts::Type::Directory;
    } else if (S_ISLNK(st.st_mode)) {
        f.type = FileFacts::Type::Symlink;
    }
    f.mode = st.st_mode & 07777;
    f.uid = st.st_uid;
    f.size = static_cast<int64_t>(st.st_size);
    f.mtime_ms = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1000000;
    *err = 0;
    return f;
}

unsigned effective_uid() {
    return ::geteuid();
}

Status chmod_dir_at(int dir, const std::string& name, unsigned mode) {
    if (name.empty()) {
        if (::fchmod(dir, mode) != 0) return {errno};
        return {};
    }
    Fd fd = open_dir(dir, name, nullptr, /*nofollow=*/true);
    if (!fd) return {errno};
    if (::fchmod(fd.get(), mode) != 0) return {errno};
    return {};
}

Status make_dir_at(int dir, const std::string& name, unsigned mode) {
    if (::mkdirat(dir, name.c_str(), mode) != 0 && errno != EEXIST) return {errno};
    return {};
}

Status rename_noreplace_at(int from_dir, const std::string& from, int to_dir,
                           const std::string& to) {
    long rc =
        ::syscall(SYS_renameat2, from_dir, from.c_str(), to_dir, to.c_str(), RENAME_NOREPLACE);
    if (rc == 0) return {};
    if (errno != EINVAL && errno != ENOSYS) return {errno};
    // A filesystem without RENAME_NOREPLACE: check, then rename.
    struct stat st;
    if (::fstatat(to_dir, to.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return {EEXIST};
    if (errno != ENOENT) return {errno};
    return rename_at(from_dir, from, to_dir, to);
}

Status rename_at(int from_dir, const std::string& from, int to_dir, const std::string& to) {
    if (::renameat(from_dir, from.c_str(), to_dir, to.c_str()) != 0) return {errno};
    return {};
}

Status truncate_fd(int fd) {
    if (::ftruncate(fd, 0) != 0) return {errno};
    return {};
}

} // namespace loop::os
