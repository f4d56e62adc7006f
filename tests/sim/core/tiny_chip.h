#pragma once
// A small chip wired by hand around real cores (HBM, NoC, bytes, barrier), so the core tests run
// without the chip layer: 2 cores in a 2x1 mesh with 1 MiB of SRAM each, unless a test says more.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "arch/error.h"
#include "isa/isa.h"
#include "sim/clock.h"
#include "sim/core/core.h"
#include "sim/event_queue.h"
#include "sim/hbm/hbm_system.h"
#include "sim/memory/backing_store.h"
#include "sim/noc/noc.h"
#include "sim/stats.h"

namespace seedchip::sim::testing {

inline ChipConfig small_config() {
  ChipConfig config;
  config.core.mesh_x = 2;
  config.core.mesh_y = 1;
  config.mxu.weight_load_rows_per_cycle = 1;  // the MXU tests count one weight row per cycle
  config.sram.bytes = 1 << 20;
  config.hbm.stacks = 2;
  config.hbm.stack_gbytes = 1;
  return config;
}

inline std::vector<isa::Instruction> assemble(const std::string& text) {
  isa::Program program = isa::assemble(text, "test.s");
  return program.sections.empty() ? std::vector<isa::Instruction>{} : program.sections[0].code;
}

class TinyChip {
 public:
  explicit TinyChip(bool functional = true, ChipConfig chip = small_config())
      : config(std::move(chip)),
        clocks(
            ClockPlan::from_mhz({{"core", config.core.clock_mhz}, {"hbm", config.hbm.clock_mhz}})) {
    hbm = std::make_unique<HbmSystem>(config.hbm, events, clocks.domain("hbm"), stats, "chip.hbm",
                                      nullptr, 0);
    noc = std::make_unique<Noc>(config.noc, static_cast<int>(config.core.mesh_x),
                                static_cast<int>(config.core.mesh_y), events, clocks.domain("core"),
                                stats, "chip.noc");
    if (functional) hbm_data = std::make_unique<BackingStore>("hbm", hbm->capacity_bytes());
    ctx.config = &config;
    ctx.events = &events;
    ctx.core_clock = &clocks.domain("core");
    ctx.stats = &stats;
    ctx.functional = functional;
    ctx.hbm_data = hbm_data.get();
    ctx.hbm = hbm.get();
    ctx.noc = noc.get();
    ctx.arrive_at_barrier = [this](int, std::function<void()> release) {
      waiting.push_back(std::move(release));
      release_barrier();
    };
    for (int i = 0; i < config.core_count(); ++i) {
      cores.push_back(std::make_unique<Core>(i, ctx));
      ctx.cores.push_back(cores.back().get());
    }
  }

  Core& core(int i) { return *cores.at(static_cast<size_t>(i)); }

  void load(int core_index, const std::string& assembly) {
    core(core_index).load(assemble(assembly));
    running.push_back(core_index);
    core(core_index).on_halt([this] { release_barrier(); });
  }

  // Starts every loaded core and runs until nothing is left to do.
  void run() {
    for (int i : running) core(i).start();
    events.run();
  }

  uint64_t stat(int core_index, const std::string& path) const {
    return static_cast<uint64_t>(stats.get("chip.core" + std::to_string(core_index) + "." + path));
  }
  uint64_t cycles(int core_index = 0) const { return stat(core_index, "sequencer.cycles"); }

  template <typename T>
  void write_sram(int core_index, uint64_t addr, const std::vector<T>& values) {
    std::memcpy(core(core_index).sram() + addr, values.data(), values.size() * sizeof(T));
  }
  template <typename T>
  std::vector<T> read_sram(int core_index, uint64_t addr, size_t count) {
    std::vector<T> values(count);
    std::memcpy(values.data(), core(core_index).sram() + addr, count * sizeof(T));
    return values;
  }

  ChipConfig config;
  EventQueue events;
  ClockPlan clocks;
  StatTree stats;
  std::unique_ptr<HbmSystem> hbm;
  std::unique_ptr<Noc> noc;
  std::unique_ptr<BackingStore> hbm_data;
  ChipContext ctx;
  std::vector<std::unique_ptr<Core>> cores;

 private:
  void release_barrier() {
    size_t still_running = 0;
    for (int i : running)
      if (!core(i).halted()) ++still_running;
    if (waiting.size() < still_running || waiting.empty()) return;
    auto releases = std::move(waiting);
    waiting.clear();
    for (auto& release : releases) events.schedule(events.now(), std::move(release));
  }

  std::vector<int> running;
  std::vector<std::function<void()>> waiting;
};

// The one-line error a program raises on the tiny chip, or "no error".
inline std::string error_of(const std::string& program, ChipConfig config = small_config()) {
  TinyChip chip(true, std::move(config));
  chip.load(0, program);
  try {
    chip.run();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace seedchip::sim::testing
