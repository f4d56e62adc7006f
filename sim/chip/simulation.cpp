#include "sim/chip/simulation.h"

#include <stdexcept>

#include "arch/error.h"
#include "sim/hbm/hbm_system.h"
#include "sim/link/chip_links.h"
#include "sim/noc/noc.h"

namespace seedchip::sim {
namespace {

// One chip: its memory, network and cores, wired through a ChipContext.
struct Chip {
  ChipContext context;
  std::unique_ptr<BackingStore> hbm_data;
  std::unique_ptr<HbmSystem> hbm;
  std::unique_ptr<Noc> noc;
  std::vector<std::unique_ptr<Core>> cores;
  std::vector<bool> has_code;
  std::vector<std::function<void()>> barrier_waiters;
  std::vector<Tick> barrier_releases;
  int index = 0;
};

// What an untimed run did, in order: a unit instruction of a core took effect, or a barrier opened.
struct ScheduleEntry {
  int32_t chip = 0;
  int32_t core = -1;  // -1: the chip's barrier opened
  int32_t resolved = 0;
};

}  // namespace

struct Simulation::Impl {
  ChipConfig config;
  SimulationOptions options;
  ClockPlan clocks;
  EventQueue events;
  StatTree stats;
  std::unique_ptr<TraceWriter> trace;
  std::vector<std::unique_ptr<Chip>> chips;
  std::unique_ptr<ChipLinks> links;  // only on multi-chip systems
  // The recorded run of the loaded program (untimed, every core reusing), which later runs replay
  // instead of simulating it again; `recording` while a run writes it.
  std::vector<ScheduleEntry> schedule;
  bool schedule_complete = false;
  bool recording = false;

  Impl(const ChipConfig& c, const SimulationOptions& o)
      : config(c),
        options(o),
        clocks(ClockPlan::from_mhz({{"core", c.core.clock_mhz}, {"hbm", c.hbm.clock_mhz}})) {
    if (!o.functional && !o.timing)
      throw std::logic_error("Simulation: neither data nor timing leaves nothing to simulate");
    if (!o.timing && !o.trace_path.empty())
      throw InputError("trace " + o.trace_path +
                       ": a functional-only (untimed) simulation has no time line to trace");
    if (o.chips < 1 || o.chips > 64)
      throw InputError("chips: " + std::to_string(o.chips) + " is out of range; expected 1..64");
    if (!o.trace_path.empty())
      trace = std::make_unique<TraceWriter>(o.trace_path, clocks.ticks_to_ns(1));
    if (o.chips > 1)
      links = std::make_unique<ChipLinks>(c.links, o.chips, events, clocks.domain("core"), stats,
                                          "system.links");
    for (int i = 0; i < o.chips; ++i) chips.push_back(build_chip(i));
  }

  // dma.send: the bytes cross the chip links, then land in the destination chip's HBM (both HBM
  // ends are modelled at link rate; the links are far slower than either HBM).
  void send(int src_chip, int dst_chip, uint64_t dst, uint64_t src, uint64_t bytes,
            std::function<void(Tick)> done) {
    if (dst_chip < 0 || dst_chip >= static_cast<int>(chips.size()))
      throw InputError("dma.send: destination chip " + std::to_string(dst_chip) +
                       " does not exist; the system has chips 0.." +
                       std::to_string(chips.size() - 1));
    if (!options.timing) {
      copy_between_chips(src_chip, dst_chip, dst, src, bytes);
      return done(events.now());
    }
    links->transfer(src_chip, dst_chip, bytes,
                    [this, src_chip, dst_chip, dst, src, bytes, done = std::move(done)](Tick t) {
                      if (options.functional)
                        copy_between_chips(src_chip, dst_chip, dst, src, bytes);
                      done(t);
                    });
  }

  void copy_between_chips(int src_chip, int dst_chip, uint64_t dst, uint64_t src, uint64_t bytes) {
    std::vector<uint8_t> buffer(bytes);
    chips[src_chip]->hbm_data->read(src, buffer.data(), bytes);
    chips[dst_chip]->hbm_data->write(dst, buffer.data(), bytes);
  }

  std::unique_ptr<Chip> build_chip(int index) {
    auto chip = std::make_unique<Chip>();
    chip->index = index;
    const std::string prefix = "chip" + (options.chips > 1 ? std::to_string(index) : "");
    const int cores = static_cast<int>(config.core_count());
    // Trace processes: one per core, then one for the chip's HBM.
    const int pid_base = index * (cores + 1);
    chip->hbm = std::make_unique<HbmSystem>(config.hbm, events, clocks.domain("hbm"), stats,
                                            prefix + ".hbm", trace.get(), pid_base + cores);
    if (options.functional)
      chip->hbm_data = std::make_unique<BackingStore>(prefix + ".hbm", chip->hbm->capacity_bytes());
    chip->noc = std::make_unique<Noc>(config.noc, static_cast<int>(config.core.mesh_x),
                                      static_cast<int>(config.core.mesh_y), events,
                                      clocks.domain("core"), stats, prefix + ".noc");
    if (trace) trace->name_process(pid_base + cores, prefix + " HBM");

    ChipContext& ctx = chip->context;
    ctx.config = &config;
    ctx.chip_index = index;
    ctx.chip_count = options.chips;
    ctx.events = &events;
    ctx.core_clock = &clocks.domain("core");
    ctx.stats = &stats;
    ctx.stat_prefix = prefix;
    ctx.trace = trace.get();
    ctx.trace_pid_base = pid_base;
    ctx.functional = options.functional;
    ctx.timed = options.timing;
    ctx.hbm_data = chip->hbm_data.get();
    ctx.hbm = chip->hbm.get();
    ctx.noc = chip->noc.get();
    Chip* raw = chip.get();
    if (links)
      ctx.send_to_chip = [this, index](int dst_chip, uint64_t dst, uint64_t src, uint64_t bytes,
                                       std::function<void(Tick)> done) {
        send(index, dst_chip, dst, src, bytes, std::move(done));
      };
    ctx.arrive_at_barrier = [this, raw](int, std::function<void()> release) {
      raw->barrier_waiters.push_back(std::move(release));
      release_barrier_if_complete(*raw);
    };
    for (int i = 0; i < cores; ++i) {
      chip->cores.push_back(std::make_unique<Core>(i, ctx));
      ctx.cores.push_back(chip->cores.back().get());
      if (trace) trace->name_process(pid_base + i, prefix + " core " + std::to_string(i));
    }
    chip->has_code.assign(cores, false);
    return chip;
  }

  bool every_core_replayable() const {
    for (const auto& chip : chips)
      for (const auto& core : chip->cores)
        if (!core->replayable()) return false;
    return true;
  }

  void set_recording(bool on) {
    recording = on;
    for (auto& chip : chips) {
      if (!on) {
        chip->context.record_unit = nullptr;
        continue;
      }
      chip->context.record_unit = [this, index = chip->index](int core, int32_t resolved) {
        schedule.push_back({index, core, resolved});
      };
    }
  }

  // The recorded run again: each unit instruction's effect and each barrier's opening in the
  // recorded order, without the sequencers, queues, semaphores and events that produced it.
  RunResult replay() {
    for (const ScheduleEntry& entry : schedule) {
      Chip& chip = *chips[static_cast<size_t>(entry.chip)];
      if (entry.core >= 0) {
        chip.cores[static_cast<size_t>(entry.core)]->replay_unit(entry.resolved);
        continue;
      }
      chip.barrier_releases.push_back(events.now());
      if (options.on_barrier) options.on_barrier(entry.chip);
    }
    for (auto& chip : chips)
      for (auto& core : chip->cores) core->finish_replay();
    RunResult result;
    result.completed = true;
    result.ticks = events.now();
    return result;
  }

  // A barrier opens when every core that runs code and has not halted has arrived.
  void release_barrier_if_complete(Chip& chip) {
    size_t running = 0;
    for (size_t i = 0; i < chip.cores.size(); ++i)
      if (chip.has_code[i] && !chip.cores[i]->halted()) ++running;
    if (chip.barrier_waiters.size() < running) return;
    auto waiters = std::move(chip.barrier_waiters);
    chip.barrier_waiters.clear();
    chip.barrier_releases.push_back(events.now());
    if (recording) schedule.push_back({chip.index, -1, 0});
    if (options.on_barrier) options.on_barrier(chip.index);
    for (auto& release : waiters) events.schedule(events.now(), std::move(release));
  }
};

Simulation::Simulation(const ChipConfig& config, const SimulationOptions& options)
    : impl_(std::make_unique<Impl>(config, options)) {}
Simulation::~Simulation() = default;

const ChipConfig& Simulation::config() const { return impl_->config; }
const ClockPlan& Simulation::clocks() const { return impl_->clocks; }
EventQueue& Simulation::events() { return impl_->events; }
StatTree& Simulation::stats() { return impl_->stats; }
int Simulation::chip_count() const { return static_cast<int>(impl_->chips.size()); }
int Simulation::core_count() const { return static_cast<int>(impl_->config.core_count()); }
Core& Simulation::core(int chip, int core) { return *impl_->chips.at(chip)->cores.at(core); }

BackingStore& Simulation::hbm_data(int chip) {
  auto& data = impl_->chips.at(chip)->hbm_data;
  if (!data) throw std::logic_error("HBM data requested from a timing-only simulation");
  return *data;
}

const std::vector<Tick>& Simulation::barrier_releases(int chip) const {
  return impl_->chips.at(static_cast<size_t>(chip))->barrier_releases;
}

void Simulation::load(const isa::Program& program) {
  const int cores = core_count();
  impl_->schedule.clear();
  impl_->schedule_complete = false;
  for (auto& chip : impl_->chips) {
    std::vector<const isa::Section*> owner(cores, nullptr);
    for (const auto& section : program.sections) {
      std::vector<int> targets = section.cores;
      if (targets.empty())
        for (int i = 0; i < cores; ++i) targets.push_back(i);
      for (int c : targets) {
        if (c < 0 || c >= cores)
          throw InputError("program: a section is assigned to core " + std::to_string(c) +
                           " but chip '" + impl_->config.name + "' has cores 0.." +
                           std::to_string(cores - 1));
        if (owner[c])
          throw InputError("program: core " + std::to_string(c) +
                           " is assigned more than one section");
        owner[c] = &section;
      }
    }
    for (int c = 0; c < cores; ++c) {
      chip->has_code[c] = owner[c] && !owner[c]->code.empty();
      chip->cores[c]->load(owner[c] ? owner[c]->code : std::vector<isa::Instruction>{});
      chip->cores[c]->on_halt(
          [this, raw = chip.get()] { impl_->release_barrier_if_complete(*raw); });
    }
  }
}

void Simulation::restart() {
  if (impl_->options.timing)
    throw std::logic_error("Simulation::restart: a timed simulation runs once");
  for (auto& chip : impl_->chips) {
    for (auto& core : chip->cores) core->restart();
    chip->barrier_waiters.clear();
    chip->barrier_releases.clear();
  }
}

void Simulation::request_stop() { impl_->events.request_stop(); }

RunResult Simulation::run(std::function<void(double)> progress) {
  // An untimed run of a program whose every core reuses its resolved instructions is the same run
  // each time: the second is recorded, later ones replay it (Core::replayable).
  const bool repeats = !impl_->options.timing && impl_->every_core_replayable();
  if (repeats && impl_->schedule_complete) return impl_->replay();
  impl_->schedule.clear();
  impl_->schedule_complete = false;
  impl_->set_recording(repeats);
  struct StopRecording {
    Impl& impl;
    ~StopRecording() { impl.set_recording(false); }
  } stop_recording{*impl_};
  for (auto& chip : impl_->chips)
    for (auto& core : chip->cores) core->start();
  if (progress)
    impl_->events.set_progress(
        1 << 16, [this, progress](Tick t) { progress(impl_->clocks.ticks_to_seconds(t)); });
  RunResult result;
  result.completed = impl_->events.run();
  result.ticks = impl_->events.now();
  result.core_cycles = impl_->clocks.domain("core").cycle_at(result.ticks);
  result.seconds = impl_->clocks.ticks_to_seconds(result.ticks);
  result.events = impl_->events.events_executed();
  if (result.completed) {
    std::string stuck;
    for (size_t ci = 0; ci < impl_->chips.size(); ++ci)
      for (auto& core : impl_->chips[ci]->cores)
        if (!core->halted())
          stuck += (stuck.empty() ? "" : ", ") + std::string("chip ") + std::to_string(ci) +
                   " core " + std::to_string(core->index());
    if (!stuck.empty())
      throw InputError("program deadlocked: nothing left to run but these cores never halted: " +
                       stuck + " (a semaphore wait or barrier that is never satisfied)");
    impl_->schedule_complete = impl_->recording;
  }
  if (impl_->trace) impl_->trace->finish();
  return result;
}

nlohmann::json Simulation::stats_json(const RunResult& result) {
  // Idle HBM schedules no refresh events; bring every refresh due by now into the counts.
  for (auto& chip : impl_->chips) chip->hbm->settle();
  StatTree& s = impl_->stats;
  s.value("sim.ticks", "ticks", "simulated time in base-clock ticks") =
      static_cast<double>(result.ticks);
  s.value("sim.core_cycles", "cycles", "simulated time in core clock cycles") =
      static_cast<double>(result.core_cycles);
  s.value("sim.seconds", "s", "simulated time") = result.seconds;
  s.value("sim.events", "events", "events executed") = static_cast<double>(result.events);
  s.value("sim.completed", "bool", "1 when every core halted, 0 when interrupted") =
      result.completed ? 1.0 : 0.0;
  return s.to_json();
}

}  // namespace seedchip::sim
