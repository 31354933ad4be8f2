#include "core/supervisor/outage.hpp"

#include <algorithm>

namespace loop {

bool Outage::failed(int64_t now) {
    const bool first = !down_;
    if (first) {
        down_ = true;
        since_ = now;
        delay_ = first_ms_;
    } else {
        delay_ = std::min(delay_ * 2, max_ms_);
    }
    next_try_ = now + delay_;
    return first;
}

bool Outage::succeeded() {
    const bool was_down = down_;
    down_ = false;
    delay_ = 0;
    next_try_ = 0;
    return was_down;
}

void EventQueue::push(Event e) {
    if (capacity_ == 0) {
        ++dropped_;
        return;
    }
    while (events_.size() >= capacity_) {
        events_.pop_front();
        ++dropped_;
    }
    events_.push_back(std::move(e));
}

uint64_t EventQueue::take_dropped() {
    uint64_t n = dropped_;
    dropped_ = 0;
    return n;
}

} // namespace loop
