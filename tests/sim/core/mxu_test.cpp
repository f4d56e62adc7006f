// MXU: the closed-form tile latency against a cycle-by-cycle array, the unit's timing inside a core
// (single tile, pipelined tiles, weight double buffering) and its numbers against references.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

#include "arch/error.h"
#include "sim/core/systolic_reference.h"
#include "sim/core/unit_timing.h"
#include "sim/numerics/numerics.h"
#include "tests/sim/core/tiny_chip.h"

namespace seedchip::sim {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::TinyChip;

TEST(MxuFormula, WorkedExampleFromTheDocs) {
  MxuConfig mxu;  // 128 x 128, BF16 1 MAC/PE/cycle, INT8 2
  mxu.weight_load_rows_per_cycle = 1;
  EXPECT_EQ(mxu_matmul_cycles(mxu, DataType::BF16, 1024, 128, 128), 127u + 1024u + 127u);
  EXPECT_EQ(mxu_matmul_cycles(mxu, DataType::INT8, 1024, 128, 128), 127u + 512u + 127u);
  EXPECT_EQ(mxu_matmul_cycles(mxu, DataType::INT8, 1023, 128, 128), 127u + 512u + 127u);
  EXPECT_EQ(mxu_load_cycles(mxu, 128, 128), 128u);
  mxu.weight_load_rows_per_cycle = 3;
  EXPECT_EQ(mxu_load_cycles(mxu, 128, 128), 43u);
}

TEST(MxuFormula, EqualsCycleByCycleArrayOnSmallTiles) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> value(-4, 4);
  for (int rows_per_cycle : {1, 2}) {
    MxuConfig mxu;
    mxu.rows = mxu.cols = 4;
    mxu.macs_per_pe_bf16 = rows_per_cycle;
    for (int m : {1, 2, 3, 5, 8, 13})
      for (int k = 1; k <= 4; ++k)
        for (int n = 1; n <= 4; ++n) {
          std::vector<double> a(static_cast<size_t>(m * k)), w(static_cast<size_t>(k * n));
          for (double& x : a) x = value(rng);
          for (double& x : w) x = value(rng);
          const SystolicRun run = simulate_systolic(4, 4, rows_per_cycle, m, k, n, a, w);
          EXPECT_EQ(run.cycles, mxu_matmul_cycles(mxu, DataType::BF16, m, k, n))
              << "m=" << m << " k=" << k << " n=" << n << " rows/cycle=" << rows_per_cycle;
          for (int r = 0; r < m; ++r)
            for (int j = 0; j < n; ++j) {
              double expected = 0;
              for (int i = 0; i < k; ++i) expected += a[r * k + i] * w[i * n + j];
              ASSERT_EQ(run.output[static_cast<size_t>(r * n + j)], expected);
            }
        }
  }
}

// SRAM layout of the tile tests: weights at 0, inputs at 64 KiB, outputs at 320 KiB.
constexpr uint64_t kW = 0, kIn = 64 << 10, kOut = 320 << 10;

std::string tile_program(const std::string& type, int m, int k, int n, int tiles, int acc = 0) {
  const int elem = type == "int8" ? 1 : (type == "fp32" ? 4 : 2);
  const std::string acc_type = type == "int8" ? "int32" : "fp32";
  std::string text = "li x1, " + std::to_string(kW) + "\nli x2, " + std::to_string(k) +
                     "\nli x3, " + std::to_string(n) + "\nli x4, " + std::to_string(kIn) +
                     "\nli x5, " + std::to_string(m) + "\nli x6, " + std::to_string(k * elem) +
                     "\nli x7, " + std::to_string(n * 4) + "\nli x8, " + std::to_string(kOut) +
                     "\n";
  for (int t = 0; t < tiles; ++t)
    text += "mxu.load x1, x2, x3, " + type + ", -, -\nmxu.matmul x8, x4, x5, x6, x7, " +
            std::to_string(acc) + ", " + type + ", " + acc_type + ", -, -\n";
  return text + "halt\n";
}

constexpr uint64_t kPrologue = 8;  // the li instructions before the first MXU instruction

TEST(MxuUnit, SingleTileTakesLoadPlusFormula) {
  TinyChip chip;
  chip.load(0, tile_program("bf16", 1024, 128, 128, 1));
  chip.run();
  const MxuConfig& mxu = chip.config.mxu;
  EXPECT_EQ(chip.cycles(), kPrologue + mxu_load_cycles(mxu, 128, 128) +
                               mxu_matmul_cycles(mxu, DataType::BF16, 1024, 128, 128));
  EXPECT_EQ(chip.stat(0, "mxu.macs"), 1024u * 128 * 128);
  EXPECT_EQ(chip.stat(0, "mxu.stream_cycles"), 1024u);
  EXPECT_EQ(chip.stat(0, "mxu.sram_conflict_cycles"), 0u);
}

TEST(MxuUnit, BackToBackTilesCostTheirStreamCycles) {
  const int tiles = 6;
  TinyChip chip;
  chip.load(0, tile_program("bf16", 1024, 128, 128, tiles));
  chip.run();
  const MxuConfig& mxu = chip.config.mxu;
  const uint64_t single = mxu_matmul_cycles(mxu, DataType::BF16, 1024, 128, 128);
  EXPECT_EQ(chip.cycles(), kPrologue + 128 + (tiles - 1) * 1024u + single);
  EXPECT_EQ(chip.stat(0, "mxu.busy_cycles"), chip.cycles() - kPrologue);
  const double utilization = static_cast<double>(chip.stat(0, "mxu.macs")) /
                             (static_cast<double>(chip.stat(0, "mxu.busy_cycles")) * 128 * 128);
  EXPECT_GT(utilization, 0.8);
}

TEST(MxuUnit, WithoutDoubleBufferEachLoadWaitsForTheArray) {
  ChipConfig config = testing::small_config();
  config.mxu.weight_double_buffer = false;
  TinyChip chip(true, config);
  chip.load(0, tile_program("bf16", 1024, 128, 128, 3));
  chip.run();
  const uint64_t single = mxu_matmul_cycles(config.mxu, DataType::BF16, 1024, 128, 128);
  EXPECT_EQ(chip.cycles(), kPrologue + 3 * (128 + single));
}

TEST(MxuUnit, Int8TileIsBitExactAndTwiceAsFast) {
  const int m = 40, k = 64, n = 32;
  std::mt19937 rng(1);
  std::uniform_int_distribution<int> value(-128, 127);
  std::vector<int8_t> w(k * n), a(m * k);
  for (auto& x : w) x = static_cast<int8_t>(value(rng));
  for (auto& x : a) x = static_cast<int8_t>(value(rng));
  std::vector<int32_t> expected(m * n, 0);
  // Two accumulating tiles: out = 2 * a x w.
  for (int pass = 0; pass < 2; ++pass)
    numerics::matmul_reference(DataType::INT8, DataType::INT32, a.data(), k, w.data(),
                               expected.data(), n * 4, m, k, n, pass == 1);

  TinyChip chip;
  chip.write_sram(0, kW, w);
  chip.write_sram(0, kIn, a);
  chip.load(0, tile_program("int8", m, k, n, 1));
  chip.run();
  EXPECT_EQ(chip.stat(0, "mxu.stream_cycles"), 20u);

  TinyChip twice;
  twice.write_sram(0, kW, w);
  twice.write_sram(0, kIn, a);
  twice.load(0, tile_program("int8", m, k, n, 2, 1));
  twice.run();
  EXPECT_EQ(twice.read_sram<int32_t>(0, kOut, m * n), expected);
}

TEST(MxuUnit, Bf16TileMatchesReference) {
  const int m = 100, k = 128, n = 128;
  std::mt19937 rng(2);
  std::normal_distribution<float> value(0, 1);
  std::vector<uint16_t> w(k * n), a(m * k);
  for (auto& x : w) x = numerics::fp32_to_bf16(value(rng));
  for (auto& x : a) x = numerics::fp32_to_bf16(value(rng));
  std::vector<float> exact(m * n);
  for (int r = 0; r < m; ++r)
    for (int j = 0; j < n; ++j) {
      double sum = 0;
      for (int i = 0; i < k; ++i)
        sum += static_cast<double>(numerics::bf16_to_fp32(a[r * k + i])) *
               numerics::bf16_to_fp32(w[i * n + j]);
      exact[r * n + j] = static_cast<float>(sum);
    }
  TinyChip chip;
  chip.write_sram(0, kW, w);
  chip.write_sram(0, kIn, a);
  chip.load(0, tile_program("bf16", m, k, n, 1));
  chip.run();
  const std::vector<float> out = chip.read_sram<float>(0, kOut, m * n);
  EXPECT_LE(numerics::nmse(out.data(), exact.data(), out.size()), 1e-10);
}

TEST(MxuUnit, LoadedWeightsIgnoreLaterSramWrites) {
  TinyChip chip;
  chip.write_sram(0, 0, std::vector<uint16_t>{numerics::fp32_to_bf16(2.0f)});   // 1 x 1 tile
  chip.write_sram(0, 16, std::vector<uint16_t>{numerics::fp32_to_bf16(5.0f)});  // overwrite src
  chip.write_sram(0, 32, std::vector<uint16_t>{numerics::fp32_to_bf16(3.0f)});  // input
  chip.load(0, R"(
    li x1, 0
    li x2, 1
    li x3, 16
    li x4, 32
    li x5, 64
    mxu.load x1, x2, x2, bf16, -, s0
    vpu.mov x1, x3, x2, bf16, s0, s1     # weights in SRAM become 5 after the load
    mxu.matmul x5, x4, x2, x2, x2, 0, bf16, fp32, s1, -
    halt
  )");
  chip.run();
  EXPECT_EQ(chip.read_sram<uint16_t>(0, 0, 1)[0], numerics::fp32_to_bf16(5.0f));
  EXPECT_EQ(chip.read_sram<float>(0, 64, 1)[0], 6.0f);
}

using testing::error_of;

TEST(MxuUnit, BadTilesAreInputErrorsNamingTheInstruction) {
  EXPECT_THAT(error_of("li x1, 200\nmxu.load x0, x1, x1, bf16, -, -\n"),
              AllOf(HasSubstr("core 0"), HasSubstr("instruction 1"), HasSubstr("mxu.load"),
                    HasSubstr("mxu.rows = 128")));
  EXPECT_THAT(error_of("li x1, 4\nmxu.load x0, x1, x1, fp32, -, -\n"),
              AllOf(HasSubstr("mxu.load"), HasSubstr("does not support fp32")));
  EXPECT_THAT(error_of("li x1, 1048575\nli x2, 4\nmxu.load x1, x2, x2, bf16, -, -\n"),
              AllOf(HasSubstr("instruction 2"), HasSubstr("past the end of SRAM")));
  EXPECT_THAT(error_of("li x1, 4\nmxu.matmul x0, x0, x1, x1, x1, 0, bf16, fp32, -, -\n"),
              HasSubstr("no weight tile was loaded"));
  EXPECT_THAT(error_of("li x1, 4\nmxu.load x0, x1, x1, int8, -, -\n"
                       "mxu.matmul x0, x0, x1, x1, x1, 0, int8, fp32, -, -\n"),
              HasSubstr("acc_type fp32 must be int32"));
}

}  // namespace
}  // namespace seedchip::sim
