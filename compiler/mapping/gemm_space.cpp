#include "compiler/mapping/gemm_space.h"

#include <algorithm>

namespace seedchip::compiler::mapping {
std::vector<int64_t> chunk_halvings(int64_t extent, int64_t quantum) {
  std::vector<int64_t> out{extent};
  while (out.back() > quantum) {
    const int64_t next = ceil_div(ceil_div(out.back(), 2), quantum) * quantum;
    if (next >= out.back()) break;
    out.push_back(next);
  }
  return out;
}

std::vector<GemmPlan> gemm_space(const ChipConfig& chip, const GemmShape& shape,
                                 const GemmSpaceOptions& options) {
  std::vector<GemmPlan> out;
  for_each_gemm_candidate(chip, shape, options, [&](const GemmPlan& p) { out.push_back(p); });
  return out;
}

int64_t for_each_gemm_candidate(const ChipConfig& chip, const GemmShape& shape,
                                const GemmSpaceOptions& options,
                                const std::function<void(const GemmPlan&)>& visit) {
  size_t visited = 0;
  const int64_t cores = chip.core_count();
  const int64_t tile_k = std::min<int64_t>(chip.mxu.rows, shape.k);
  const int64_t tile_n = std::min<int64_t>(chip.mxu.cols, shape.n);
  const int64_t k_tiles = ceil_div(shape.k, tile_k);
  const auto sram = static_cast<uint64_t>(chip.sram.bytes);
  for (int64_t gm = 1; gm <= cores; ++gm) {
    if (cores % gm) continue;
    GemmPlan base;
    base.grid_m = gm;
    base.grid_n = cores / gm;
    base.tile_k = tile_k;
    base.tile_n = tile_n;
    base.block_m = ceil_div(shape.m, base.grid_m);
    // Blocks start on weight-tile boundaries: the packed weights are cut into tiles globally.
    base.block_n = ceil_div(ceil_div(shape.n, base.grid_n), tile_n) * tile_n;
    std::vector<int64_t> chunk_ks;
    for (int64_t tiles : {8, 4, 2, 1}) {
      const int64_t ck = std::min(tiles * tile_k, shape.k);
      if (std::find(chunk_ks.begin(), chunk_ks.end(), ck) == chunk_ks.end()) chunk_ks.push_back(ck);
    }
    for (int64_t cn : chunk_halvings(base.block_n, tile_n))
      for (int64_t ck : chunk_ks)
        for (int64_t cm : chunk_halvings(base.block_m, 1))
          for (int64_t a_slots = kGemmMaxASlots; a_slots >= 1; --a_slots)
            for (int64_t b_slots : {kGemmMaxBSlots, int64_t{8}, int64_t{4}, int64_t{2}, int64_t{1}})
              for (int64_t tps : {1, 2, 4}) {
                b_slots = std::min(b_slots, gemm_max_b_slots(shape));
                // More tiles per DMA than a chunk's column holds would emit the same code.
                if (tps > 1 && tps > std::min(ceil_div(ck, tile_k), k_tiles)) continue;
                GemmPlan p = base;
                p.chunk_n = std::min(cn, base.block_n);
                p.chunk_k = ck;
                p.chunk_m = cm;
                p.a_slots = a_slots;
                p.b_slots = b_slots;
                p.tiles_per_slot = tps;
                p.epilogue = shape.epilogue;
                const GemmSramMap s = gemm_sram_map(p, shape.type);
                if (s.end > sram) continue;
                p.sram_bytes_used = s.end;
                visit(p);
                if (++visited >= options.max_candidates) return static_cast<int64_t>(visited);
              }
  }
  return static_cast<int64_t>(visited);
}

}  // namespace seedchip::compiler::mapping
