#pragma once
// Timing model of all HBM stacks of one chip: per pseudo-channel an FR-FCFS controller with read
// and write queues in front of bank-level device state (bank groups, banks, open rows) that
// enforces every timing gate of arch/chip_config.h's HbmTiming, plus refresh. The address mapping
// is a policy chosen by hbm.mapping. Requests carry no data: the functional bytes live in a
// BackingStore owned by the chip. See docs/hbm.md.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "arch/chip_config.h"
#include "sim/clock.h"
#include "sim/event_queue.h"
#include "sim/stats.h"
#include "sim/trace.h"

namespace seedchip::sim {

// A contiguous run of bytes that stays in one row of one bank of one pseudo-channel
// (HbmSystem::contiguous_bytes tells how long a run may be).
struct HbmRequest {
  uint64_t addr = 0;
  uint32_t bytes = 0;
  bool is_write = false;
  // Called, from an event, at the tick the last data beat has crossed the pseudo-channel bus.
  Completion on_complete;
};

// Not safe to use from several threads at once, const members included (they share a cache).
class HbmSystem {
 public:
  // Stats go under `stat_prefix` (e.g. "chip.hbm": chip.hbm.stack0.ch3.pc1.row_hits ...); trace
  // tracks (one per channel) go to process `trace_pid` when `trace` is non-null.
  HbmSystem(const HbmConfig& config, EventQueue& events, const ClockDomain& clock, StatTree& stats,
            const std::string& stat_prefix, TraceWriter* trace, int trace_pid);
  ~HbmSystem();

  uint64_t capacity_bytes() const;
  double peak_bytes_per_second() const;
  // Bytes from `addr` to the end of its (stack, channel, PC, bank, row) run.
  uint64_t contiguous_bytes(uint64_t addr) const;
  int stack_of(uint64_t addr) const;
  int channel_of(uint64_t addr) const;  // channel within its stack

  // Queues `request` at its controller. Returns false (and keeps nothing) when that controller's
  // read or write queue is full; every space listener is then called once a slot frees.
  bool try_submit(HbmRequest request);
  void add_space_listener(std::function<void()> listener);

  // Issues the refreshes that fell due while controllers sat idle up to events.now(), so the
  // refresh counts are current before stats are read (idle time schedules no events).
  void settle();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedchip::sim
