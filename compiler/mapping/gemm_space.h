#pragma once
// The space of GEMM mappings for one shape on one chip: every plan the kernel
// (compiler/kernels/gemm) can emit that fits a core's SRAM. Enumeration only; ranking is
// cost_model.h and choosing is search.h.
//
// Dimensions of a candidate (GemmPlan):
//  * core grid grid_m x grid_n over C, every factorisation of the core count (blocks start on
//    weight-tile boundaries; a grid may leave cores without work when a dimension is short);
//  * chunk sizes: chunk_n from the block's width halved down to one weight tile, chunk_k in 8, 4,
//    2 and 1 weight tiles (capped at K), chunk_m from the block's height halved down to one row;
//  * buffering depth: a_slots in 3, 2, 1 A chunks and b_slots in 12, 8, 4, 2, 1 weight buffers
//    (1 = the DMA never runs ahead of the MXU on that operand, 2 = double, 3+ = deeper), within
//    the kernel's semaphore budget (kGemmMaxASlots, kGemmMaxBSlots);
//  * tiles_per_slot in 1, 2, 4: consecutive K tiles of one weight column per DMA (only values up
//    to the chunk's K tiles; more would emit the same code);
// and a candidate is legal when its accumulator, A ring and weight ring fit sram.bytes
// (gemm_sram_map, the kernel's own SRAM layout).
//
// Split-K (K sliced over groups of cores, partial results summed by a VPU pass) is a property of
// the lowering (compiler/codegen/lower_matmul.cpp, plan_k_splits), not of this kernel: a K slice
// is this space on a chip of cores / S cores, and cost_model.h prices the extra pass
// (gemm_split_k_cost).
//
// Loop order: the space has one. The kernel walks each core's chunks m, then n, then k (k
// innermost, as the accumulator holds one m x n chunk until its K is complete). Neither operand
// stays in SRAM from one chunk to the next (each chunk reloads its A chunk and its weight tiles),
// so every order of the m and n chunk loops moves the same bytes and runs the same tiles: a
// second order would change no cost term, only the HBM addresses' sequence. Within a chunk the
// emitter already picks the tile order (column by column where it streams weights or completes
// the accumulator, else K tile by K tile).
#include <cstddef>
#include <functional>
#include <vector>

#include "compiler/mapping/gemm_plan.h"

namespace seedchip::compiler::mapping {

struct GemmSpaceOptions {
  // At most this many candidates, the first ones in the enumeration order below; the default
  // holds the whole space of every shape tried on the presets (about 40 000 at most for 16 cores).
  size_t max_candidates = 200000;
};

// Every legal plan (layout left at its defaults: the caller places the operands), in a
// deterministic order: grid_m ascending, then chunk_n, chunk_k, chunk_m descending, then a_slots,
// b_slots descending, then tiles_per_slot ascending. Empty when nothing fits the SRAM. The shape
// must be non-empty and of an MXU format of the chip (plan_gemm checks both).
std::vector<GemmPlan> gemm_space(const ChipConfig& chip, const GemmShape& shape,
                                 const GemmSpaceOptions& options = {});
// The same candidates in the same order, handed to `visit` one at a time instead of collected
// (the search keeps only the best). Returns how many were visited.
int64_t for_each_gemm_candidate(const ChipConfig& chip, const GemmShape& shape,
                                const GemmSpaceOptions& options,
                                const std::function<void(const GemmPlan&)>& visit);

// The chunk extents the space tries along one dimension: `extent`, then repeated halving rounded
// up to a multiple of `quantum`, down to `quantum`.
std::vector<int64_t> chunk_halvings(int64_t extent, int64_t quantum);

}  // namespace seedchip::compiler::mapping
