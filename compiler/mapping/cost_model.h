#pragma once
// An analytic cost for a GEMM mapping, from the ChipConfig alone (no simulation): the busiest
// core's cycles from the first instruction of the kernel to its last store. Candidates are
// ranked by `total`; the terms are kept apart so that a printed mapping says what bounds it.
//
// Terms and where each comes from (the cycles are core clock cycles):
//  * mxu: per weight tile of the busiest core, sim::mxu_stream_cycles (ceil(rows / macs_per_pe))
//    and sim::mxu_load_cycles (ceil(tile_k / mxu.weight_load_rows_per_cycle)), docs/core.md.
//    With mxu.weight_double_buffer a tile costs max(stream, load) (the next load runs behind the
//    stream); without it load + sim::mxu_matmul_cycles (fill + stream + drain). A tile takes
//    longer when one SRAM bank needs more cycles than the stream (docs/core.md's fluid bank
//    model): its A rows (the A chunk's row pitch decides how many banks they touch), the
//    accumulator read and written and the weights loaded (spread over every bank), plus the
//    DMA's writes into SRAM during the tile, at sram.bank_width_bytes per bank per cycle.
//  * dma: bytes the busiest core moves (each A chunk once per chunk of columns, each weight tile
//    once per chunk of rows, C once; A in FP32 once, whole) over its share of the HBM: the peak
//    of chip_peaks (stacks x channels x PCs x bus bits x data rate) times kHbmEfficiency, divided
//    by the cores that move data, and capped by the core's NoC port (noc.link_bytes_per_cycle).
//    A's bytes count kShortRunCost more where its chunk rows are shorter than hbm.row_bytes.
//    Plus each transfer's fixed time, dma.setup_cycles + the loaded HBM latency, shared by the
//    transfers in flight at once: min(dma.engines, weight buffers - 1), one buffer being read.
//  * latency (loaded HBM latency): (tRCD + tCL + controller_cycles) HBM clocks, a row miss's tRP,
//    converted to core cycles (core.clock_mhz / hbm.clock_mhz), plus the mean NoC distance
//    (mesh_x + mesh_y) / 2 x noc.hop_cycles, plus sram.latency_cycles, plus the wait behind a
//    full controller queue (hbm.read_queue x tBL, spread over the stack's pseudo-channels).
//  * sequencer: kInstructionsPerTile instructions per weight tile at core.sequencer_issue_cycles
//    each (the in-order sequencer issues every mxu.load, mxu.matmul, dma and register set-up).
//  * A ring (a_slots): the kernel queues the load of A chunk i + 1 ahead of chunk i's weight
//    loads in the in-order DMA queue, and it waits for the buffer chunk i + 1 - a_slots frees;
//    so chunk i's loads (setup + latency + its A chunk's and first weight buffer's bytes /
//    bandwidth = L; its other weights stream behind its products) start when chunk
//    i + 1 - a_slots ends, and the chunk period T obeys (a_slots - 1) T >= L + M, M the chunk's
//    MXU time (with one buffer the next A load is queued behind the weights: L + M as with two).
//    a_ring = M + (L + M) / max(1, a_slots - 1) per chunk after the first.
//  * overlap (buffering depth): with >= 2 weight buffers the DMA runs ahead of the MXU and the
//    steady state is the largest of mxu, dma and a_ring, smoothed (kOverlapNorm), or the
//    sequencer; with one weight buffer every tile waits for its load (mxu + dma, less the one
//    tile that has nothing to overlap).
//  * restart (per accumulator after the first): the kernel waits for the previous accumulator's
//    stores before loading the next chunk's weights: the last tile's fill and drain
//    (sim::mxu_fill_drain_cycles), one column's store and one weight buffer's load (setup +
//    latency + bytes / bandwidth) and the MXU's weight load.
//  * fill and tail (once): the first A chunk and weight buffer's arrival; the last column's store.
//  * vpu: A in FP32 (GemmLayout::a_fp32) is converted on the VPU before the first product,
//    sim::vpu_cycles of a cvt over the core's rows of A (not overlapped).
//  * fixed: the op's closing barrier, 2 x (mesh_x + mesh_y) x noc.hop_cycles (same for every
//    candidate of a shape; it matters when split-K adds a second one).
//  * split-K (gemm_split_k_cost): the slices' plan on cores / S cores with the HBM shared by all
//    S groups, then the partial-sum pass: (S + 1) x M x N x 4 bytes over the whole chip's HBM
//    share, S - 1 VPU adds per element over all cores, and one more barrier.
#include <string>
#include <vector>

#include "compiler/mapping/gemm_plan.h"

namespace seedchip::compiler::mapping {

// Fraction of the HBM peak a stream of long reads sustains in the simulator (refresh, row
// switches and read/write turnarounds take the rest); bench/bench_gemm measures 0.8 - 0.9.
constexpr double kHbmEfficiency = 0.88;
// HBM cost of A rows shorter than a DRAM row (hbm.row_bytes): each A chunk row is one run of
// chunk_k elements, and a run of r bytes costs as if 1 + kShortRunCost x (row_bytes / r - 1)
// times its bytes moved (row activations for part of a row); fitted on bench_mapping.
constexpr double kShortRunCost = 0.5;
// Instructions the kernel issues per weight tile: mxu.load, mxu.matmul, their register set-ups
// and a share of the DMA instructions (generate_gemm's programs average 6 - 9).
constexpr double kInstructionsPerTile = 8;
// Overlap of the MXU, DMA and A-ring streams: their p-norm with this p (the max when one
// dominates, up to 3^(1/p) times it when they are equal), a stand-in for the stalls of the
// in-order DMA queue when no stream has slack; fitted on bench_mapping.
constexpr double kOverlapNorm = 4;

struct GemmCostOptions {
  bool a_fp32 = false;  // A read in FP32 and converted in SRAM (GemmLayout::a_fp32)
  // Cores sharing the HBM while this GEMM runs; 0 = the cores this plan gives work to. Split-K
  // runs S groups at once, each planned on cores / S.
  int64_t hbm_cores = 0;
};

struct GemmCost {
  double mxu = 0, dma = 0, sequencer = 0;  // busiest core's busy time per unit
  double a_ring = 0;  // the chunk period the A ring's in-order loads allow, times the chunks
  double restart = 0, fill = 0, tail = 0, vpu = 0, fixed = 0, split_k = 0;
  double steady = 0;     // the overlap of mxu, dma and sequencer under the buffering depth
  double total = 0;      // cycles; what the search minimises
  double hbm_bytes = 0;  // bytes the whole chip moves
  int64_t active_cores = 0;
  std::string bound() const;  // "mxu", "dma" or "sequencer": the largest steady term
  std::string describe() const;
};

// Loaded HBM latency in core cycles (the term above), for one request.
double hbm_latency_cycles(const ChipConfig& chip);

// The cost model bound to one chip, shape and options: what every candidate shares (the HBM
// peak, the loaded latency, the weight-load cycles, the barrier) is computed once, and the SRAM
// bank sums of A rows are remembered per (rows sampled, row stride), so that the search prices
// tens of thousands of candidates in milliseconds. Prices exactly as gemm_cost does. Not
// thread-safe (the remembered bank sums); `chip` must outlive the model.
class GemmCostModel {
 public:
  GemmCostModel(const ChipConfig& chip, const GemmShape& shape,
                const GemmCostOptions& options = {});
  GemmCost operator()(const GemmPlan& plan) const;

 private:
  double sram_tile_cycles(const GemmPlan& plan, int64_t rows, int64_t a_stride) const;

  const ChipConfig& chip_;
  GemmShape shape_;
  GemmCostOptions options_;
  double hbm_bytes_per_cycle_ = 0, latency_ = 0, barrier_ = 0;
  struct ABanks {
    int64_t sample_rows, a_stride, tile_k;
    double worst_bank_bytes;
  };
  mutable std::vector<ABanks> a_banks_;
};

GemmCost gemm_cost(const ChipConfig& chip, const GemmShape& shape, const GemmPlan& plan,
                   const GemmCostOptions& options = {});

// The whole product split into `splits` K slices (shape.k / splits each), `slice_plan` planned on
// a chip of chip.core_count() / splits cores: the slices' cost plus the partial-sum pass.
GemmCost gemm_split_k_cost(const ChipConfig& chip, const GemmShape& shape, int64_t splits,
                           const GemmPlan& slice_plan, bool a_fp32 = false);

}  // namespace seedchip::compiler::mapping
