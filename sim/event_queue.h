#pragma once
// The one event queue of a simulation. Events run in (tick, priority, sequence) order, so two runs
// of the same inputs execute the same events in the same order. Scheduling into the past throws:
// a component computes the next tick at which it can act and schedules exactly one event for it.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace seedchip::sim {

using Tick = uint64_t;

// A move-only std::function that keeps a callable of up to `Capacity` bytes in itself instead of
// on the heap (larger ones are heap-allocated, as std::function does for anything over 16 bytes).
// The simulators' callbacks capture a few pointers and integers, and allocating each one was a
// large part of a timing run. An empty std::function or null pointer given to it leaves it empty.
template <class Signature, size_t Capacity>
class InlineFunction;

template <class R, class... Args, size_t Capacity>
class InlineFunction<R(Args...), Capacity> {
 public:
  InlineFunction() = default;
  InlineFunction(std::nullptr_t) {}  // NOLINT: implicit, like std::function's

  template <class F, class D = std::decay_t<F>,
            class = std::enable_if_t<!std::is_same_v<D, InlineFunction> &&
                                     std::is_invocable_r_v<R, D&, Args...>>>
  InlineFunction(F&& f) {  // NOLINT: implicit, like std::function's
    if constexpr (kNullable<D>)
      if (!f) return;
    if constexpr (kInline<D>) {
      ::new (static_cast<void*>(storage_)) D(std::forward<F>(f));
      ops_ = &kInlineOps<D>;
    } else {
      D* heap = new D(std::forward<F>(f));
      std::memcpy(storage_, &heap, sizeof heap);
      ops_ = &kHeapOps<D>;
    }
  }

  InlineFunction(InlineFunction&& other) noexcept { take(other); }
  InlineFunction& operator=(InlineFunction&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  InlineFunction(const InlineFunction&) = delete;
  InlineFunction& operator=(const InlineFunction&) = delete;
  ~InlineFunction() { reset(); }

  explicit operator bool() const { return ops_ != nullptr; }
  // Precondition: not empty.
  R operator()(Args... args) { return ops_->invoke(storage_, std::forward<Args>(args)...); }

 private:
  // `relocate` moves the callable to uninitialised storage and ends the source; null means copying
  // the bytes does (trivially copyable callables, heap pointers). Null `destroy`: nothing to end.
  struct Ops {
    R (*invoke)(void*, Args&&...);
    void (*relocate)(void* from, void* to) noexcept;
    void (*destroy)(void*) noexcept;
  };

  template <class D>
  struct IsStdFunction : std::false_type {};
  template <class S>
  struct IsStdFunction<std::function<S>> : std::true_type {};
  template <class D>
  static constexpr bool kNullable = std::is_pointer_v<D> || IsStdFunction<D>::value;

  template <class D>
  static constexpr bool kInline =
      sizeof(D) <= Capacity &&
      alignof(D) <= alignof(void*) && std::is_nothrow_move_constructible_v<D>;

  template <class D>
  static D* heap_of(void* storage) {
    D* heap;
    std::memcpy(&heap, storage, sizeof heap);
    return heap;
  }

  template <class D>
  static constexpr Ops kInlineOps{
      [](void* s, Args&&... args) -> R {
        return (*std::launder(static_cast<D*>(s)))(std::forward<Args>(args)...);
      },
      std::is_trivially_copyable_v<D> ? nullptr
                                      : +[](void* from, void* to) noexcept {
                                          D* source = std::launder(static_cast<D*>(from));
                                          ::new (to) D(std::move(*source));
                                          source->~D();
                                        },
      std::is_trivially_destructible_v<D>
          ? nullptr
          : +[](void* s) noexcept { std::launder(static_cast<D*>(s))->~D(); }};

  template <class D>
  static constexpr Ops kHeapOps{
      [](void* s, Args&&... args) -> R { return (*heap_of<D>(s))(std::forward<Args>(args)...); },
      nullptr, [](void* s) noexcept { delete heap_of<D>(s); }};

  void take(InlineFunction& other) noexcept {
    ops_ = other.ops_;
    if (!ops_) return;
    if (ops_->relocate)
      ops_->relocate(other.storage_, storage_);
    else
      std::memcpy(storage_, other.storage_, Capacity);  // a fixed size copies without a call
    other.ops_ = nullptr;
  }

  void reset() noexcept {
    if (ops_ && ops_->destroy) ops_->destroy(storage_);
    ops_ = nullptr;
  }

  alignas(void*) unsigned char storage_[Capacity];
  const Ops* ops_ = nullptr;
};

// Among events of the same tick, lower priority values run first. Named, not magic numbers.
enum class EventPriority : int8_t {
  kCompletion = 0,  // a unit finishing frees resources before anyone looks at them
  kDefault = 10,
  kIssue = 20,  // sequencers issue after all completions of the tick are visible
};

// What a component calls with the tick at which something it was asked to do has finished (an HBM
// request, a transfer). Room for the simulators' captures: a few pointers and integers.
using Completion = InlineFunction<void(Tick), 32>;

class EventQueue {
 public:
  // Room for a completion that wraps another component's callback with its tick.
  using Callback = InlineFunction<void(), 48>;

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
  // std::function on every sift step was the queue's main cost). Keys are unique (the sequence
  // number), so the order events run in does not depend on how the heap is laid out: it is 4-ary,
  // half the levels of a binary heap, since sifting a popped key down was the next largest cost.
  struct Key {
    Tick tick;
    uint64_t order;  // priority (biased to unsigned) in the top byte, then the sequence number
    uint32_t slot;
  };
  static bool before(const Key& a, const Key& b) {
    return (a.tick < b.tick) | ((a.tick == b.tick) & (a.order < b.order));
  }
  void push(const Key& key);
  Key pop();  // precondition: not empty

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
