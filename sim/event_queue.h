#pragma once
// The one event queue of a simulation. Events run in (tick, priority, sequence) order, so two runs
// of the same inputs execute the same events in the same order. Scheduling into the past throws:
// a component computes the next tick at which it can act and schedules exactly one event for it.
#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace seedchip::sim {

using Tick = uint64_t;

// Among events of the same tick, lower priority values run first. Named, not magic numbers.
enum class EventPriority : int8_t {
  kCompletion = 0,  // a unit finishing frees resources before anyone looks at them
  kDefault = 10,
  kIssue = 20,  // sequencers issue after all completions of the tick are visible
};

class EventQueue {
 public:
  using Callback = std::function<void()>;

  Tick now() const { return now_; }

  // Runs `callback` at `when` (>= now()). Throws std::logic_error for a tick in the past.
  void schedule(Tick when, Callback callback, EventPriority priority = EventPriority::kDefault);

  // Runs events until the queue is empty or a stop is requested; returns true when it drained.
  bool run();

  // Asks run() to return after the event in progress (safe from a signal handler).
  void request_stop() { stop_requested_.store(true, std::memory_order_relaxed); }
  bool stop_requested() const { return stop_requested_.load(std::memory_order_relaxed); }

  // Called about every `interval` events from run(), for progress display.
  void set_progress(uint64_t interval, std::function<void(Tick)> callback);

  uint64_t events_executed() const { return executed_; }
  bool empty() const { return heap_.empty(); }

 private:
  // The heap orders small keys; callbacks stay in `slots_` and never move while queued (moving a
  // std::function on every sift step was the queue's main cost).
  struct Key {
    Tick tick;
    uint64_t order;  // priority (biased to unsigned) in the top byte, then the sequence number
    uint32_t slot;
  };
  struct Later {
    bool operator()(const Key& a, const Key& b) const {
      return a.tick != b.tick ? a.tick > b.tick : a.order > b.order;
    }
  };
  std::vector<Key> heap_;
  std::vector<Callback> slots_;
  std::vector<uint32_t> free_slots_;
  Tick now_ = 0;
  uint64_t next_sequence_ = 0;
  uint64_t executed_ = 0;
  std::atomic<bool> stop_requested_{false};
  uint64_t progress_interval_ = 0;
  std::function<void(Tick)> progress_;
};

}  // namespace seedchip::sim
