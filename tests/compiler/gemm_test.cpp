// The tiled GEMM kernel: its plan fits the chip, and its program computes the right numbers on the
// functional simulator (bit-exact for INT8 -> INT32, NMSE-bounded for FP formats).
#include "compiler/kernels/gemm.h"

#include <gtest/gtest.h>

#include <random>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "compiler/mapping/search.h"
#include "sim/chip/simulation.h"
#include "sim/numerics/numerics.h"

namespace seedchip::compiler {
namespace {

ChipConfig small_chip() {
  ChipConfig chip = load_chip("seedchip-v1").config;
  chip.core.mesh_x = 2;
  chip.core.mesh_y = 2;
  chip.mxu.rows = 16;
  chip.mxu.cols = 16;
  chip.sram.bytes = 64 * 1024;
  return chip;
}

struct GemmRun {
  std::vector<uint8_t> got, expected;
};

// `chosen`: a plan other than plan_gemm's (its layout is plan_gemm's).
GemmRun run(const ChipConfig& chip, const GemmShape& shape, uint64_t seed,
            const GemmPlan* chosen = nullptr) {
  GemmPlan plan = plan_gemm(chip, shape);
  if (chosen) {
    const GemmLayout layout = plan.layout;
    plan = *chosen;
    plan.layout = layout;
  }
  sim::Simulation simulation(chip, {});
  simulation.load(generate_gemm(chip, shape, plan));
  std::mt19937_64 rng(seed);
  const size_t in = dtype_bytes(shape.type);
  auto operand = [&](size_t count) {
    std::vector<float> v(count);
    std::normal_distribution<float> normal(0, 1);
    std::uniform_int_distribution<int> ints(-128, 127);
    for (auto& x : v)
      x = shape.type == DataType::INT8 ? static_cast<float>(ints(rng)) : normal(rng);
    std::vector<uint8_t> bytes(count * in);
    numerics::from_fp32(shape.type, v.data(), bytes.data(), count);
    return bytes;
  };
  const auto a = operand(shape.m * shape.k), b = operand(shape.k * shape.n);
  simulation.hbm_data(0).write(plan.layout.a, a.data(), a.size());
  const auto packed = pack_gemm_weights(shape, plan, b.data());
  simulation.hbm_data(0).write(plan.layout.b, packed.data(), packed.size());
  EXPECT_TRUE(simulation.run().completed);
  const DataType acc = gemm_accumulator(shape.type);
  GemmRun r;
  r.got.resize(shape.m * shape.n * dtype_bytes(acc));
  r.expected.resize(r.got.size());
  simulation.hbm_data(0).read(plan.layout.c, r.got.data(), r.got.size());
  numerics::matmul_reference(shape.type, acc, a.data(), shape.k * in, b.data(), r.expected.data(),
                             shape.n * dtype_bytes(acc), shape.m, shape.k, shape.n, false);
  return r;
}

TEST(GemmPlan, FitsSramAndCoversTheMatrix) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  const GemmPlan plan = plan_gemm(chip, {4096, 4096, 4096, DataType::BF16});
  EXPECT_LE(plan.sram_bytes_used, static_cast<uint64_t>(chip.sram.bytes));
  EXPECT_EQ(plan.grid_m * plan.grid_n, chip.core_count());
  EXPECT_GE(plan.block_m * plan.grid_m, 4096);
  EXPECT_GE(plan.block_n * plan.grid_n, 4096);
  EXPECT_EQ(plan.tile_k, chip.mxu.rows);
}

TEST(GemmPlan, SkinnyGemmSplitsColumnsOverAllCores) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  const GemmPlan plan = plan_gemm(chip, {1, 8192, 8192, DataType::BF16});
  EXPECT_EQ(plan.grid_m, 1);
  EXPECT_EQ(plan.grid_n, chip.core_count());
}

// The fused Q/K/V product of a Llama-3.1-70B TP-8 shard in decode: 10 weight-tile columns leave 6
// of 16 cores idle, and 64 tiles each on the busiest; 8 K slices on 2 cores each stream 5 x 8 = 40.
// Products wide enough for every core, or with a single K tile, are not split.
TEST(GemmPlan, NarrowProductsSplitKOverTheIdleCores) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  EXPECT_EQ(plan_k_splits(chip, {1, 1280, 8192, DataType::BF16}), 8);
  EXPECT_EQ(plan_k_splits(chip, {1, 8192, 8192, DataType::BF16}), 1);
  EXPECT_EQ(plan_k_splits(chip, {1, 1280, 128, DataType::BF16}), 1);
  // 32 columns, 2 per core: a split would only shorten each core's slice of A.
  EXPECT_EQ(plan_k_splits(chip, {1, 4096, 14336, DataType::BF16}), 1);
  // Many rows: the partial results would cost more than the idle cores.
  EXPECT_EQ(plan_k_splits(chip, {4096, 1280, 8192, DataType::BF16}), 1);
}

TEST(GemmPlan, RejectsEmptyShapesAndUnsupportedFormats) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  EXPECT_THROW(plan_gemm(chip, {0, 4, 4, DataType::BF16}), InputError);
  EXPECT_THROW(plan_gemm(chip, {4, 4, 4, DataType::FP32}), InputError);  // no FP32 MXU mode
}

TEST(GemmFunctional, Int8IsBitExactIncludingRaggedEdges) {
  const GemmShape shape{37, 45, 70, DataType::INT8};
  const GemmRun r = run(small_chip(), shape, 7);
  EXPECT_EQ(r.got, r.expected);
}

TEST(GemmFunctional, Bf16WithinNmseBound) {
  const GemmShape shape{64, 80, 96, DataType::BF16};
  const GemmRun r = run(small_chip(), shape, 11);
  const double err =
      numerics::nmse(reinterpret_cast<const float*>(r.got.data()),
                     reinterpret_cast<const float*>(r.expected.data()), shape.m * shape.n);
  EXPECT_LE(err, 1e-6);
}

TEST(GemmFunctional, SeveralAccumulatorChunksPerCore) {
  ChipConfig chip = small_chip();
  chip.sram.bytes = 12 * 1024;  // forces chunking of M and N inside each core's block
  const GemmShape shape{96, 96, 64, DataType::INT8};
  // The search fits the block whole with fewer buffers; the old heuristic keeps 3 A and 12
  // weight buffers and chunks the block.
  const GemmPlan plan = mapping::heuristic_gemm_plan(chip, shape);
  EXPECT_LT(plan.chunk_m * plan.chunk_n, plan.block_m * plan.block_n);
  const GemmRun r = run(chip, shape, 3, &plan);
  EXPECT_EQ(r.got, r.expected);
}

}  // namespace
}  // namespace seedchip::compiler

namespace seedchip::compiler {
namespace {

TEST(GemmOnEveryPreset, ASmallGemmSimulatesToCompletion) {
  for (const std::string& preset : list_presets()) {
    SCOPED_TRACE(preset);
    const ChipConfig chip = load_chip(preset).config;
    const GemmShape shape{256, 256, 256, DataType::BF16};
    sim::SimulationOptions options;
    options.functional = false;
    sim::Simulation simulation(chip, options);
    simulation.load(generate_gemm(chip, shape, plan_gemm(chip, shape)));
    EXPECT_TRUE(simulation.run().completed);
  }
}

}  // namespace
}  // namespace seedchip::compiler
