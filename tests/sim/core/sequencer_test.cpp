// The sequencer (scalar code, stalls by cause, fence, barrier, halt, remote signals), DMA with
// semaphores between units, bad programs, timing-only mode and determinism.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "arch/error.h"
#include "sim/core/unit_timing.h"
#include "sim/numerics/numerics.h"
#include "tests/input_error.h"
#include "tests/sim/core/tiny_chip.h"

namespace seedchip::sim {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::TinyChip;

TEST(Sequencer, ScalarLoopComputesRegisters) {
  const std::string program = R"(
      li x1, 0
      li x2, 10
      li x3, 0
    loop:
      addi x1, x1, 1
      add x3, x3, x1
      blt x1, x2, loop
      coreid x4
      chipid x5
      sub x6, x0, x2
      mul x7, x2, x2
      muli x8, x2, -3
      li x0, 5
      bne x0, x0, loop
      jmp end
      li x9, 1
    end:
      halt
  )";
  TinyChip chip;
  chip.load(0, program);
  chip.load(1, program);
  chip.run();
  for (int c = 0; c < 2; ++c) {
    const Core& core = chip.core(c);
    EXPECT_TRUE(core.halted());
    EXPECT_EQ(core.reg(1), 10);
    EXPECT_EQ(core.reg(3), 55);
    EXPECT_EQ(core.reg(4), c);
    EXPECT_EQ(core.reg(5), 0);
    EXPECT_EQ(core.reg(6), -10);
    EXPECT_EQ(core.reg(7), 100);
    EXPECT_EQ(core.reg(8), -30);
    EXPECT_EQ(core.reg(0), 0);
    EXPECT_EQ(core.reg(9), 0);
  }
  // 3 + 10 x 3 + 8 instructions before halt, one issue cycle each.
  EXPECT_EQ(chip.stat(0, "sequencer.instructions"), 41u);
  EXPECT_EQ(chip.cycles(), 41u);
}

TEST(Sequencer, RunningOffTheEndHalts) {
  TinyChip chip;
  chip.load(0, "li x1, 3\n");
  chip.run();
  EXPECT_TRUE(chip.core(0).halted());
  EXPECT_EQ(chip.cycles(), 1u);
}

TEST(Sequencer, EmptyCoreHaltsAtOnce) {
  TinyChip chip;
  bool called = false;
  chip.core(0).on_halt([&] { called = true; });
  chip.load(0, "");
  chip.run();
  EXPECT_TRUE(called);
  EXPECT_TRUE(chip.core(0).halted());
}

// Five li instructions, then `body`, then halt; VPU ops of 5000 FP32 elements (x1..x4).
std::string vpu_program(const std::string& body) {
  return "li x1, 0\nli x2, 65536\nli x3, 131072\nli x4, 5000\nli x5, 0\n" + body + "halt\n";
}
const uint64_t kVpuLatency = vpu_cycles(VpuConfig{}, VpuClass::SIMPLE, 5000, 32);

TEST(Sequencer, FullQueueStallsTheSequencer) {
  std::string body;
  for (int i = 0; i < 6; ++i) body += "vpu.add x3, x1, x2, x4, fp32, -, -\n";
  ChipConfig shallow = testing::small_config();
  shallow.core.queue_depth = 2;
  TinyChip chip(true, shallow), deep;
  chip.load(0, vpu_program(body));
  deep.load(0, vpu_program(body));
  chip.run();
  deep.run();
  const uint64_t L = kVpuLatency;
  EXPECT_EQ(chip.cycles(), 5 + 6 * L);
  EXPECT_EQ(deep.cycles(), chip.cycles());
  // The 4th, 5th and 6th add wait for the 2nd, 3rd and 4th to start.
  EXPECT_EQ(chip.stat(0, "sequencer.stall_queue_full"), (L - 3) + (L - 1) + (L - 1));
  EXPECT_EQ(deep.stat(0, "sequencer.stall_queue_full"), 0u);
  EXPECT_EQ(chip.stat(0, "vpu.instructions"), 6u);
  EXPECT_EQ(chip.stat(0, "vpu.busy_cycles"), 6 * L);
}

TEST(Sequencer, FenceWaitsForTheUnits) {
  TinyChip chip;
  chip.load(0, vpu_program("vpu.exp x3, x1, x4, fp32, -, -\nfence\nli x6, 7\n"));
  chip.run();
  const uint64_t L = vpu_cycles(VpuConfig{}, VpuClass::TRANSCENDENTAL, 5000, 32);
  EXPECT_EQ(chip.stat(0, "sequencer.stall_fence"), L - 1);
  EXPECT_EQ(chip.cycles(), 5 + L + 2);
  EXPECT_EQ(chip.core(0).reg(6), 7);
}

TEST(Sequencer, BarrierReleasesEveryCoreTogether) {
  TinyChip chip;
  chip.load(0, vpu_program("vpu.add x3, x1, x2, x4, fp32, -, -\nbarrier\n"));
  chip.load(1, "barrier\nhalt\n");
  chip.run();
  const uint64_t L = kVpuLatency;
  EXPECT_EQ(chip.cycles(0), 5 + L + 1);
  EXPECT_EQ(chip.cycles(1), 5 + L + 1);
  EXPECT_EQ(chip.stat(1, "sequencer.stall_barrier"), 5 + L);
  EXPECT_EQ(chip.stat(0, "sequencer.stall_barrier"), L - 1);
}

TEST(Sequencer, RemoteSignalCrossesTheNoc) {
  TinyChip chip;
  chip.load(0, "li x1, 1\nsem.signal.remote x1, s3, 2\nhalt\n");
  chip.load(1, "sem.wait s3, 2\nli x2, 9\nsem.signal s4, 5\nsem.wait s4, 1\nhalt\n");
  chip.run();
  EXPECT_EQ(chip.core(1).reg(2), 9);
  EXPECT_EQ(chip.core(1).semaphore(3), 0);
  EXPECT_EQ(chip.core(1).semaphore(4), 4);
  EXPECT_GE(chip.stat(1, "sequencer.stall_sem_wait"),
            1 + static_cast<uint64_t>(chip.config.noc.hop_cycles));
}

// HBM layout: W (k x n bf16) at 0, A (m x k bf16) at 64 KiB, C (m x n fp32) at 128 KiB.
constexpr int kM = 16, kK = 64, kN = 32;
std::string gemm_program(bool synchronised) {
  auto sem = [&](const char* s) { return std::string(synchronised ? s : "-"); };
  return R"(
    li x1, 0
    li x2, 0
    li x3, 64
    li x4, 64
    dma.load x1, x2, x3, x4, x4, -, )" +
         sem("s0") + R"(
    li x6, 4096
    li x7, 65536
    li x8, 16
    li x9, 128
    dma.load x6, x7, x8, x9, x9, -, )" +
         sem("s1") + R"(
    li x10, 32
    li x11, 8192
    mxu.load x1, x3, x10, bf16, )" +
         sem("s0") + R"(, -
    mxu.matmul x11, x6, x8, x9, x9, 0, bf16, fp32, )" +
         sem("s1") + ", " + sem("s2") + R"(
    li x12, 512
    vpu.relu x11, x11, x12, fp32, )" +
         sem("s2") + ", " + sem("s3") + R"(
    li x13, 131072
    dma.store x13, x11, x8, x9, x9, )" +
         sem("s3") + R"(, -
    halt
  )";
}

struct GemmData {
  std::vector<uint16_t> w, a;
  std::vector<float> expected;  // relu(A x W)
};

GemmData gemm_data() {
  GemmData g;
  std::mt19937 rng(11);
  std::normal_distribution<float> value(0, 1);
  g.w.resize(kK * kN);
  g.a.resize(kM * kK);
  for (auto& x : g.w) x = numerics::fp32_to_bf16(value(rng));
  for (auto& x : g.a) x = numerics::fp32_to_bf16(value(rng));
  g.expected.resize(kM * kN);
  numerics::matmul_exact(DataType::BF16, DataType::FP32, g.a.data(), kK * 2, g.w.data(),
                         g.expected.data(), kN * 4, kM, kK, kN, false);
  for (float& x : g.expected) x = std::max(x, 0.0f);
  return g;
}

std::vector<float> run_gemm(TinyChip& chip, const GemmData& g, bool synchronised) {
  chip.hbm_data->write(0, g.w.data(), g.w.size() * 2);
  chip.hbm_data->write(65536, g.a.data(), g.a.size() * 2);
  chip.load(0, gemm_program(synchronised));
  chip.run();
  std::vector<float> c(kM * kN);
  chip.hbm_data->read(131072, c.data(), c.size() * 4);
  return c;
}

TEST(CoreDma, SemaphoresOrderDmaMxuVpuAndStore) {
  const GemmData g = gemm_data();
  TinyChip chip;
  EXPECT_EQ(run_gemm(chip, g, true), g.expected);
  EXPECT_EQ(chip.stat(0, "dma.bytes_loaded"), (kK * kN + kM * kK) * 2u);
  EXPECT_EQ(chip.stat(0, "dma.bytes_stored"), kM * kN * 4u);
  EXPECT_GT(chip.stat(0, "dma.hbm_requests"), 0u);
  EXPECT_GT(chip.cycles(), static_cast<uint64_t>(chip.config.dma.setup_cycles) * 2);

  TinyChip racing;  // the same program without semaphores reads SRAM before the data arrives
  EXPECT_NE(run_gemm(racing, g, false), g.expected);
  EXPECT_LT(racing.cycles(), chip.cycles());
}

TEST(CoreDma, CopyMovesBytesToAnotherCore) {
  TinyChip chip;
  std::vector<uint8_t> bytes(3000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7);
  chip.write_sram(0, 100, bytes);
  chip.load(0,
            "li x1, 1\nli x2, 5000\nli x3, 100\nli x4, 3000\n"
            "dma.copy x1, x2, x3, x4, -, s0\nsem.wait s0, 1\nsem.signal.remote x1, s1, 1\n");
  chip.load(1, "sem.wait s1, 1\n");
  chip.run();
  EXPECT_EQ(chip.read_sram<uint8_t>(1, 5000, bytes.size()), bytes);
  EXPECT_EQ(chip.stat(0, "dma.bytes_copied"), 3000u);
}

TEST(CoreDma, GatherReadsRowsNamedByIndicesInSram) {
  TinyChip chip;
  // Table of 8 rows of 3 int32 at HBM 4096, row pitch 16 bytes; indices 5, 0, 5, 7 at SRAM 0.
  std::vector<int32_t> table(8 * 4);
  for (size_t i = 0; i < table.size(); ++i) table[i] = static_cast<int32_t>(100 + i);
  chip.hbm_data->write(4096, table.data(), table.size() * 4);
  const std::vector<int32_t> indices = {5, 0, 5, 7};
  chip.hbm_data->write(0, indices.data(), 16);
  chip.load(0,
            "li x1, 0\nli x2, 256\nli x3, 4\nli x4, 16\nli x5, 4\n"
            "dma.load x2, x1, x5, x3, x3, -, s0\n"  // the indices arrive in SRAM first
            "li x6, 4096\nli x7, 12\nli x8, 8\nli x9, 1024\n"
            "dma.gather x9, x6, x2, x5, x7, x4, x8, s0, s1\nsem.wait s1, 1\n");
  chip.run();
  std::vector<int32_t> expected;
  for (int32_t row : indices)
    for (int c = 0; c < 3; ++c) expected.push_back(100 + row * 4 + c);
  EXPECT_EQ(chip.read_sram<int32_t>(0, 1024, expected.size()), expected);
  EXPECT_EQ(chip.stat(0, "dma.bytes_loaded"), 16u + 4 * 12);
}

TEST(CoreDma, GatherIndexOutsideTheLimitStopsTheRun) {
  TinyChip chip;
  chip.write_sram(0, 0, std::vector<int32_t>{3, 9});
  chip.load(0,
            "li x1, 2\nli x2, 4\nli x3, 8\nli x4, 64\n"
            "dma.gather x4, x0, x0, x1, x2, x2, x3, -, s0\nsem.wait s0, 1\n");
  const std::string error = seedchip::testing::error_of([&] { chip.run(); });
  EXPECT_THAT(error, AllOf(HasSubstr("core 0, instruction 4 (dma.gather)"),
                           HasSubstr("index 9 of row 1 is outside [0, 8)")));
}

// dma.scatter writes rows 6, 1 and 3 of a table (pitch 16 bytes) from SRAM, then dma.gather
// reads rows 1, 3, 6 back, in the timed and the functional-only (untimed) core.
class CoreScatter : public ::testing::TestWithParam<bool> {
 protected:
  static void set_timed(TinyChip& chip, bool timed) { chip.ctx.timed = timed; }
};

TEST_P(CoreScatter, ScatterThenGatherRoundTripsRows) {
  TinyChip chip;
  set_timed(chip, GetParam());
  chip.write_sram(0, 0, std::vector<int32_t>{6, 1, 3});   // scatter indices
  chip.write_sram(0, 64, std::vector<int32_t>{1, 3, 6});  // gather indices
  std::vector<int32_t> rows;
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) rows.push_back(10 * r + c);  // SRAM row r
  chip.write_sram(0, 256, rows);
  chip.load(0,
            "li x1, 0\nli x2, 64\nli x3, 256\nli x4, 3\nli x5, 12\nli x6, 16\nli x7, 8\n"
            "li x8, 4096\nli x9, 1024\n"
            "dma.scatter x8, x3, x1, x4, x5, x6, x7, -, s0\n"
            "dma.gather x9, x8, x2, x4, x5, x6, x7, s0, s1\nsem.wait s1, 1\n");
  chip.run();
  // Table row 6 holds SRAM row 0, row 1 SRAM row 1, row 3 SRAM row 2; gathered as rows 1, 3, 6.
  EXPECT_EQ(chip.read_sram<int32_t>(0, 1024, 9),
            (std::vector<int32_t>{10, 11, 12, 20, 21, 22, 0, 1, 2}));
  int32_t at_row_6[3];
  chip.hbm_data->read(4096 + 6 * 16, at_row_6, 12);
  EXPECT_EQ(at_row_6[1], 1);
  int32_t untouched = -1;
  chip.hbm_data->read(4096 + 2 * 16, &untouched, 4);
  EXPECT_EQ(untouched, 0);
  EXPECT_EQ(chip.stat(0, "dma.bytes_stored"), 36u);
  EXPECT_EQ(chip.stat(0, "dma.bytes_loaded"), 36u);
  if (GetParam()) {  // rows and both index arrays (the untimed core counts no SRAM traffic)
    EXPECT_EQ(chip.stat(0, "sram.bytes_read"), 36u + 12 + 12);
  }
}

TEST_P(CoreScatter, IndexOutsideTheLimitStopsTheRun) {
  TinyChip chip;
  set_timed(chip, GetParam());
  chip.write_sram(0, 0, std::vector<int32_t>{3, -1});
  chip.load(0,
            "li x1, 2\nli x2, 4\nli x3, 8\nli x4, 64\n"
            "dma.scatter x4, x4, x0, x1, x2, x2, x3, -, s0\nsem.wait s0, 1\n");
  const std::string error = seedchip::testing::error_of([&] { chip.run(); });
  EXPECT_THAT(error, AllOf(HasSubstr("core 0, instruction 4 (dma.scatter)"),
                           HasSubstr("index -1 of row 1 is outside [0, 8)")));
}

INSTANTIATE_TEST_SUITE_P(TimedAndUntimed, CoreScatter, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Timed" : "FunctionalOnly";
                         });

TEST(CoreScatterTimingOnly, RunsWithoutIndices) {
  TinyChip chip(false);
  chip.load(0,
            "li x1, 4\nli x2, 64\nli x3, 2\nli x4, 4096\n"
            "dma.scatter x4, x0, x0, x1, x2, x2, x3, -, s0\nsem.wait s0, 1\n");
  chip.run();
  EXPECT_EQ(chip.stat(0, "dma.bytes_stored"), 256u);
  EXPECT_GT(chip.cycles(), 0u);
}

using testing::error_of;

TEST(CoreDma, BadTransfersAreInputErrors) {
  EXPECT_THAT(error_of("li x1, 1048000\nli x2, 1000\ndma.load x1, x0, x2, x2, x2, -, -\n"),
              AllOf(HasSubstr("core 0, instruction 2 (dma.load)"), HasSubstr("SRAM")));
  EXPECT_THAT(error_of("li x1, 0x7fffffffffff\nli x2, 10\ndma.store x1, x0, x2, x2, x2, -, -\n"),
              AllOf(HasSubstr("dma.store"), HasSubstr("HBM")));
  EXPECT_THAT(error_of("li x1, 2\ndma.copy x1, x0, x0, x1, -, -\n"),
              HasSubstr("core 2 does not exist"));
  EXPECT_THAT(error_of("dma.send x0, x0, x0, x0, -, -\n"),
              HasSubstr("dma.send on a single-chip system"));
  EXPECT_THAT(error_of("li x1, -4\nvpu.add x0, x0, x0, x1, fp32, -, -\n"),
              AllOf(HasSubstr("vpu.add"), HasSubstr("n = -4 must not be negative")));
  // Sizes whose product wraps around 64 bits must not slip past the range check.
  EXPECT_THAT(error_of("li x1, 0x100000000\nvpu.addb x0, x0, x0, x1, x1, fp32, -, -\n"),
              HasSubstr("too large"));
  EXPECT_THAT(error_of("li x1, 0x400000000000\ndma.load x0, x0, x1, x1, x1, -, -\n"),
              HasSubstr("too large"));
  EXPECT_THAT(error_of("li x1, 2\ndma.gather x0, x0, x0, x1, x1, x1, x0, -, -\n"),
              HasSubstr("limit = 0 admits no index"));
  // Every row the limit admits must lie in HBM.
  EXPECT_THAT(error_of("li x1, 0x7fffffffffff\nli x2, 1\n"
                       "dma.gather x0, x0, x0, x2, x2, x2, x1, -, -\n"),
              AllOf(HasSubstr("dma.gather"), HasSubstr("HBM")));
  EXPECT_THAT(error_of("li x1, 2\ndma.scatter x0, x0, x0, x1, x1, x1, x0, -, -\n"),
              AllOf(HasSubstr("dma.scatter"), HasSubstr("limit = 0 admits no index")));
  EXPECT_THAT(error_of("li x1, 0x7fffffffffff\nli x2, 1\n"
                       "dma.scatter x1, x0, x0, x2, x2, x2, x2, -, -\n"),
              AllOf(HasSubstr("dma.scatter"), HasSubstr("HBM")));
  EXPECT_THAT(error_of("li x1, 1048000\nli x2, 1000\n"
                       "dma.scatter x0, x0, x1, x2, x2, x2, x2, -, -\n"),
              AllOf(HasSubstr("dma.scatter"), HasSubstr("indices `idx`")));
}

TEST(CoreModes, TimingOnlyGivesTheSameCyclesAndStats) {
  const GemmData g = gemm_data();
  TinyChip functional;
  run_gemm(functional, g, true);
  TinyChip timing_only(false);
  timing_only.load(0, gemm_program(true));
  timing_only.run();
  EXPECT_EQ(timing_only.core(0).sram(), nullptr);
  EXPECT_EQ(timing_only.cycles(), functional.cycles());
  EXPECT_EQ(timing_only.stats.to_json().dump(), functional.stats.to_json().dump());
}

TEST(CoreModes, RunsAreDeterministic) {
  const GemmData g = gemm_data();
  TinyChip first, second;
  run_gemm(first, g, true);
  run_gemm(second, g, true);
  EXPECT_EQ(first.stats.to_json().dump(), second.stats.to_json().dump());
  EXPECT_EQ(first.events.now(), second.events.now());
}

}  // namespace
}  // namespace seedchip::sim
