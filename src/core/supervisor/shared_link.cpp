#include "core/supervisor/shared_link.hpp"

#include "core/error.hpp"
#include "core/text.hpp"
#include "os/proc.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <type_traits>

namespace loop {

SharedLink::SharedLink(Hooks hooks) : hooks_(std::move(hooks)) {
    if (!hooks_.clock) hooks_.clock = [] { return os::monotonic_ms(); };
}

int64_t SharedLink::now() const {
    return hooks_.clock();
}

int64_t SharedLink::retry_in_ms() const {
    if (!outage_.down()) return 0;
    return std::max<int64_t>(0, outage_.next_try() - now());
}

template <class F> auto SharedLink::call(F&& f) -> decltype(f()) {
    if (!outage_.may_try(now()))
        throw Error(Exit::Failure, last_failure_ + " (backing off; next try in " +
                                       format_age(retry_in_ms()) + ")");
    // The connection of a failed call is closed for good: a try connects anew.
    if (outage_.down() && hooks_.reconnect) hooks_.reconnect();
    try {
        if constexpr (std::is_void_v<decltype(f())>) {
            f();
            on_success();
        } else {
            auto r = f();
            on_success();
            return r;
        }
    } catch (const Error& e) {
        // An answer that refuses (a usage error) is an answer.
        if (e.code() == Exit::Failure) on_failure(e.message());
        throw;
    }
}

void SharedLink::on_failure(const std::string& why) {
    last_failure_ = why;
    if (outage_.failed(now()))
        spdlog::error("{}; the shared backend is not answering: dead workers' claims stay "
                      "held until their release succeeds, events are queued (at most {}), "
                      "the metrics wait; next try in {}",
                      why, EventQueue::kCapacity, format_age(outage_.delay()));
}

void SharedLink::on_success() {
    const int64_t since = outage_.since();
    if (!outage_.succeeded()) return;
    spdlog::info("the shared backend is answering again after {}", format_age(now() - since));
}

void SharedLink::put(const SessionRecord& s) {
    call([&] { hooks_.workers->put(s); });
}

std::vector<std::string> SharedLink::release(const std::string& id, const std::string& event) {
    return call([&] { return hooks_.workers->release(id, event); });
}

void SharedLink::drop(const std::string& id) {
    call([&] { hooks_.workers->drop(id); });
}

std::vector<std::pair<SessionRecord, Verdict>> SharedLink::list(std::vector<std::string>* errors) {
    return call([&] { return hooks_.workers->list(errors); });
}

void SharedLink::forward(const std::string& event, const nlohmann::json& fields) {
    nlohmann::json f = fields.is_object() ? fields : nlohmann::json::object();
    if (!f.contains("ts_ms")) f["ts_ms"] = os::now_ms();
    queue_.push({event, std::move(f)});
    flush_events();
}

bool SharedLink::flush_events() {
    while (!queue_.empty()) {
        if (!outage_.may_try(now())) return false;
        try {
            call([&] { hooks_.record_event(queue_.front().name, queue_.front().fields); });
        } catch (const Error&) {
            return false; // logged once per outage
        }
        queue_.pop();
        if (uint64_t n = queue_.take_dropped())
            spdlog::warn("{} event(s) were dropped while the shared backend did not answer "
                         "(the queue keeps the last {})",
                         n, EventQueue::kCapacity);
    }
    return true;
}

std::optional<std::string> SharedLink::render(bool supervisor_up) {
    if (!outage_.may_try(now())) return std::nullopt;
    try {
        return call([&] { return hooks_.render(supervisor_up); });
    } catch (const Error& e) {
        // A failure is logged once per outage; anything else each time.
        if (e.code() != Exit::Failure) spdlog::warn("metrics: {}", e.message());
    } catch (const std::exception& e) {
        spdlog::warn("metrics: {}", e.what());
    }
    return std::nullopt;
}

} // namespace loop
