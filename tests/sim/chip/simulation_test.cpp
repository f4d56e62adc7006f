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
#include "sim/numerics/numerics.h"

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
// (sim/core/core.cpp); the second is recorded and the ones after it replay the record without
// events (sim/chip/simulation.h). Every run still computes on its own data, counts every
// instruction and byte, opens the same barriers and halts with the registers.
TEST(Simulation, FunctionalOnlyRunsAgainOnNewData) {
  Simulation simulation(two_core_chip(), untimed());
  simulation.load(isa::assemble(kHandOff, "hand_off.s"));
  for (int run = 0; run < 5; ++run) {
    if (run > 0) simulation.restart();
    std::vector<float> data(64);
    std::iota(data.begin(), data.end(), static_cast<float>(100 * run));
    simulation.hbm_data(0).write(0, data.data(), 256);
    const RunResult result = simulation.run();
    ASSERT_TRUE(result.completed);
    if (run < 2)
      EXPECT_GT(result.events, 0u) << "run " << run;
    else
      EXPECT_EQ(result.events, 0u) << "run " << run << " replays the record";
    std::vector<float> out(64);
    simulation.hbm_data(0).read(65536, out.data(), 256);
    for (size_t i = 0; i < out.size(); ++i) EXPECT_EQ(out[i], 2 * data[i]) << "run " << run;
    EXPECT_EQ(simulation.core(0, 1).reg(5), 256);
    EXPECT_EQ(simulation.core(0, 0).reg(6), 4096);
    EXPECT_TRUE(simulation.core(0, 0).halted());
    EXPECT_TRUE(simulation.core(0, 1).halted());
    // Ten per run: halt is not counted.
    EXPECT_EQ(simulation.stats().get("chip.core1.sequencer.instructions"), 10.0 * (run + 1));
    EXPECT_EQ(simulation.stats().get("chip.core1.vpu.instructions"), 1.0 * (run + 1));
    EXPECT_EQ(simulation.stats().get("chip.core0.dma.bytes_loaded"), 256.0 * (run + 1));
    EXPECT_EQ(simulation.stats().get("chip.core1.dma.bytes_stored"), 256.0 * (run + 1));
    // The barrier both cores meet, and the one that closes the run.
    EXPECT_EQ(simulation.barrier_releases(0).size(), 2u) << "run " << run;
  }
}

// A register set from outside may change what the code resolves: the record no longer stands.
TEST(Simulation, SetRegisterEndsTheReplay) {
  Simulation simulation(two_core_chip(), untimed());
  simulation.load(isa::assemble(kHandOff, "hand_off.s"));
  for (int run = 0; run < 3; ++run) {
    if (run > 0) simulation.restart();
    ASSERT_TRUE(simulation.run().completed);
  }
  simulation.restart();
  simulation.core(0, 1).set_reg(9, 1);
  EXPECT_GT(simulation.run().events, 0u);
  // Loading the program again starts the record afresh.
  simulation.load(isa::assemble(kHandOff, "hand_off.s"));
  for (int run = 0; run < 3; ++run) {
    if (run > 0) simulation.restart();
    EXPECT_EQ(simulation.run().events == 0, run == 2) << "run " << run;
  }
}

// Core 0 multiplies a 1 x 2 BF16 input by a 2 x 2 BF16 weight tile, both loaded from HBM, and
// stores the FP32 product.
constexpr const char* kTileProduct = R"(
.core 0
    li x1, 0
    li x2, 0
    li x3, 1
    li x4, 64
    dma.load x1, x2, x3, x4, x4, -, s0
    li x5, 2
    mxu.load x1, x5, x5, bf16, s0, -
    li x6, 32
    li x7, 1024
    li x8, 64
    mxu.matmul x7, x6, x3, x8, x8, 0, bf16, fp32, -, s1
    li x9, 65536
    li x10, 8
    dma.store x9, x7, x3, x10, x10, s1, s2
    sem.wait s2, 1
    halt
)";

// The MXU keeps the tile prepared from an instruction's weights while they stay the same from run
// to run (sim/core/core.cpp): new weights must still reach the product, however often they change.
TEST(Simulation, RunsAgainOnNewWeights) {
  Simulation simulation(two_core_chip(), untimed());
  simulation.load(isa::assemble(kTileProduct, "tile.s"));
  for (int run = 0; run < 8; ++run) {
    if (run > 0) simulation.restart();
    const float w = run < 4 ? 1.0f : static_cast<float>(run);  // the same four times, then new
    const float weights[4] = {w, 2 * w, 3 * w, -w}, input[2] = {1.0f, static_cast<float>(run)};
    std::vector<uint16_t> bytes(32, 0);
    for (int i = 0; i < 4; ++i) bytes[i] = numerics::fp32_to_bf16(weights[i]);
    for (int i = 0; i < 2; ++i) bytes[16 + i] = numerics::fp32_to_bf16(input[i]);
    simulation.hbm_data(0).write(0, bytes.data(), 64);
    ASSERT_TRUE(simulation.run().completed);
    float out[2];
    simulation.hbm_data(0).read(65536, out, 8);
    EXPECT_EQ(out[0], input[0] * weights[0] + input[1] * weights[2]) << "run " << run;
    EXPECT_EQ(out[1], input[0] * weights[1] + input[1] * weights[3]) << "run " << run;
  }
}

// Core 0 gathers two 16-byte rows of a table by int32 indices read from HBM, and stores them.
constexpr const char* kGatherRows = R"(
.core 0
    li x1, 0
    li x2, 0
    li x3, 1
    li x4, 8
    dma.load x1, x2, x3, x4, x4, -, s0
    li x5, 1024
    li x6, 4096
    li x7, 2
    li x8, 16
    li x10, 4
    dma.gather x5, x6, x1, x7, x8, x8, x10, s0, s1
    li x11, 65536
    li x12, 32
    dma.store x11, x5, x3, x12, x12, s1, s2
    sem.wait s2, 1
    halt
)";

// Indices are data: a replayed gather reads each run's indices and stops on a bad one with the
// message the simulated run gives.
TEST(Simulation, AReplayedGatherReadsEachRunsIndices) {
  Simulation simulation(two_core_chip(), untimed());
  std::vector<int32_t> table(16);
  std::iota(table.begin(), table.end(), 0);
  simulation.hbm_data(0).write(4096, table.data(), 64);
  simulation.load(isa::assemble(kGatherRows, "gather.s"));
  for (int run = 0; run < 4; ++run) {
    if (run > 0) simulation.restart();
    const int32_t indices[2] = {run % 4, 3 - run % 4};
    simulation.hbm_data(0).write(0, indices, 8);
    ASSERT_TRUE(simulation.run().completed);
    int32_t out[8];
    simulation.hbm_data(0).read(65536, out, 32);
    EXPECT_EQ(out[0], 4 * indices[0]) << "run " << run;
    EXPECT_EQ(out[4], 4 * indices[1]) << "run " << run;
  }
  const int32_t bad[2] = {1, 7};
  auto error_of_run = [&](Simulation& sim) -> std::string {
    sim.hbm_data(0).write(0, bad, 8);
    try {
      sim.run();
    } catch (const InputError& e) {
      return e.what();
    }
    return "no error";
  };
  Simulation first_run(two_core_chip(), untimed());
  first_run.load(isa::assemble(kGatherRows, "gather.s"));
  const std::string simulated = error_of_run(first_run);
  EXPECT_EQ(simulated, "core 0, instruction 10 (dma.gather): index 7 of row 1 is outside [0, 4)");
  simulation.restart();
  EXPECT_EQ(error_of_run(simulation), simulated);
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
