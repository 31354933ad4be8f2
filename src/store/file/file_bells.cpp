// The file backend's doorbells: wake/NAME, one FIFO per claim name, rung
// to wake everyone who waits for the name, and wake/.w-TICKET, one per
// waiter, rung when that waiter is the one to let in (and with everyone
// for a waiter that hears only its own: wait_queue.hpp, rung_alone). A
// ring opens the FIFO for writing without blocking and writes nothing;
// with nobody listening it is one failed open.
#include "core/claims/wait_queue.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "os/bell.hpp"
#include "os/fs.hpp"
#include "os/proc.hpp"
#include "store/file/file_store.hpp"

#include <cctype>

namespace loop {

bool FileClaimStore::ring(int dir, const std::string& path) {
    os::Fd bell = os::press_bell(dir, path);
    if (!bell) return false;
    // Under a lock, the ring waits for it to be let go of: a waiter woken
    // at once would only wait for the lock, on a CPU the ringer needs.
    if (pressed_.locks > 0) pressed_.bells.push_back(std::move(bell));
    return true;
}

void FileClaimStore::wake_waiters(const std::string& name) {
    // Relative to the home: no descriptor of wake/ is opened for a ring,
    // and none is created by it.
    ring(home_.root(), "wake/" + name_file(name));
}

bool FileClaimStore::listen(const std::string& name, os::ChangeWaiter& waiter) {
    int err = 0;
    try {
        return waiter.watch_bell(home_.wake(), name_file(name), &err);
    } catch (const Error&) {
        return false; // a home where wake/ cannot be made: the caller polls
    }
}

namespace {

// A waiter's own bell: wake/.w-TICKET. No claim name starts with '.', so
// it is never a name's bell; a ticket id that is not plain (a queue
// edited by hand) has none.
std::optional<std::string> waiter_bell(const std::string& ticket) {
    if (ticket.empty() || ticket.size() > 64) return std::nullopt;
    for (char c : ticket)
        if (!std::isalnum(static_cast<unsigned char>(c))) return std::nullopt;
    return ".w-" + ticket;
}

} // namespace

bool FileClaimStore::wake_waiter(const std::string& ticket) {
    auto file = waiter_bell(ticket);
    return file && ring(home_.root(), "wake/" + *file);
}

bool FileClaimStore::listen_as(const std::string& ticket, os::ChangeWaiter& waiter) {
    auto file = waiter_bell(ticket);
    if (!file) return false;
    int err = 0;
    try {
        return waiter.watch_bell(home_.wake(), *file, &err);
    } catch (const Error&) {
        return false;
    }
}

void FileClaimStore::forget_waiter(const std::string& ticket) {
    auto file = waiter_bell(ticket);
    if (!file) return;
    try {
        (void)os::unlink_at(home_.wake(), *file);
    } catch (const Error&) {
        // A bell left behind costs one FIFO under wake/, never a wake-up.
    }
}

size_t FileClaimStore::reap_waiter_bells(bool dry_run) {
    if (!os::is_directory_at(home_.root(), "wake")) return 0;
    const int dir = home_.wake();
    const int64_t now = os::now_ms();
    size_t removed = 0;
    int err = 0;
    for (const auto& file : os::list_dir(dir, &err)) {
        if (file.rfind(".w-", 0) != 0) continue;
        // Young: its waiter may be between making it and opening it. Rung
        // with a listener: a waiter waiting long (it only rechecks).
        auto made = os::mtime_ms_at(dir, file);
        if (!made || now - *made <= kTicketStaleMs || os::ring_bell(dir, file)) continue;
        if (dry_run || os::unlink_at(dir, file).ok()) ++removed;
    }
    return removed;
}

} // namespace loop
