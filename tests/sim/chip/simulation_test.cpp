// A whole system: programs reach the cores they name, chips exchange data over their links, and a
// program that can never finish is reported instead of hanging.
#include "sim/chip/simulation.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "arch/chip_loader.h"
#include "arch/error.h"

namespace seedchip::sim {
namespace {

ChipConfig two_core_chip() {
  ChipConfig chip = load_chip("seedchip-v1").config;
  chip.core.mesh_x = 2;
  chip.core.mesh_y = 1;
  chip.links.count = 2;
  chip.links.gbytes_per_s = 100;
  chip.links.latency_ns = 500;
  return chip;
}

// Chip 0's core 0 sends 64 KiB from its HBM to chip 1's HBM; every other core just halts.
constexpr const char* kSend = R"(
.core 0
    chipid  x1
    bne     x1, x0, done
    li      x2, 1
    li      x3, 4096
    li      x4, 0
    li      x5, 65536
    dma.send x2, x3, x4, x5, -, s0
    sem.wait s0, 1
done:
    halt
)";

// Runs kSend on two chips; returns whether chip 1 received chip 0's bytes.
bool send_arrives(SimulationOptions options, RunResult& result) {
  options.chips = 2;
  Simulation simulation(two_core_chip(), options);
  std::vector<uint8_t> data(65536);
  std::iota(data.begin(), data.end(), 0);
  simulation.hbm_data(0).write(0, data.data(), data.size());
  simulation.load(isa::assemble(kSend, "send.s"));
  result = simulation.run();
  std::vector<uint8_t> received(data.size());
  simulation.hbm_data(1).read(4096, received.data(), received.size());
  return result.completed && received == data;
}

TEST(Simulation, DmaSendCopiesBetweenChipsAtLinkSpeed) {
  RunResult result;
  ASSERT_TRUE(send_arrives({}, result));
  // Two links to the only other chip: 200 GB/s, plus one link latency.
  const double floor_seconds = 65536 / 200e9 + 500e-9;
  EXPECT_GE(result.seconds, floor_seconds);
  EXPECT_LT(result.seconds, floor_seconds * 1.2);
}

TEST(Simulation, SectionsGoToTheCoresTheyName) {
  Simulation simulation(two_core_chip(), {});
  simulation.load(isa::assemble(".core 1\n li x7, 42\n halt\n", "one.s"));
  ASSERT_TRUE(simulation.run().completed);
  EXPECT_EQ(simulation.core(0, 1).reg(7), 42);
  EXPECT_EQ(simulation.core(0, 0).reg(7), 0);
}

TEST(Simulation, RejectsACoreTheChipDoesNotHave) {
  Simulation simulation(two_core_chip(), {});
  EXPECT_THROW(simulation.load(isa::assemble(".core 5\n halt\n", "five.s")), InputError);
}

TEST(Simulation, ReportsADeadlockNamingTheStuckCore) {
  Simulation simulation(two_core_chip(), {});
  simulation.load(isa::assemble(".core 1\n sem.wait s3, 1\n halt\n", "stuck.s"));
  try {
    simulation.run();
    FAIL() << "a wait that nothing signals must be reported";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("core 1"), std::string::npos) << e.what();
  }
}

TEST(Simulation, BarrierReleasesEveryRunningCoreTogether) {
  Simulation simulation(two_core_chip(), {});
  // Core 0 works longer before the barrier; core 1 must wait for it and then record the time.
  simulation.load(isa::assemble(R"(
.core 0
    li x1, 0
    li x2, 200
loop:
    addi x1, x1, 1
    blt x1, x2, loop
    barrier
    halt
.core 1
    barrier
    li x9, 1
    halt
)",
                                "barrier.s"));
  const RunResult result = simulation.run();
  ASSERT_TRUE(result.completed);
  EXPECT_EQ(simulation.core(0, 1).reg(9), 1);
  // Core 0's loop issues two instructions per iteration; core 1 waits at the barrier for it.
  EXPECT_GE(result.core_cycles, 400u);
  EXPECT_GE(simulation.stats().get("chip.core1.sequencer.stall_barrier"), 390.0);
}

SimulationOptions untimed() {
  SimulationOptions o;
  o.timing = false;
  return o;
}

// Two cores hand data through SRAM, semaphores and a barrier: core 0 loads 256 bytes from HBM,
// copies them into core 1's SRAM and signals it; core 1 doubles them and stores them back.
constexpr const char* kHandOff = R"(
.core 0
    li x1, 0
    li x2, 0
    li x3, 1
    li x4, 256
    dma.load x1, x2, x3, x4, x4, -, s0
    li x5, 1
    li x6, 4096
    dma.copy x5, x6, x1, x4, s0, s1
    sem.wait s1, 1
    sem.signal.remote x5, s2, 1
    barrier
    halt
.core 1
    sem.wait s2, 1
    li x1, 4096
    li x2, 64
    vpu.add x1, x1, x1, x2, fp32, -, s0
    li x3, 65536
    li x4, 1
    li x5, 256
    dma.store x3, x1, x4, x5, x5, s0, s1
    sem.wait s1, 1
    barrier
    halt
)";

std::vector<uint8_t> hand_off(const SimulationOptions& options, RunResult* result = nullptr) {
  Simulation simulation(two_core_chip(), options);
  std::vector<float> data(64);
  std::iota(data.begin(), data.end(), 1.0f);
  simulation.hbm_data(0).write(0, data.data(), 256);
  simulation.load(isa::assemble(kHandOff, "hand_off.s"));
  const RunResult r = simulation.run();
  EXPECT_TRUE(r.completed);
  if (result) *result = r;
  std::vector<uint8_t> out(256);
  simulation.hbm_data(0).read(65536, out.data(), out.size());
  return out;
}

TEST(Simulation, FunctionalOnlyComputesWhatTheTimedRunComputes) {
  RunResult timed_result, untimed_result;
  const std::vector<uint8_t> timed = hand_off({}, &timed_result);
  const std::vector<uint8_t> without_clock = hand_off(untimed(), &untimed_result);
  EXPECT_EQ(without_clock, timed);
  float first;
  std::memcpy(&first, timed.data(), 4);
  EXPECT_EQ(first, 2.0f);
  EXPECT_GT(timed_result.core_cycles, 0u);
  EXPECT_EQ(untimed_result.core_cycles, 0u);
}

TEST(Simulation, FunctionalOnlyRunsAgainAfterRestart) {
  Simulation simulation(two_core_chip(), untimed());
  simulation.load(isa::assemble(".core 1\n li x7, 42\n barrier\n halt\n", "again.s"));
  ASSERT_TRUE(simulation.run().completed);
  const size_t releases = simulation.barrier_releases(0).size();
  simulation.core(0, 1).set_reg(7, 0);
  simulation.restart();
  ASSERT_TRUE(simulation.run().completed);
  EXPECT_EQ(simulation.core(0, 1).reg(7), 42);
  EXPECT_EQ(simulation.barrier_releases(0).size(), releases);  // this run's only
}

// Later runs reuse the instructions the first resolved and skip the scalar ones
// (sim/core/core.cpp): they still compute on each run's data, count every instruction, and halt
// with the registers.
TEST(Simulation, FunctionalOnlyRunsAgainOnNewData) {
  Simulation simulation(two_core_chip(), untimed());
  simulation.load(isa::assemble(kHandOff, "hand_off.s"));
  for (int run = 0; run < 3; ++run) {
    if (run > 0) simulation.restart();
    std::vector<float> data(64);
    std::iota(data.begin(), data.end(), static_cast<float>(100 * run));
    simulation.hbm_data(0).write(0, data.data(), 256);
    ASSERT_TRUE(simulation.run().completed);
    std::vector<float> out(64);
    simulation.hbm_data(0).read(65536, out.data(), 256);
    for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], 2 * data[i]) << "run " << run;
    EXPECT_EQ(simulation.core(0, 1).reg(5), 256);
    EXPECT_EQ(simulation.core(0, 0).reg(6), 4096);
    // Ten per run: halt is not counted.
    EXPECT_EQ(simulation.stats().get("chip.core1.sequencer.instructions"), 10.0 * (run + 1));
  }
}

TEST(Simulation, ATimedSimulationRunsOnceAndAnUntimedOneHasNoTrace) {
  Simulation timed(two_core_chip(), {});
  EXPECT_THROW(timed.restart(), std::logic_error);
  SimulationOptions traced = untimed();
  traced.trace_path = ::testing::TempDir() + "untimed.json";
  EXPECT_THROW(Simulation(two_core_chip(), traced), InputError);
}

TEST(Simulation, FunctionalOnlyStillReportsADeadlock) {
  Simulation simulation(two_core_chip(), untimed());
  simulation.load(isa::assemble(".core 1\n sem.wait s3, 1\n halt\n", "stuck.s"));
  EXPECT_THROW(simulation.run(), InputError);
}

TEST(Simulation, FunctionalOnlyDmaSendCopiesBetweenChips) {
  RunResult result;
  EXPECT_TRUE(send_arrives(untimed(), result));
  EXPECT_EQ(result.seconds, 0.0);
}

}  // namespace
}  // namespace seedchip::sim

namespace seedchip::sim {
namespace {

// HBM that fell idle catches up on its refreshes when the stats are read, after the run closed
// the trace: those must not land after the end of the JSON.
TEST(Simulation, TraceStaysValidJsonWhenStatsAreReadAfterTheRun) {
  const std::string path = ::testing::TempDir() + "seedchip_idle_refresh.trace.json";
  {
    SimulationOptions options;
    options.trace_path = path;
    Simulation simulation(two_core_chip(), options);
    simulation.load(isa::assemble(R"(
.core 0
    li      x1, 0
    li      x2, 0
    li      x3, 1
    li      x4, 64
    dma.load x1, x2, x3, x4, x4, -, s0
    sem.wait s0, 1
    li      x5, 20000
spin:
    addi    x5, x5, -1
    bne     x5, x0, spin
    halt
.core 1
    halt
)",
                                  "idle.s"));
    const RunResult result = simulation.run();
    ASSERT_TRUE(result.completed);
    ASSERT_GT(result.seconds, 10e-6);  // several refresh intervals of idle HBM
    simulation.stats_json(result);
  }
  std::ifstream in(path);
  const nlohmann::json trace = nlohmann::json::parse(in);  // throws on trailing events
  EXPECT_GT(trace.at("traceEvents").size(), 3u);
}

}  // namespace
}  // namespace seedchip::sim
