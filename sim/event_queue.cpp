#include "sim/event_queue.h"

#include <stdexcept>
#include <string>

namespace seedchip::sim {

void EventQueue::schedule(Tick when, Callback callback, EventPriority priority) {
  if (when < now_)
    throw std::logic_error("event scheduled at tick " + std::to_string(when) +
                           " before the current tick " + std::to_string(now_));
  heap_.push(Event{when, static_cast<int8_t>(priority), next_sequence_++, std::move(callback)});
}

void EventQueue::set_progress(uint64_t interval, std::function<void(Tick)> callback) {
  progress_interval_ = interval;
  progress_ = std::move(callback);
}

bool EventQueue::run() {
  while (!heap_.empty()) {
    if (stop_requested()) return false;
    // priority_queue::top is const; the callback is moved out before pop, which is safe because
    // pop only compares the keys.
    Event& top = const_cast<Event&>(heap_.top());
    now_ = top.tick;
    Callback callback = std::move(top.callback);
    heap_.pop();
    callback();
    ++executed_;
    if (progress_interval_ != 0 && executed_ % progress_interval_ == 0) progress_(now_);
  }
  return true;
}

}  // namespace seedchip::sim
