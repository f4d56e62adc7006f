#include "sim/event_queue.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace seedchip::sim {

void EventQueue::schedule(Tick when, Callback callback, EventPriority priority) {
  if (when < now_)
    throw std::logic_error("event scheduled at tick " + std::to_string(when) +
                           " before the current tick " + std::to_string(now_));
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back(std::move(callback));
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
    slots_[slot] = std::move(callback);
  }
  const uint64_t rank = static_cast<uint64_t>(static_cast<int64_t>(priority) + 128);
  heap_.push_back(Key{when, rank << 56 | next_sequence_++, slot});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
}

void EventQueue::set_progress(uint64_t interval, std::function<void(Tick)> callback) {
  progress_interval_ = interval;
  progress_ = std::move(callback);
}

bool EventQueue::run() {
  while (!heap_.empty()) {
    if (stop_requested()) return false;
    const Key top = heap_.front();
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    heap_.pop_back();
    now_ = top.tick;
    Callback callback = std::move(slots_[top.slot]);
    free_slots_.push_back(top.slot);
    callback();
    ++executed_;
    if (progress_interval_ != 0 && executed_ % progress_interval_ == 0) progress_(now_);
  }
  return true;
}

}  // namespace seedchip::sim
