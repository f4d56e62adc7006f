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
  push(Key{when, rank << 56 | next_sequence_++, slot});
}

void EventQueue::push(const Key& key) {
  size_t hole = heap_.size();
  heap_.emplace_back();
  while (hole > 0) {
    const size_t parent = (hole - 1) / 4;
    if (!before(key, heap_[parent])) break;
    heap_[hole] = heap_[parent];
    hole = parent;
  }
  heap_[hole] = key;
}

EventQueue::Key EventQueue::pop() {
  const Key top = heap_.front();
  const Key last = heap_.back();
  heap_.pop_back();
  const size_t n = heap_.size();
  if (n == 0) return top;
  size_t hole = 0;
  for (;;) {
    const size_t first = 4 * hole + 1;
    if (first >= n) break;
    size_t best = first;
    const size_t end = std::min(first + 4, n);
    for (size_t child = first + 1; child < end; ++child)
      if (before(heap_[child], heap_[best])) best = child;
    if (!before(heap_[best], last)) break;
    heap_[hole] = heap_[best];
    hole = best;
  }
  heap_[hole] = last;
  return top;
}

void EventQueue::set_progress(uint64_t interval, std::function<void(Tick)> callback) {
  progress_interval_ = interval;
  progress_ = std::move(callback);
}

bool EventQueue::run() {
  while (!heap_.empty()) {
    if (stop_requested()) return false;
    const Key top = pop();
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
