#include "core/home.hpp"

#include "core/error.hpp"
#include "os/fs.hpp"

#include <fcntl.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace loop {

std::string Home::resolve(const std::string& flag) {
    if (!flag.empty()) return flag;
    if (const char* e = std::getenv("LOOP_HOME"); e && *e) return e;
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/loop";
    const char* h = std::getenv("HOME");
    if (!h || !*h)
        throw Error(Exit::Usage, "cannot find the home directory: set LOOP_HOME or use --home DIR");
    return std::string(h) + "/.local/state/loop";
}

Home::Home(std::string path) : path_(std::move(path)) {
    while (path_.size() > 1 && path_.back() == '/')
        path_.pop_back();
    int err = 0;
    root_ = os::open_dir(AT_FDCWD, path_, &err, /*nofollow=*/false);
    if (!root_ && err == ENOENT) {
        os::Status s = os::make_dirs(path_, 0700);
        if (!s.ok()) throw io_error("cannot create home " + path_, s.err);
        root_ = os::open_dir(AT_FDCWD, path_, &err, false);
    }
    if (!root_) throw io_error("cannot open home " + path_, err);
    check_trusted();
}

// Like ssh and tmux: a home another user owns, or may write to, can have
// its records swapped under a claimer, so it is not used at all.
void Home::check_trusted() const {
    os::DirOwner o;
    unsigned me = 0;
    os::Status s = os::owner_of(root_.get(), &o, &me);
    if (!s.ok()) throw io_error("cannot examine home " + path_, s.err);
    if (o.uid != me)
        throw Error(Exit::Failure, "home " + path_ + " is owned by uid " + std::to_string(o.uid) +
                                       ", not by this user (uid " + std::to_string(me) +
                                       "), so it is not safe to use; use a home of your own "
                                       "(--home or LOOP_HOME), or 'chown " +
                                       std::to_string(me) + " " + path_ + "'");
    if (o.mode & 022) {
        char mode[16];
        std::snprintf(mode, sizeof mode, "%04o", o.mode & 07777);
        throw Error(Exit::Failure, "home " + path_ + " has mode " + mode +
                                       ": others can write to it, so it is not safe to use; "
                                       "fix it with 'chmod 700 " +
                                       path_ + "'");
    }
}

int Home::sub(os::Fd& slot, const char* name) {
    std::lock_guard<std::mutex> g(open_);
    if (slot) return slot.get();
    int err = 0;
    slot = os::open_dir(root_.get(), name, &err);
    if (!slot && err == ENOENT) {
        os::Status s = os::make_subdir_at(root_.get(), name, 0700);
        if (!s.ok() && s.err != EEXIST) throw io_error("cannot create " + sub_path(name), s.err);
        slot = os::open_dir(root_.get(), name, &err);
    }
    if (!slot) {
        if (err == ELOOP || err == ENOTDIR)
            throw Error(Exit::Failure, sub_path(name) +
                                           " is a symlink or not a directory, which is not "
                                           "followed; move it away ('loop doctor' shows it)");
        throw io_error("cannot open " + sub_path(name), err);
    }
    return slot.get();
}

int Home::claims() {
    return sub(claims_, "claims");
}
int Home::locks() {
    return sub(locks_, "locks");
}
int Home::sessions() {
    return sub(sessions_, "sessions");
}
int Home::txns() {
    return sub(txns_, "txn");
}
int Home::logs() {
    return sub(logs_, "logs");
}
int Home::wake() {
    return sub(wake_, "wake");
}

} // namespace loop
