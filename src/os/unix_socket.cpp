#include "os/unix_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace loop::os {

namespace {

// The address of `name` in `dir`: its full path when it fits, else the
// path through the directory's descriptor.
bool address_of(int dir, const std::string& dir_path, const std::string& name, sockaddr_un* out,
                socklen_t* len) {
    std::memset(out, 0, sizeof *out);
    out->sun_family = AF_UNIX;
    std::string path = dir_path + "/" + name;
    if (path.size() >= sizeof out->sun_path)
        path = "/proc/self/fd/" + std::to_string(dir) + "/" + name;
    if (path.size() >= sizeof out->sun_path) return false;
    std::memcpy(out->sun_path, path.data(), path.size());
    *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return true;
}

int64_t mono_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

} // namespace

void unlink_socket_at(int dir, const std::string& name) {
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode))
        ::unlinkat(dir, name.c_str(), 0);
}

Fd listen_unix(int dir, const std::string& dir_path, const std::string& name, int* err) {
    *err = 0;
    sockaddr_un addr{};
    socklen_t len = 0;
    if (!address_of(dir, dir_path, name, &addr, &len)) {
        *err = ENAMETOOLONG;
        return {};
    }
    struct stat st {};
    if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            *err = EEXIST;
            return {};
        }
        ::unlinkat(dir, name.c_str(), 0);
    }
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
        *err = errno;
        return {};
    }
    // Only its owner may connect (the home is 0700 as well).
    mode_t old = ::umask(077);
    int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len);
    int bind_err = errno;
    ::umask(old);
    if (rc != 0 || ::listen(fd.get(), 64) != 0) {
        *err = rc != 0 ? bind_err : errno;
        return {};
    }
    return fd;
}

Fd connect_unix(int dir, const std::string& dir_path, const std::string& name, int* err) {
    *err = 0;
    sockaddr_un addr{};
    socklen_t len = 0;
    if (!address_of(dir, dir_path, name, &addr, &len)) {
        *err = ENAMETOOLONG;
        return {};
    }
    Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        *err = errno;
        return {};
    }
    int rc;
    do {
        rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        *err = errno;
        return {};
    }
    return fd;
}

std::optional<unsigned> peer_uid(int fd) {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return std::nullopt;
    return static_cast<unsigned>(cred.uid);
}

Status send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return {errno};
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return {};
}

std::optional<std::string> read_line(int fd, size_t max, int timeout_ms, int* err) {
    *err = 0;
    std::string out;
    const int64_t deadline = timeout_ms < 0 ? -1 : mono_ms() + timeout_ms;
    char buf[4096];
    for (;;) {
        if (auto nl = out.find('\n'); nl != std::string::npos) {
            out.resize(nl);
            return out;
        }
        if (out.size() > max) {
            *err = EMSGSIZE;
            return std::nullopt;
        }
        int wait = -1;
        if (deadline >= 0) {
            int64_t left = deadline - mono_ms();
            if (left <= 0) {
                *err = ETIMEDOUT;
                return std::nullopt;
            }
            wait = static_cast<int>(left);
        }
        pollfd p{fd, POLLIN, 0};
        int rc = ::poll(&p, 1, wait);
        if (rc < 0) {
            if (errno == EINTR) continue;
            *err = errno;
            return std::nullopt;
        }
        if (rc == 0) continue; // the deadline check above ends it
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            *err = errno;
            return std::nullopt;
        }
        if (n == 0) return std::nullopt;
        out.append(buf, static_cast<size_t>(n));
    }
}

} // namespace loop::os
