#include "core/file_store.hpp"

#include "core/error.hpp"
#include "os/fs.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace loop {

namespace {

bool is_record_name(const std::string& n) {
    return !n.empty() && n[0] != '.';
}

std::vector<std::string> record_names(int dir, const std::string& what) {
    int err = 0;
    auto all = os::list_dir(dir, &err);
    if (err) throw io_error("cannot list " + what, err);
    std::vector<std::string> out;
    for (auto& n : all)
        if (is_record_name(n)) out.push_back(std::move(n));
    return out;
}

// Fails loudly where exclusion cannot be guaranteed.
void lock_or_throw(int fd, const std::string& path) {
    os::Status s = os::lock_exclusive(fd);
    if (s.ok()) return;
    if (s.err == ENOLCK || s.err == EOPNOTSUPP || s.err == EINVAL || s.err == ENOSYS)
        throw Error(Exit::Failure, path + ": this filesystem does not support flock(2), so claims "
                                          "cannot be made exclusive; put the loop home on a local "
                                          "filesystem (--home or LOOP_HOME)");
    throw io_error("cannot lock " + path, s.err);
}

class FileClaimLock : public ClaimLock {
  public:
    FileClaimLock(Home& home, const std::vector<std::string>& names) : home_(home) {
        int dir = home.locks();
        for (const auto& n : names) {
            int err = 0;
            os::Fd fd = os::open_lock_file(dir, n, &err);
            if (!fd) throw io_error("cannot open " + home.sub_path("locks") + "/" + n, err);
            lock_or_throw(fd.get(), home.sub_path("locks") + "/" + n);
            held_.push_back({n, std::move(fd)});
        }
    }

    uint64_t next_fence(const std::string& name) override {
        for (auto& h : held_) {
            if (h.name != name) continue;
            int err = 0;
            auto text = os::pread_all(h.fd.get(), &err);
            const std::string path = home_.sub_path("locks") + "/" + name;
            if (!text) throw io_error("cannot read " + path, err);
            uint64_t last = 0;
            if (!text->empty()) {
                char* end = nullptr;
                last = std::strtoull(text->c_str(), &end, 10);
                if (end == text->c_str())
                    throw Error(Exit::Failure,
                                path + ": corrupt fence counter; run 'loop doctor --repair'");
            }
            char buf[32];
            // Fixed width: a rewrite never leaves a shorter, torn number behind.
            std::snprintf(buf, sizeof buf, "%020llu\n", static_cast<unsigned long long>(last + 1));
            os::Status s = os::pwrite_all(h.fd.get(), buf);
            if (!s.ok()) throw io_error("cannot write " + path, s.err);
            return last + 1;
        }
        throw Error(Exit::Failure, "internal: fence asked for unlocked name " + name);
    }

  private:
    struct Held {
        std::string name;
        os::Fd fd;
    };
    Home& home_;
    std::vector<Held> held_;
};

} // namespace

std::unique_ptr<ClaimLock> FileClaimStore::lock(const std::vector<std::string>& names) {
    return std::make_unique<FileClaimLock>(home_, names);
}

std::optional<ClaimRecord> FileClaimStore::read(const std::string& name) {
    int err = 0;
    auto text = os::read_file_at(home_.claims(), name, &err);
    const std::string path = home_.sub_path("claims") + "/" + name;
    if (!text) {
        if (err == ENOENT) return std::nullopt;
        throw io_error("cannot read " + path, err);
    }
    return claim_from_json_text(*text, path);
}

void FileClaimStore::write(const ClaimRecord& record) {
    os::Status s = os::replace_file_at(home_.claims(), record.name, to_json_text(record));
    if (!s.ok())
        throw io_error("cannot write " + home_.sub_path("claims") + "/" + record.name, s.err);
}

void FileClaimStore::erase(const std::string& name) {
    os::Status s = os::unlink_at(home_.claims(), name);
    if (!s.ok() && s.err != ENOENT)
        throw io_error("cannot remove " + home_.sub_path("claims") + "/" + name, s.err);
}

std::vector<std::string> FileClaimStore::names() {
    return record_names(home_.claims(), home_.sub_path("claims"));
}

void FileClaimStore::commit_txn(const std::string& id, const Anchor& owner) {
    os::Status s = os::create_file_at(home_.txns(), id, txn_marker_text(owner));
    if (!s.ok()) throw io_error("cannot write " + home_.sub_path("txn") + "/" + id, s.err);
}

bool FileClaimStore::txn_committed(const std::string& id) {
    // Only a clear "no such marker" makes the acquisition interrupted: an
    // unreadable one must not let a committed holder be taken over.
    int err = 0;
    bool exists = os::exists_at(home_.txns(), id, &err);
    if (err) throw io_error("cannot check " + home_.sub_path("txn") + "/" + id, err);
    return exists;
}

std::optional<Anchor> FileClaimStore::txn_owner(const std::string& id) {
    int err = 0;
    auto text = os::read_file_at(home_.txns(), id, &err);
    if (!text) return std::nullopt;
    return txn_marker_owner(*text);
}

void FileClaimStore::drop_txn(const std::string& id) {
    os::unlink_at(home_.txns(), id);
}

std::vector<std::string> FileClaimStore::txns() {
    return record_names(home_.txns(), home_.sub_path("txn"));
}

std::vector<std::string> FileClaimStore::watch_paths() {
    home_.claims();
    return {home_.sub_path("claims")};
}

// Sessions.

std::optional<SessionRecord> FileSessionRegistry::read(const std::string& id) {
    int err = 0;
    auto text = os::read_file_at(home_.sessions(), id, &err);
    const std::string path = home_.sub_path("sessions") + "/" + id;
    if (!text) {
        if (err == ENOENT) return std::nullopt;
        throw io_error("cannot read " + path, err);
    }
    return session_from_json_text(*text, path);
}

bool FileSessionRegistry::create(const SessionRecord& s) {
    os::Status st = os::create_file_at(home_.sessions(), s.id, to_json_text(s));
    if (st.err == EEXIST) return false;
    if (!st.ok()) throw io_error("cannot write " + home_.sub_path("sessions") + "/" + s.id, st.err);
    return true;
}

void FileSessionRegistry::write(const SessionRecord& s) {
    os::Status st = os::replace_file_at(home_.sessions(), s.id, to_json_text(s));
    if (!st.ok()) throw io_error("cannot write " + home_.sub_path("sessions") + "/" + s.id, st.err);
}

void FileSessionRegistry::erase(const std::string& id) {
    os::Status s = os::unlink_at(home_.sessions(), id);
    if (!s.ok() && s.err != ENOENT)
        throw io_error("cannot remove " + home_.sub_path("sessions") + "/" + id, s.err);
}

std::vector<std::string> FileSessionRegistry::ids() {
    return record_names(home_.sessions(), home_.sub_path("sessions"));
}

std::optional<int64_t> FileSessionRegistry::changed_ms(const std::string& id) {
    auto m = os::mtime_ms_at(home_.sessions(), id);
    if (!m) return std::nullopt;
    return *m;
}

namespace {
class FileSessionLock : public SessionLock {
  public:
    explicit FileSessionLock(os::Fd fd) : fd_(std::move(fd)) {}

  private:
    os::Fd fd_;
};
} // namespace

std::unique_ptr<SessionLock> FileSessionRegistry::lock() {
    int err = 0;
    os::Fd fd = os::open_lock_file(home_.sessions(), ".lock", &err);
    const std::string path = home_.sub_path("sessions") + "/.lock";
    if (!fd) throw io_error("cannot open " + path, err);
    lock_or_throw(fd.get(), path);
    return std::make_unique<FileSessionLock>(std::move(fd));
}

std::vector<std::string> FileSessionRegistry::watch_paths() {
    home_.sessions();
    return {home_.sub_path("sessions")};
}

} // namespace loop
