#pragma once
// A whole simulated system: one or more chips of one ChipConfig sharing a single event queue,
// clock plan, stat tree and (optional) trace. Each chip owns its HBM model and bytes, its NoC and
// its cores; load() hands program sections to cores, run() advances until every core has halted,
// Ctrl-C is requested (request_stop), or nothing can move any more (a deadlock, reported with the
// cores that never halted). Three fidelities (DESIGN.md): functional and timed (the default),
// timing-only (no data) and functional-only (no clock, SimulationOptions::timing false).
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/chip_config.h"
#include "isa/isa.h"
#include "sim/clock.h"
#include "sim/core/core.h"
#include "sim/event_queue.h"
#include "sim/memory/backing_store.h"
#include "sim/stats.h"
#include "sim/trace.h"

namespace seedchip::sim {

struct SimulationOptions {
  bool functional = true;  // false: timing-only (shapes, no data)
  // false: functional only, the fidelity level without a clock (sim/core/core.h): results are the
  // timed run's to the bit, simulated time stays zero, and the run can be repeated (restart()).
  bool timing = true;
  int chips = 1;
  std::string trace_path;  // empty: no trace is written and tracing costs nothing
  // Called when a barrier of chip `chip` opens, before any core runs on (counters are exact then).
  std::function<void(int chip)> on_barrier;
};

struct RunResult {
  bool completed = false;  // false: stopped early (interrupt); stats are valid up to `ticks`
  Tick ticks = 0;
  uint64_t core_cycles = 0;
  double seconds = 0;  // simulated
  uint64_t events = 0;
};

class Simulation {
 public:
  Simulation(const ChipConfig& config, const SimulationOptions& options);
  ~Simulation();

  const ChipConfig& config() const;
  const ClockPlan& clocks() const;
  EventQueue& events();
  StatTree& stats();
  int chip_count() const;
  int core_count() const;  // per chip
  Core& core(int chip, int core);
  // HBM bytes of a chip (functional mode); throws std::logic_error in timing-only mode.
  BackingStore& hbm_data(int chip);

  // Every chip gets the program; each section goes to the cores it lists (empty list = all).
  // InputError when a section names a core the chip does not have or two sections share a core.
  void load(const isa::Program& program);

  // When each barrier of `chip` opened, in order (a compiled graph ends each operator at one).
  const std::vector<Tick>& barrier_releases(int chip) const;

  // Puts every core back at the start of its loaded program for another run(), keeping SRAM and HBM
  // bytes (constants placed once stay). Untimed simulations only: a timed one's clocks, memory
  // state and counters describe one run from an idle chip (std::logic_error otherwise).
  void restart();

  // Runs to completion or interruption. `progress(simulated_seconds)` is called now and then.
  // Untimed runs of a program whose every core reuses its resolved instructions (Core::restart)
  // give the same results the same way each time: the second run is recorded, and later ones
  // replay the record (Core::replayable), with the same data, counters, registers and barriers,
  // and no events.
  RunResult run(std::function<void(double)> progress = {});
  void request_stop();

  // Stats tree with derived figures (utilisation, bandwidth) for a run that lasted `result`.
  nlohmann::json stats_json(const RunResult& result);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedchip::sim
