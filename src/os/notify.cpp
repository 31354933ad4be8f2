#include "os/notify.hpp"

#include "os/bell.hpp"
#include "os/proc.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>

namespace loop::os {

bool ChangeWaiter::watch_dirs(const std::vector<std::string>& paths, int* err) {
    if (!inotify_) {
        inotify_ = Fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (!inotify_) {
            *err = errno;
            return false;
        }
    }
    for (const auto& p : paths) {
        if (::inotify_add_watch(inotify_.get(), p.c_str(),
                                IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                    IN_CLOSE_WRITE | IN_ONLYDIR) < 0) {
            *err = errno;
            return false;
        }
    }
    return true;
}

bool ChangeWaiter::watch_file(const std::string& path, int* err) {
    if (!inotify_) {
        inotify_ = Fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (!inotify_) {
            *err = errno;
            return false;
        }
    }
    if (::inotify_add_watch(inotify_.get(), path.c_str(),
                            IN_MODIFY | IN_CLOSE_WRITE | IN_MOVE_SELF | IN_DELETE_SELF) < 0) {
        *err = errno;
        return false;
    }
    return true;
}

bool ChangeWaiter::watch_content(const std::string& path, int* err) {
    for (const auto& p : content_paths_)
        if (p == path) return true;
    if (!inotify_) {
        inotify_ = Fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
        if (!inotify_) {
            *err = errno;
            return false;
        }
    }
    if (::inotify_add_watch(inotify_.get(), path.c_str(),
                            IN_MODIFY | IN_MOVE_SELF | IN_DELETE_SELF) < 0) {
        *err = errno;
        return false;
    }
    content_paths_.push_back(path);
    return true;
}

bool ChangeWaiter::watch_bell(int dir, const std::string& file, int* err) {
    for (auto& b : bells_) {
        if (b.dir != dir || b.file != file) continue;
        if (!b.fd) b.fd = listen_bell(dir, file, err);
        return b.fd.valid();
    }
    Fd fd = listen_bell(dir, file, err);
    if (!fd) return false;
    bells_.push_back({dir, file, std::move(fd)});
    return true;
}

void ChangeWaiter::watch_pids(const std::vector<int>& pids) {
    if (pids == pids_) return; // same holders: keep their pidfds
    pids_ = pids;
    pidfds_.clear();
    for (int pid : pids) {
        int err = 0;
        Fd fd = pidfd_open(pid, &err);
        if (fd) pidfds_.push_back(std::move(fd));
    }
}

bool ChangeWaiter::drain_matches() {
    bool match = false;
    alignas(inotify_event) char buf[4096];
    for (;;) {
        ssize_t n = ::read(inotify_.get(), buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
            auto* ev = reinterpret_cast<inotify_event*>(buf + off);
            off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
            if (names_.empty() || ev->len == 0 || (ev->mask & IN_Q_OVERFLOW)) {
                match = true;
                continue;
            }
            const char* name = ev->name;
            if (name[0] == '.') continue; // temp files of atomic writes
            if (removals_only_ && !(ev->mask & (IN_DELETE | IN_MOVED_FROM))) continue;
            for (const auto& want : names_)
                if (want == name) match = true;
        }
    }
    return match;
}

bool ChangeWaiter::wait(int timeout_ms) {
    std::vector<pollfd> fds;
    if (inotify_) fds.push_back({inotify_.get(), POLLIN, 0});
    const size_t first_bell = fds.size();
    for (const auto& b : bells_)
        fds.push_back({b.fd.get(), POLLIN, 0});
    const size_t first_pid = fds.size();
    for (const auto& p : pidfds_)
        fds.push_back({p.get(), POLLIN, 0});
    int64_t deadline = timeout_ms < 0 ? -1 : monotonic_ms() + timeout_ms;
    for (;;) {
        int left = -1;
        if (deadline >= 0) {
            int64_t d = deadline - monotonic_ms();
            left = d < 0 ? 0 : static_cast<int>(d);
        }
        int n = ::poll(fds.data(), fds.size(), left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return true; // let the caller re-check
        }
        if (n == 0) return false;
        bool rang = false;
        for (size_t i = first_bell; i < first_pid; ++i) {
            if (!fds[i].revents) continue;
            // Listen again before the caller looks, so that the next ring,
            // even one during its look, is seen by the next wait. A bell
            // that cannot be listened to again stays silent (fd -1, which
            // poll skips): the caller's periodic re-check covers it.
            Bell& b = bells_[i - first_bell];
            int err = 0;
            b.fd = relisten_ ? listen_bell(b.dir, b.file, &err) : Fd();
            rang = true;
        }
        if (rang) return true;
        for (size_t i = first_pid; i < fds.size(); ++i)
            if (fds[i].revents) {
                pids_.clear(); // a holder exited: reopen next time
                return true;
            }
        // Only a change of a name we wait for is worth a re-check.
        if (inotify_ && drain_matches()) return true;
    }
}

} // namespace loop::os
