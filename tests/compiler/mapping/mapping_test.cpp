// The GEMM mapping space, its cost model and the search (compiler/mapping), checked against the
// timing simulator: on small and medium shapes the cost model must rank a spread sample of
// candidates like the simulator does (Spearman >= 0.7) and the searched plan must run within 15%
// of the fastest simulated candidate.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "compiler/kernels/gemm.h"
#include "compiler/mapping/search.h"
#include "sim/chip/simulation.h"
#include "sim/numerics/numerics.h"

namespace seedchip::compiler::mapping {
namespace {

uint64_t simulate_cycles(const ChipConfig& chip, const GemmShape& shape, GemmPlan plan) {
  plan.layout = plan_gemm(chip, shape).layout;
  sim::SimulationOptions options;
  options.functional = false;
  sim::Simulation simulation(chip, options);
  simulation.load(generate_gemm(chip, shape, plan));
  const sim::RunResult r = simulation.run();
  EXPECT_TRUE(r.completed);
  return r.core_cycles;
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  for (size_t i = 0; i < v.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    for (size_t q = i; q <= j; ++q) r[order[q]] = (static_cast<double>(i + j) / 2.0);
    i = j + 1;
  }
  return r;
}

double spearman(const std::vector<double>& x, const std::vector<double>& y) {
  const std::vector<double> rx = ranks(x), ry = ranks(y);
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) mx += rx[i] / n, my += ry[i] / n;
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (rx[i] - mx) * (ry[i] - my);
    sxx += (rx[i] - mx) * (rx[i] - mx);
    syy += (ry[i] - my) * (ry[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

// Up to `count` candidates spread over the ranking (rank 0 first), among those the cost model
// puts within `spread` of the cheapest (farther ones only take long to simulate).
std::vector<RankedGemmPlan> sample(const std::vector<RankedGemmPlan>& ranked, size_t count,
                                   double spread) {
  size_t n = 0;
  while (n < ranked.size() && ranked[n].cost.total <= spread * ranked.front().cost.total) ++n;
  std::vector<RankedGemmPlan> out;
  std::set<size_t> taken;
  for (size_t j = 0; j < count && n > 0; ++j) {
    const size_t i = count > 1 ? j * (n - 1) / (count - 1) : 0;
    if (taken.insert(i).second) out.push_back(ranked[i]);
  }
  return out;
}

TEST(GemmSpace, EveryCandidateFitsAndCoversTheMatrix) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  const GemmShape shape{512, 4096, 4096, DataType::BF16};
  const std::vector<GemmPlan> space = gemm_space(chip, shape);
  ASSERT_GT(space.size(), 1000u);
  std::set<int64_t> a_slots, b_slots, tps, grids;
  for (const GemmPlan& p : space) {
    EXPECT_LE(p.sram_bytes_used, static_cast<uint64_t>(chip.sram.bytes));
    EXPECT_EQ(p.grid_m * p.grid_n, chip.core_count());
    EXPECT_GE(p.block_m * p.grid_m, shape.m);
    EXPECT_GE(p.block_n * p.grid_n, shape.n);
    a_slots.insert(p.a_slots);
    b_slots.insert(p.b_slots);
    tps.insert(p.tiles_per_slot);
    grids.insert(p.grid_m);
  }
  EXPECT_EQ(a_slots, (std::set<int64_t>{1, 2, 3}));
  EXPECT_EQ(b_slots, (std::set<int64_t>{1, 2, 4, 8, 12}));
  EXPECT_EQ(tps, (std::set<int64_t>{1, 2, 4}));
  EXPECT_EQ(grids.size(), 5u);  // 1, 2, 4, 8, 16 rows of cores
  // Deterministic, and the cap keeps the first candidates of the same order.
  GemmSpaceOptions cap;
  cap.max_candidates = 10;
  const std::vector<GemmPlan> capped = gemm_space(chip, shape, cap);
  ASSERT_EQ(capped.size(), 10u);
  for (size_t i = 0; i < capped.size(); ++i) EXPECT_EQ(capped[i].describe(), space[i].describe());
}

TEST(GemmSpace, HoldsTheOldHeuristicsPlan) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  for (const GemmShape& shape :
       {GemmShape{1, 8192, 8192, DataType::BF16}, GemmShape{4096, 4096, 4096, DataType::BF16},
        GemmShape{1, 64, 64, DataType::BF16}}) {
    const GemmPlan h = heuristic_gemm_plan(chip, shape);
    bool found = false;
    for (const GemmPlan& p : gemm_space(chip, shape)) found |= p.describe() == h.describe();
    EXPECT_TRUE(found) << h.describe();
  }
}

TEST(GemmSearch, PlanGemmIsTheSearchAndSaysSo) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  const GemmShape shape{64, 8192, 3584, DataType::BF16};
  const GemmSearchResult best = search_gemm(chip, shape);
  const GemmPlan plan = plan_gemm(chip, shape);
  EXPECT_EQ(plan.describe(), best.plan.describe());
  EXPECT_GT(plan.candidates_ranked, 100);
  EXPECT_EQ(plan.estimated_cycles, best.cost.total);
  EXPECT_NE(plan.describe().find("cost model"), std::string::npos) << plan.describe();
  const std::vector<RankedGemmPlan> ranked = rank_gemm(chip, shape);
  ASSERT_EQ(static_cast<int64_t>(ranked.size()), best.candidates);
  EXPECT_EQ(ranked.front().cost.total, best.cost.total);
  EXPECT_EQ(best.plan.describe().rfind(ranked.front().plan.describe(), 0), 0u);
  for (size_t i = 1; i < ranked.size(); ++i)
    EXPECT_LE(ranked[i - 1].cost.total, ranked[i].cost.total);
}

// Buffering depths of 1 (no overlap) and several weight tiles per DMA compute the same product.
TEST(GemmSearch, ShallowBuffersComputeTheProduct) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  const GemmShape shape{96, 512, 1024, DataType::BF16};
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal(0, 1);
  auto operand = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = normal(rng);
    std::vector<uint8_t> bytes(n * 2);
    numerics::from_fp32(shape.type, v.data(), bytes.data(), n);
    return bytes;
  };
  const auto a = operand(shape.m * shape.k), b = operand(shape.k * shape.n);
  std::vector<float> expected(shape.m * shape.n);
  numerics::matmul(shape.type, DataType::FP32, a.data(), shape.k * 2, b.data(),
                   reinterpret_cast<uint8_t*>(expected.data()), shape.n * 4, shape.m, shape.k,
                   shape.n, false);
  int tried = 0, ran = 0;
  for (const GemmPlan& candidate : gemm_space(chip, shape)) {
    const bool shallow = candidate.a_slots == 1 || candidate.b_slots == 1;
    if (!(shallow || candidate.tiles_per_slot == 4) || candidate.chunk_m == 1) continue;
    if (tried++ % 97 || ran == 6) continue;  // a sample
    ++ran;
    GemmPlan plan = candidate;
    plan.layout = plan_gemm(chip, shape).layout;
    sim::Simulation simulation(chip, sim::SimulationOptions{});
    simulation.load(generate_gemm(chip, shape, plan));
    simulation.hbm_data(0).write(plan.layout.a, a.data(), a.size());
    const auto packed = pack_gemm_weights(shape, plan, b.data());
    simulation.hbm_data(0).write(plan.layout.b, packed.data(), packed.size());
    ASSERT_TRUE(simulation.run().completed) << plan.describe();
    std::vector<float> c(expected.size());
    simulation.hbm_data(0).read(plan.layout.c, c.data(), c.size() * 4);
    EXPECT_LE(numerics::nmse(c.data(), expected.data(), c.size()), 1e-6) << plan.describe();
  }
  EXPECT_EQ(ran, 6);
}

// The cost model against the simulator on a sample of candidates of each shape.
TEST(GemmSearch, CostModelRanksLikeTheSimulator) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  for (const GemmShape& shape :
       {GemmShape{64, 2048, 2048, DataType::BF16}, GemmShape{256, 1024, 2048, DataType::BF16}}) {
    const std::vector<RankedGemmPlan> picked = sample(rank_gemm(chip, shape), 8, 4.0);
    std::vector<double> estimated, simulated;
    for (const RankedGemmPlan& r : picked) {
      estimated.push_back(r.cost.total);
      simulated.push_back(static_cast<double>(simulate_cycles(chip, shape, r.plan)));
    }
    const double best = *std::min_element(simulated.begin(), simulated.end());
    const double rho = spearman(estimated, simulated);
    const std::string name =
        std::to_string(shape.m) + "x" + std::to_string(shape.n) + "x" + std::to_string(shape.k);
    RecordProperty("spearman_" + name, std::to_string(rho));
    RecordProperty("searched_over_best_" + name, std::to_string(simulated.front() / best));
    EXPECT_GE(rho, 0.7) << shape.m << "x" << shape.n << "x" << shape.k;
    EXPECT_LE(simulated.front(), 1.15 * best) << shape.m << "x" << shape.n << "x" << shape.k;
  }
}

TEST(GemmSearch, PlanGemmKeepsItsErrors) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  EXPECT_THROW(plan_gemm(chip, {0, 4, 4, DataType::BF16}), InputError);
  EXPECT_THROW(plan_gemm(chip, {4, 4, 4, DataType::FP32}), InputError);
  ChipConfig tiny = chip;
  tiny.sram.bytes = 1024;
  try {
    plan_gemm(tiny, {256, 256, 256, DataType::BF16});
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("fits sram.bytes=1024"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace seedchip::compiler::mapping
