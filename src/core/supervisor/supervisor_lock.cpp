#include "core/supervisor/supervisor_lock.hpp"

#include "core/error.hpp"
#include "os/doctor_fs.hpp"
#include "os/fs.hpp"
#include "os/proc.hpp"

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace loop {

namespace {

std::optional<SupervisorInfo> parse_info(const std::string& text) {
    SupervisorInfo info;
    unsigned long long ticks = 0;
    long long started = 0;
    char boot[64] = {0};
    if (std::sscanf(text.c_str(), "%d %llu %lld %63s", &info.anchor.pid, &ticks, &started, boot) <
        3)
        return std::nullopt;
    info.anchor.start_ticks = ticks;
    info.anchor.boot_id = boot;
    info.started_ms = started;
    if (auto nl = text.find('\n'); nl != std::string::npos && nl + 1 < text.size()) {
        auto j = nlohmann::json::parse(text.substr(nl + 1), nullptr, false);
        if (j.is_object()) {
            auto at = j.find("reload_failed_ms");
            auto why = j.find("reload_failed");
            if (at != j.end() && at->is_number_integer() && why != j.end() && why->is_string()) {
                info.reload_failed_ms = at->get<int64_t>();
                info.reload_failed_reason = why->get<std::string>();
            }
        }
    }
    return info;
}

} // namespace

SupervisorLock::SupervisorLock(Home& home) {
    int err = 0;
    home_path_ = home.path();
    const std::string path = home.path() + "/supervisor.lock";
    fd_ = os::open_lock_file(home.root(), "supervisor.lock", &err);
    if (!fd_) throw io_error("cannot open " + path, err);
    os::Status s = os::try_lock_exclusive(fd_.get());
    if (!s.ok()) {
        if (s.err == EWOULDBLOCK) {
            int e2 = 0;
            auto text = os::pread_all(fd_.get(), &e2);
            auto info = text ? parse_info(*text) : std::nullopt;
            throw Error(Exit::Busy, "a supervisor is already running for " + home.path() +
                                        (info ? " (pid " + std::to_string(info->anchor.pid) + ")"
                                              : std::string()));
        }
        throw io_error("cannot lock " + path +
                           " (a filesystem without flock(2)? use a local home directory)",
                       s.err);
    }
    ProcessProbe probe = ProcessProbe::system();
    Anchor me = anchor_of(os::self_pid(), probe);
    char buf[160];
    int n = std::snprintf(buf, sizeof buf, "%d %llu %lld %s\n", me.pid,
                          static_cast<unsigned long long>(me.start_ticks),
                          static_cast<long long>(os::now_ms()), me.boot_id.c_str());
    first_line_.assign(buf, static_cast<size_t>(n));
    write("");
}

SupervisorLock::~SupervisorLock() {
    if (fd_) (void)os::truncate_fd(fd_.get());
}

void SupervisorLock::write(const std::string& extra) {
    // In place, never empty: `loop status` reading it meanwhile still finds
    // the supervisor's line.
    if (os::Status s = os::replace_contents(fd_.get(), first_line_ + extra); !s.ok())
        throw io_error("cannot write " + home_path_ + "/supervisor.lock", s.err);
}

void SupervisorLock::note_reload_failed(int64_t ms, const std::string& reason) {
    std::string extra;
    if (ms > 0)
        extra = nlohmann::json({{"reload_failed_ms", ms}, {"reload_failed", reason}}).dump() + "\n";
    try {
        write(extra);
    } catch (const Error&) {
        // Only `loop status` misses it; the event log has it too.
    }
}

std::optional<SupervisorInfo> read_supervisor(Home& home, const ProcessProbe& probe) {
    int err = 0;
    auto text = os::read_file_at(home.root(), "supervisor.lock", &err);
    if (!text) return std::nullopt;
    auto info = parse_info(*text);
    if (!info) return std::nullopt;
    info->running = anchor_verdict(info->anchor, probe).life == Life::Alive;
    return info;
}

} // namespace loop
