#include "core/home.hpp"

#include "core/error.hpp"
#include "os/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
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
}

int Home::sub(os::Fd& slot, const char* name) {
    if (slot) return slot.get();
    int err = 0;
    slot = os::open_dir(root_.get(), name, &err);
    if (!slot && err == ENOENT) {
        if (::mkdirat(root_.get(), name, 0700) != 0 && errno != EEXIST)
            throw io_error("cannot create " + sub_path(name), errno);
        slot = os::open_dir(root_.get(), name, &err);
    }
    if (!slot) {
        if (err == ELOOP || err == ENOTDIR)
            throw Error(Exit::Failure,
                        sub_path(name) + " is not a directory (a symlink?); move it away");
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

} // namespace loop
