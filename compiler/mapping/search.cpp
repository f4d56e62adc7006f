#include "compiler/mapping/search.h"

#include <algorithm>
#include <limits>

namespace seedchip::compiler::mapping {
std::string GemmSearchResult::describe() const {
  return plan.describe() + " (" + cost.bound() + "-bound)";
}

GemmSearchResult search_gemm(const ChipConfig& chip, const GemmShape& shape,
                             const GemmSearchOptions& options) {
  GemmSearchResult best;
  best.cost.total = std::numeric_limits<double>::infinity();
  const GemmCostModel price(chip, shape, options.cost);
  best.candidates = for_each_gemm_candidate(chip, shape, options.space, [&](const GemmPlan& p) {
    const GemmCost cost = price(p);
    if (cost.total < best.cost.total) {
      best.plan = p;
      best.cost = cost;
    }
  });
  best.plan.estimated_cycles = best.candidates ? best.cost.total : 0;
  best.plan.candidates_ranked = best.candidates;
  return best;
}

std::vector<RankedGemmPlan> rank_gemm(const ChipConfig& chip, const GemmShape& shape,
                                      const GemmSearchOptions& options) {
  std::vector<RankedGemmPlan> ranked;
  const GemmCostModel price(chip, shape, options.cost);
  for_each_gemm_candidate(chip, shape, options.space, [&](const GemmPlan& p) {
    ranked.push_back({p, price(p)});
  });
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.cost.total < b.cost.total; });
  return ranked;
}

GemmPlan heuristic_gemm_plan(const ChipConfig& chip, const GemmShape& shape) {
  GemmPlan plan;
  const int64_t cores = chip.core_count();
  int64_t best_work = std::numeric_limits<int64_t>::max(), best_traffic = best_work;
  for (int64_t gm = 1; gm <= cores; ++gm) {
    if (cores % gm) continue;
    const int64_t gn = cores / gm;
    const int64_t bm = ceil_div(shape.m, gm), bn = ceil_div(shape.n, gn);
    const int64_t work = bm * bn, traffic = bm * shape.k + shape.k * bn;
    if (work < best_work || (work == best_work && traffic < best_traffic)) {
      best_work = work;
      best_traffic = traffic;
      plan.grid_m = gm;
      plan.grid_n = gn;
    }
  }
  plan.tile_k = std::min<int64_t>(chip.mxu.rows, shape.k);
  plan.tile_n = std::min<int64_t>(chip.mxu.cols, shape.n);
  plan.block_m = ceil_div(shape.m, plan.grid_m);
  plan.block_n = ceil_div(ceil_div(shape.n, plan.grid_n), plan.tile_n) * plan.tile_n;
  plan.a_slots = kGemmMaxASlots;
  plan.b_slots = gemm_max_b_slots(shape);
  plan.epilogue = shape.epilogue;
  const int64_t tiles_per_core =
      ceil_div(plan.block_n, plan.tile_n) * ceil_div(shape.k, plan.tile_k);
  plan.tiles_per_slot = plan.block_m <= plan.tile_k && tiles_per_core >= 64 ? 2 : 1;
  bool found = false;
  int64_t best_reload = std::numeric_limits<int64_t>::max(), best_stream = 0;
  for (int64_t cn : chunk_halvings(ceil_div(plan.block_n, plan.tile_n) * plan.tile_n, plan.tile_n))
    for (int64_t ck : {4 * plan.tile_k, 2 * plan.tile_k, plan.tile_k})
      for (int64_t cm : chunk_halvings(plan.block_m, 1)) {
        GemmPlan p = plan;
        p.chunk_n = std::min(cn, plan.block_n);
        p.chunk_k = std::min(ck, shape.k);
        p.chunk_m = cm;
        const GemmSramMap s = gemm_sram_map(p, shape.type);
        if (s.end > static_cast<uint64_t>(chip.sram.bytes)) continue;
        const int64_t reload = ceil_div(plan.block_n, p.chunk_n) * plan.block_m * shape.k +
                               ceil_div(plan.block_m, p.chunk_m) * shape.k * plan.block_n;
        if (!found || reload < best_reload || (reload == best_reload && cm * ck > best_stream)) {
          found = true;
          best_reload = reload;
          best_stream = cm * ck;
          plan.chunk_m = p.chunk_m;
          plan.chunk_n = p.chunk_n;
          plan.chunk_k = p.chunk_k;
          plan.sram_bytes_used = s.end;
        }
        break;
      }
  return plan;
}

}  // namespace seedchip::compiler::mapping
