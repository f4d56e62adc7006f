#pragma once
// The search over the GEMM mapping space: every candidate of gemm_space ranked by gemm_cost, the
// cheapest chosen. compiler/kernels/gemm's plan_gemm is this search plus the operands' layout.
#include <string>
#include <vector>

#include "compiler/mapping/cost_model.h"
#include "compiler/mapping/gemm_space.h"

namespace seedchip::compiler::mapping {

struct GemmSearchOptions {
  GemmSpaceOptions space;
  GemmCostOptions cost;
};

struct RankedGemmPlan {
  GemmPlan plan;
  GemmCost cost;
};

struct GemmSearchResult {
  GemmPlan plan;  // estimated_cycles and candidates_ranked filled in; layout empty
  GemmCost cost;
  int64_t candidates = 0;        // 0: nothing fits the SRAM (plan is then meaningless)
  std::string describe() const;  // the plan, the cost model's estimate and the candidate count
};

// The cheapest candidate; ties (equal totals) go to the first in gemm_space's order.
GemmSearchResult search_gemm(const ChipConfig& chip, const GemmShape& shape,
                             const GemmSearchOptions& options = {});
// Every candidate with its cost, cheapest first (a stable sort of gemm_space's order).
std::vector<RankedGemmPlan> rank_gemm(const ChipConfig& chip, const GemmShape& shape,
                                      const GemmSearchOptions& options = {});

// The fixed heuristic plan_gemm used before the search (kept as the baseline that
// bench/bench_mapping compares against): the grid with the least MXU work per core, then HBM
// traffic; 3 A buffers and 12 weight buffers; 2 tiles per weight DMA where a core streams at
// least 64 weight tiles of at most one tile height of rows; the fitting chunks with the least
// re-loaded traffic, then the longest MXU streams. Layout empty; sram_bytes_used 0 when nothing
// fits.
GemmPlan heuristic_gemm_plan(const ChipConfig& chip, const GemmShape& shape);

}  // namespace seedchip::compiler::mapping
