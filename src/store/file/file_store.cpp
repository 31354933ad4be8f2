#include "store/file/file_store.hpp"

#include "core/claims/wait_queue.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "os/fs.hpp"
#include "os/proc.hpp"
#include "store/file/lock_file.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace loop {

namespace {

// A name's contention note: a dot-file, so never any name's file.
const char* const kNotePrefix = ".contended.";

std::string note_file(const std::string& name) {
    return kNotePrefix + name_file(name);
}

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

// A record that exists but cannot be read: held (never taken for free),
// and the message says how to get the home working again.
[[noreturn]] void unreadable(const std::string& path, int err) {
    std::string msg = "cannot read " + path + ": " + os::read_error_text(err);
    if (err == os::kNotRegular || err == os::kTooLarge || err == ELOOP)
        msg += "; run 'loop doctor --repair' to move it aside";
    throw Error(Exit::Failure, msg);
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
    FileClaimLock(Home& home, const std::string& boot, const std::vector<std::string>& names,
                  FileClaimStore::PressedBells& pressed)
        : home_(home), boot_(boot), pressed_(pressed) {
        int dir = home.locks();
        for (const auto& n : names) {
            int err = 0;
            bool read_only = false;
            os::Fd fd = os::open_lock_file(dir, name_file(n), &err, &read_only);
            if (!fd) throw io_error("cannot open " + path_of(n), err);
            read_only_ = read_only_ || read_only;
            lock_or_throw(fd.get(), path_of(n));
            held_.push_back({n, std::move(fd), std::nullopt});
        }
    }

    uint64_t next_fence(const std::string& name, uint64_t above) override {
        const int fd = fd_of(name);
        const std::string text = read(fd, name);
        uint64_t last = 0;
        CounterText kind = parse_fence_counter(text, &last);
        if (kind == CounterText::Corrupt)
            throw Error(Exit::Failure, path_of(name) +
                                           ": corrupt fence counter (not a number below 2^64); "
                                           "run 'loop doctor --repair'");
        // A counter born now, or written on this boot, is exact; any other
        // (an earlier boot, a power loss, an older layout) may lag behind
        // what was handed out.
        const bool born = kind == CounterText::Empty;
        const bool trusted = born || (!boot_.empty() && header_boot(text) == boot_);
        auto next = next_fence_value(last, above, trusted, static_cast<uint64_t>(os::now_us()));
        if (!next)
            throw Error(Exit::Failure, path_of(name) +
                                           ": the fence counter is exhausted (2^64-1); claims "
                                           "of this name cannot be fenced any more");
        write_at(fd, name, header_text(*next, boot_), 0);
        if (born) {
            // The one write of a name that must survive a power loss: after
            // it, the boot id on disk makes any later loss visible.
            os::Status s = os::sync_fd(fd);
            if (s.ok()) s = os::sync_fd(home_.locks());
            if (!s.ok()) throw io_error("cannot sync " + path_of(name), s.err);
        }
        return *next;
    }

    std::vector<WaitTicket> queue(const std::string& name) override {
        Held& h = held(name);
        // A queue of another boot has no waiter left; an unreadable one
        // only costs fairness.
        if (!h.text) {
            int err = 0;
            h.text = os::pread_all(h.fd.get(), &err);
        }
        if (!h.text || boot_.empty() || header_boot(*h.text) != boot_) return {};
        return queue_from_text(queue_part(*h.text));
    }

    void set_queue(const std::string& name, const std::vector<WaitTicket>& q) override {
        const int fd = fd_of(name);
        const std::string text = read(fd, name);
        if (header_boot(text) != boot_ || boot_.empty()) {
            // No header of this boot: keep the counter, but mark it as not
            // written on this boot, so the next fence does not trust it.
            uint64_t last = 0;
            if (parse_fence_counter(text, &last) == CounterText::Corrupt) return;
            write_at(fd, name, header_text(last, "-"), 0);
        }
        if (read_only_) throw io_error("cannot write " + path_of(name), EROFS);
        const std::string body = queue_to_text(q);
        write_at(fd, name, body, kLockHeaderSize);
        Held& h = held(name);
        std::optional<std::string> now = std::move(h.text);
        os::Status s = os::set_size(fd, kLockHeaderSize + body.size());
        if (!s.ok()) throw io_error("cannot write " + path_of(name), s.err);
        if (now) now->resize(kLockHeaderSize + body.size(), '\0');
        h.text = std::move(now);
    }

    std::optional<ContentionNote> contention(const std::string& name) override {
        fd_of(name); // covered by this lock
        int err = 0;
        auto text = os::read_file_at(home_.locks(), note_file(name), &err, kNoteSize);
        if (!text) return std::nullopt;
        return note_from_text(*text);
    }

    bool set_contention(const std::string& name, const ContentionNote& note) override {
        fd_of(name);
        if (read_only_) return false;
        const std::string text = note_to_text(note);
        if (text.size() != kNoteSize) return false;
        int err = 0;
        os::Fd fd = os::open_lock_file(home_.locks(), note_file(name), &err);
        if (!fd) return false;
        // Always the same length at the same place: never a torn tail.
        return os::pwrite_at(fd.get(), text, 0).ok() && os::set_size(fd.get(), kNoteSize).ok();
    }

  private:
    // A lock file's text is read once while it is held (nobody else writes
    // it then) and kept up to date by this lock's own writes.
    struct Held {
        std::string name;
        os::Fd fd;
        std::optional<std::string> text;
    };

    Held& held(const std::string& name) {
        for (auto& h : held_)
            if (h.name == name) return h;
        throw Error(Exit::Failure, "internal: " + name + " is not locked");
    }

    std::string path_of(const std::string& name) const {
        return home_.sub_path("locks") + "/" + name_file(name);
    }
    int fd_of(const std::string& name) { return held(name).fd.get(); }
    std::string read(int fd, const std::string& name) {
        Held& h = held(name);
        if (h.text) return *h.text;
        int err = 0;
        auto text = os::pread_all(fd, &err);
        if (!text) throw io_error("cannot read " + path_of(name), err);
        h.text = *text;
        return *text;
    }
    void write_at(int fd, const std::string& name, const std::string& data, uint64_t at) {
        if (read_only_) throw io_error("cannot write " + path_of(name), EROFS);
        Held& h = held(name);
        std::optional<std::string> text = std::move(h.text);
        h.text.reset(); // unknown if the write fails part-way
        os::Status s = os::pwrite_at(fd, data, at);
        if (!s.ok()) throw io_error("cannot write " + path_of(name), s.err);
        if (text) {
            if (text->size() < at + data.size()) text->resize(at + data.size(), '\0');
            text->replace(at, data.size(), data);
            h.text = std::move(text);
        }
    }

    Home& home_;
    const std::string& boot_;
    // The bells rung under this lock ring once the lock files below are
    // closed: this goes after them.
    FileClaimStore::PressedBells::Hold pressed_;
    std::vector<Held> held_;
    bool read_only_ = false; // some lock file could only be opened for reading
};

} // namespace

std::unique_ptr<ClaimLock> FileClaimStore::lock(const std::vector<std::string>& names) {
    return std::make_unique<FileClaimLock>(home_, os::boot_id(), names, pressed_);
}

std::optional<ClaimRecord> FileClaimStore::read(const std::string& name) {
    int err = 0;
    const std::string file = name_file(name);
    auto text = os::read_file_at(home_.claims(), file, &err);
    const std::string path = home_.sub_path("claims") + "/" + file;
    if (!text) {
        if (err == ENOENT) return std::nullopt;
        unreadable(path, err);
    }
    ClaimRecord rec = claim_from_json_text(*text, path);
    // A record is valid only under its own file name: a copy under another
    // name must not let a change of that name write (or decide) this one.
    if (rec.name != name)
        throw Error(Exit::Failure, path + ": corrupt record (its 'name' field says '" +
                                       printable(rec.name) +
                                       "', not its file name); run 'loop doctor --repair' or "
                                       "remove the file");
    return rec;
}

void FileClaimStore::write(const ClaimRecord& record) {
    const std::string file = name_file(record.name);
    os::Status s = os::replace_file_at(home_.claims(), file, to_json_text(record));
    if (!s.ok()) throw io_error("cannot write " + home_.sub_path("claims") + "/" + file, s.err);
}

void FileClaimStore::erase(const std::string& name) {
    const std::string file = name_file(name);
    os::Status s = os::unlink_at(home_.claims(), file);
    if (!s.ok() && s.err != ENOENT)
        throw io_error("cannot remove " + home_.sub_path("claims") + "/" + file, s.err);
}

std::vector<std::string> FileClaimStore::names() {
    // A file whose name decodes to no claim name is no claim (doctor
    // reports it): nothing can claim, reap or lock it by that name.
    std::vector<std::string> out;
    for (const auto& file : record_names(home_.claims(), home_.sub_path("claims")))
        if (auto name = file_name_claim(file)) out.push_back(std::move(*name));
    return out;
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

std::vector<std::pair<std::string, ContentionNote>> FileClaimStore::contention_notes() {
    std::vector<std::pair<std::string, ContentionNote>> out;
    int err = 0;
    const int dir = home_.locks();
    for (const auto& file : os::list_dir(dir, &err)) {
        if (file.rfind(kNotePrefix, 0) != 0) continue;
        auto name = file_name_claim(std::string_view(file).substr(std::strlen(kNotePrefix)));
        if (!name) continue;
        auto text = os::read_file_at(dir, file, &err, kNoteSize);
        if (!text) continue;
        if (auto note = note_from_text(*text)) out.emplace_back(std::move(*name), std::move(*note));
    }
    return out;
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
        unreadable(path, err);
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
