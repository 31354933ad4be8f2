// The supervisor's --metrics-file: rendered again after every change that
// can move a figure (a worker's start or death, a claim file, an event
// appended by any process), at most once per kMetricsDelayMs, and written
// only when its text changed. On a shared backend (Redis) the changes of
// other hosts are not seen here: the file is rendered again every
// kSharedMetricsPeriodMs.
#include "core/error.hpp"
#include "core/supervisor/supervisor.hpp"
#include "os/fs.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>

#include <cstring>
#include <exception>

namespace loop {

namespace {

// A burst of appends (a busy loop of claims) costs one render per period.
constexpr uint64_t kMetricsDelayMs = 20;
constexpr uint64_t kSharedMetricsPeriodMs = 1000;

} // namespace

void Supervisor::watch_event_log() {
    if (options_.metrics_file.empty()) return;
    uv_timer_init(&loop_, &metrics_timer_);
    metrics_timer_.data = this;
    if (options_.render_metrics) {
        uv_timer_start(
            &metrics_timer_,
            [](uv_timer_t* t) { static_cast<Supervisor*>(t->data)->publish_metrics(); },
            kSharedMetricsPeriodMs, kSharedMetricsPeriodMs);
        return;
    }
    uv_fs_event_init(&loop_, &events_watch_);
    events_watch_.data = this;
    // The home directory, not the file: the log may not exist yet, and a
    // watch on the directory sees every append to it.
    int rc = uv_fs_event_start(
        &events_watch_,
        [](uv_fs_event_t* h, const char* name, int, int) {
            if (!name || std::strcmp(name, "events.jsonl") != 0) return;
            auto* sup = static_cast<Supervisor*>(h->data);
            if (uv_is_active(reinterpret_cast<uv_handle_t*>(&sup->metrics_timer_))) return;
            uv_timer_start(
                &sup->metrics_timer_,
                [](uv_timer_t* t) { static_cast<Supervisor*>(t->data)->publish_metrics(); },
                kMetricsDelayMs, 0);
        },
        core_.home.path().c_str(), 0);
    if (rc != 0)
        spdlog::warn("cannot watch {}: {}; {} follows the event log at each sweep",
                     core_.home.path(), uv_strerror(rc), options_.metrics_file);
}

std::string Supervisor::metrics_text() {
    if (options_.shared) {
        // While the shared backend does not answer: its last figures.
        if (auto text = options_.shared->render(!finished_)) last_shared_metrics_ = *text;
        if (last_shared_metrics_.empty())
            throw Error(Exit::Failure, "the shared backend is not answering");
        return last_shared_metrics_;
    }
    if (options_.render_metrics) return options_.render_metrics(!finished_);
    return render_metrics(core_, counters_, !finished_);
}

void Supervisor::publish_metrics() {
    if (options_.metrics_file.empty()) return;
    if (options_.shared && !options_.shared->may_try()) return; // backing off
    std::string text;
    try {
        text = metrics_text();
    } catch (const Error& e) {
        spdlog::warn("metrics: {}", e.message());
        return;
    } catch (const std::exception& e) {
        spdlog::warn("metrics: {}", e.what());
        return;
    }
    if (text == last_metrics_) return;
    const std::string& path = options_.metrics_file;
    std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
    if (dir.empty()) dir = "/";
    std::string name = path.substr(path.rfind('/') + 1);
    int err = 0;
    os::Fd d = os::open_dir(AT_FDCWD, dir, &err, false);
    os::Status st = d ? os::replace_file_at(d.get(), name, text) : os::Status{err};
    if (!st.ok()) {
        spdlog::warn("cannot write {}: {}", path, std::strerror(st.err));
        return;
    }
    last_metrics_ = std::move(text);
}

} // namespace loop
