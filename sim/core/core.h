#pragma once
// One SeedChip core: an in-order sequencer that runs scalar and sync instructions itself and issues
// MXU, VPU and DMA instructions into per-unit queues (core.queue_depth deep; a full queue stalls
// the sequencer). Each unit runs its queue in order, in parallel with the others, honouring the
// wait/signal semaphores of every instruction. Unit latencies are closed-form (docs/core.md), so an
// instruction costs one event; SRAM bank conflicts between units stretch the later access.
// In functional mode the units compute real results on the chip's SRAM and HBM bytes. An untimed
// core (ChipContext::timed false, functional only) keeps every ordering rule (program order per
// unit, semaphores, fences, barriers) but no clock: each unit instruction completes as soon as its
// wait semaphore lets it start, and its cycle counters stay zero while its work counters (MACs,
// elements, bytes, instructions) still count.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "arch/chip_config.h"
#include "isa/isa.h"
#include "sim/clock.h"
#include "sim/event_queue.h"
#include "sim/hbm/hbm_system.h"
#include "sim/memory/backing_store.h"
#include "sim/noc/noc.h"
#include "sim/stats.h"
#include "sim/trace.h"

namespace seedchip::sim {

class Core;

// What a core sees of the chip around it. Owned by the chip; outlives its cores.
struct ChipContext {
  const ChipConfig* config = nullptr;
  int chip_index = 0;
  int chip_count = 1;
  EventQueue* events = nullptr;
  const ClockDomain* core_clock = nullptr;
  StatTree* stats = nullptr;
  std::string stat_prefix = "chip";  // cores register under <prefix>.core<i>
  TraceWriter* trace = nullptr;      // null: no trace. Core i traces to pid = trace_pid_base + i.
  int trace_pid_base = 0;
  bool functional = true;            // false: timing-only, no data is read, written or computed
  bool timed = true;                 // false: functional only, no clock (needs functional)
  BackingStore* hbm_data = nullptr;  // null in timing-only mode
  HbmSystem* hbm = nullptr;
  Noc* noc = nullptr;
  std::vector<Core*> cores;  // every core of this chip, by index
  // Barrier: called when a core reaches `barrier` with its units drained; `release` must be called
  // (from an event) once every running core of the chip has arrived.
  std::function<void(int core, std::function<void()> release)> arrive_at_barrier;
  // dma.send: move `bytes` from this chip's HBM at `src` to chip `dst_chip`'s HBM at `dst`; calls
  // `done(tick)` when the last byte has landed (untimed: before it returns). Null on a single-chip
  // system.
  std::function<void(int dst_chip, uint64_t dst, uint64_t src, uint64_t bytes,
                     std::function<void(Tick)> done)>
      send_to_chip;
  // Set while a run is recorded for replay (untimed, every core reusing): called as each unit
  // instruction takes effect, with its index among the core's resolved instructions.
  std::function<void(int core, int32_t resolved)> record_unit;
};

class Core {
 public:
  Core(int index, ChipContext& chip);
  ~Core();

  int index() const;
  // Loads the code this core runs and restarts it.
  void load(std::vector<isa::Instruction> code);
  // Puts the core back at the start of its code, registers and semaphores zero, not halted; its
  // SRAM bytes stay. For running a loaded program again on an untimed chip. An untimed core whose
  // code has no branch runs it again faster, with the same results, counters and final registers:
  // it reuses the unit instructions an earlier run resolved and, after a run that halted, skips the
  // scalar instructions that computed their operands (unless the code has sem.signal.remote, which
  // reads a register at issue). set_reg() ends this reuse until the next load().
  void restart();
  // Schedules the first issue at the current tick. A core with no code is halted at once.
  void start();
  bool halted() const;
  // Called once when the core has halted (its units drained).
  void on_halt(std::function<void()> callback);

  // Replaying a recorded run (untimed chips; sim/chip/simulation.h). A core that reuses its
  // resolved instructions applies the same unit instructions in every run, and its chip applies
  // them in the same order across cores, since no branch, register or timing can change either.
  // replayable(): the core has no code, or it reuses, an earlier run halted, and it stands at the
  // start of its code. replay_unit(): what resolved unit instruction `resolved` does to the data
  // and the work counters (ChipContext::record_unit named it). finish_replay(): halts as the
  // recorded run did (registers, instruction counter), without halt callbacks.
  bool replayable() const;
  void replay_unit(int32_t resolved);
  void finish_replay();

  // Scalar register file, after or between runs (tests, tools).
  int64_t reg(int r) const;
  void set_reg(int r, int64_t value);
  int64_t semaphore(int s) const;
  // Adds `count` to semaphore `s` now, waking whatever waits on it (remote signals arrive here).
  void signal_semaphore(int s, int64_t count);

  // The core's SRAM bytes (functional mode; nullptr in timing-only mode).
  uint8_t* sram();
  uint64_t sram_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One MXU tile's latency in core cycles, the formula of docs/core.md: the cycles from the unit
// starting `mxu.matmul` of m rows through a k x n tile until its last result is written, when the
// weights were already loaded. Exposed for tests and the analytic model.
uint64_t mxu_matmul_cycles(const MxuConfig& mxu, DataType type, uint64_t m, uint64_t k, uint64_t n);
uint64_t mxu_load_cycles(const MxuConfig& mxu, uint64_t k, uint64_t n);

}  // namespace seedchip::sim
