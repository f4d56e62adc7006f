#include "compiler/mapping/cost_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <vector>

#include "arch/chip_peaks.h"
#include "sim/core/core.h"
#include "sim/core/unit_timing.h"

namespace seedchip::compiler::mapping {
namespace {

// HBM peak in bytes per core clock cycle (chip_peaks: stacks x channels x PCs x bits x rate).
double hbm_bytes_per_cycle(const ChipConfig& chip) {
  return chip_peaks(chip).hbm_gbytes_per_s * 1e9 / (chip.core.clock_mhz * 1e6);
}

// Streams that run side by side through buffers: the largest, plus what the in-order DMA
// queue's stalls cost when they are close (the kOverlapNorm-norm: the max when one dominates,
// up to n^(1/p) times it when n are equal).
double overlap(std::initializer_list<double> streams) {
  const double hi = std::max(streams);
  if (hi <= 0) return 0;
  double sum = 0;
  for (double x : streams) sum += std::pow(std::max(0.0, x) / hi, kOverlapNorm);
  return hi * std::pow(sum, 1.0 / kOverlapNorm);
}

double barrier_cycles(const ChipConfig& chip) {
  return 2.0 * static_cast<double>((chip.core.mesh_x + chip.core.mesh_y) * chip.noc.hop_cycles);
}

}  // namespace

std::string GemmCost::bound() const {
  if (mxu >= dma && mxu >= sequencer) return "mxu";
  return dma >= sequencer ? "dma" : "sequencer";
}

std::string GemmCost::describe() const {
  char s[256];
  std::snprintf(s, sizeof s,
                "%.0f cycles (%s-bound: mxu %.0f, dma %.0f, sequencer %.0f, A ring %.0f; "
                "restarts %.0f, fill %.0f, tail %.0f, vpu %.0f, split-K pass %.0f)",
                total, bound().c_str(), mxu, dma, sequencer, a_ring, restart, fill, tail, vpu,
                split_k);
  return s;
}

double hbm_latency_cycles(const ChipConfig& chip) {
  const HbmTiming& t = chip.hbm.timing;
  const double to_core = chip.core.clock_mhz / chip.hbm.clock_mhz;
  // A full read queue drains one burst per tBL; a request waits behind half of it on average.
  const double queue = static_cast<double>(chip.hbm.read_queue * t.tBL) / 2.0;
  const double dram =
      static_cast<double>(t.tRCD + t.tCL + t.tRP + chip.hbm.controller_cycles) + queue;
  const double noc = static_cast<double>(chip.core.mesh_x + chip.core.mesh_y) / 2.0 *
                     static_cast<double>(chip.noc.hop_cycles);
  return dram * to_core + noc + static_cast<double>(chip.sram.latency_cycles);
}

// Cycles the busiest SRAM bank needs for one mxu.matmul of `rows` rows: the A rows (tile_k
// elements at `a_stride` bytes apart, so a stride that is a multiple of many bank widths keeps
// to a few banks), the accumulator read and written (tile-major, so spread over every bank) and
// the tile's weights read by its mxu.load; sram.bank_width_bytes per bank per cycle (docs/core.md).
double GemmCostModel::sram_tile_cycles(const GemmPlan& p, int64_t rows, int64_t a_stride) const {
  const int64_t banks = chip_.sram.banks, width = chip_.sram.bank_width_bytes;
  const int64_t in = dtype_bytes(shape_.type), acc = dtype_bytes(gemm_accumulator(shape_.type));
  // A: one period of row offsets (at most kSampleRows rows), scaled to `rows`.
  constexpr int64_t kSampleRows = 64;
  const int64_t sample = std::min(rows, kSampleRows);
  auto known = std::find_if(a_banks_.begin(), a_banks_.end(), [&](const ABanks& b) {
    return b.sample_rows == sample && b.a_stride == a_stride && b.tile_k == p.tile_k;
  });
  if (known == a_banks_.end()) {
    const int64_t row_bytes = p.tile_k * in;
    std::vector<double> bank(static_cast<size_t>(banks), 0.0);
    for (int64_t r = 0; r < sample; ++r) {
      const int64_t start = r * a_stride;
      for (int64_t at = start; at < start + row_bytes;) {
        const int64_t next = std::min(start + row_bytes, (at / width + 1) * width);
        bank[static_cast<size_t>((at / width) % banks)] += static_cast<double>(next - at);
        at = next;
      }
    }
    a_banks_.push_back({sample, a_stride, p.tile_k, *std::max_element(bank.begin(), bank.end())});
    known = a_banks_.end() - 1;
  }
  const double a_worst = known->worst_bank_bytes * static_cast<double>(rows) / sample;
  const double spread = static_cast<double>(2 * rows * p.tile_n * acc + p.tile_k * p.tile_n * in) /
                        static_cast<double>(banks);
  return (a_worst + spread) / static_cast<double>(width);
}

GemmCostModel::GemmCostModel(const ChipConfig& chip, const GemmShape& shape,
                             const GemmCostOptions& options)
    : chip_(chip),
      shape_(shape),
      options_(options),
      hbm_bytes_per_cycle_(hbm_bytes_per_cycle(chip)),
      latency_(hbm_latency_cycles(chip)),
      barrier_(barrier_cycles(chip)) {}

GemmCost gemm_cost(const ChipConfig& chip, const GemmShape& shape, const GemmPlan& plan,
                   const GemmCostOptions& options) {
  return GemmCostModel(chip, shape, options)(plan);
}

GemmCost GemmCostModel::operator()(const GemmPlan& p) const {
  const ChipConfig& chip = chip_;
  const GemmShape& shape = shape_;
  const GemmCostOptions& options = options_;
  GemmCost c;
  const auto in = static_cast<double>(dtype_bytes(shape.type));
  const auto acc = static_cast<double>(dtype_bytes(gemm_accumulator(shape.type)));
  const int64_t rows_used = ceil_div(shape.m, p.block_m), cols_used = ceil_div(shape.n, p.block_n);
  c.active_cores = std::min(rows_used, p.grid_m) * std::min(cols_used, p.grid_n);
  // The busiest core: a whole block (the first one).
  const int64_t bm = std::min(p.block_m, shape.m), bn = std::min(p.block_n, shape.n);
  const int64_t k_tiles = ceil_div(shape.k, p.tile_k), col_tiles = ceil_div(bn, p.tile_n);
  const int64_t nmc = ceil_div(bm, p.chunk_m), nnc = ceil_div(bn, p.chunk_n);
  const int64_t nkc = ceil_div(shape.k, p.chunk_k);
  const auto tiles = static_cast<double>(nmc * col_tiles * k_tiles);

  // MXU: every weight tile of the block once per chunk of rows. A tile takes its stream, or
  // longer where its SRAM accesses need more of one bank (sram_tile_cycles).
  const auto load = static_cast<double>(sim::mxu_load_cycles(chip.mxu, p.tile_k, p.tile_n));
  const int64_t a_stride = (options.a_fp32 ? shape.k : p.chunk_k) * static_cast<int64_t>(in);
  // DMA bytes written into SRAM while a tile streams, spread over the banks (set below).
  double dma_share = 0;
  auto tile_cycles = [&](int64_t rows) {
    const auto stream = static_cast<double>(sim::mxu_stream_cycles(chip.mxu, shape.type, rows));
    const double sram = sram_tile_cycles(p, rows, a_stride) + dma_share;
    if (chip.mxu.weight_double_buffer) return std::max({stream, load, sram});
    return load + std::max(sram, static_cast<double>(sim::mxu_matmul_cycles(
                                     chip.mxu, shape.type, rows, p.tile_k, p.tile_n)));
  };
  const int64_t last_rows = bm - (nmc - 1) * p.chunk_m;
  {
    const double bytes = options.a_fp32 ? 0
                                        : static_cast<double>(nnc * bm * shape.k) * in +
                                              static_cast<double>(nmc * shape.k * bn) * in;
    dma_share = bytes / tiles / static_cast<double>(chip.sram.banks * chip.sram.bank_width_bytes);
  }
  c.mxu = static_cast<double>(col_tiles * k_tiles) *
          (static_cast<double>(nmc - 1) * tile_cycles(p.chunk_m) + tile_cycles(last_rows));

  // DMA: bytes over the core's share of the HBM, plus each transfer's setup and latency.
  const double a_bytes = options.a_fp32 ? static_cast<double>(bm * shape.k) * 4
                                        : static_cast<double>(nnc * bm * shape.k) * in;
  // An A chunk arrives as rows of chunk_k elements: runs shorter than a DRAM row open a row for
  // part of it, which costs the HBM time as if more bytes moved (kShortRunCost per missing run).
  const auto run = static_cast<double>(options.a_fp32 || p.chunk_k >= shape.k
                                           ? chip.hbm.row_bytes
                                           : p.chunk_k * static_cast<int64_t>(in));
  const double a_row_factor =
      1.0 + kShortRunCost * std::max(0.0, static_cast<double>(chip.hbm.row_bytes) / run - 1.0);
  const double b_bytes = static_cast<double>(nmc * shape.k * bn) * in;
  const double c_bytes = static_cast<double>(bm * bn) * acc;
  const int64_t hbm_cores = options.hbm_cores > 0 ? options.hbm_cores : c.active_cores;
  const double bw = std::min(hbm_bytes_per_cycle_ * kHbmEfficiency / static_cast<double>(hbm_cores),
                             static_cast<double>(chip.noc.link_bytes_per_cycle));
  const double latency = latency_;
  const double per_transfer = static_cast<double>(chip.dma.setup_cycles) + latency;
  // Where the core streams weights (at most one tile height of rows) every chunk walks column by
  // column and a weight buffer holds up to tiles_per_slot tiles; elsewhere one tile per load.
  const bool streaming = bm <= p.tile_k;
  const int64_t chunk_k_tiles = std::min(ceil_div(p.chunk_k, p.tile_k), k_tiles);
  const int64_t tps = streaming ? std::min(p.tiles_per_slot, chunk_k_tiles) : 1;
  const double b_transfers = tiles / static_cast<double>(tps);
  const double a_transfers = options.a_fp32 ? 1.0 : static_cast<double>(nmc * nnc * nkc);
  const double c_transfers = static_cast<double>(nmc * col_tiles);
  // Weight loads in flight at once: one buffer is being read by the MXU while the others load.
  const double in_flight =
      static_cast<double>(std::max<int64_t>(1, std::min(chip.dma.engines, p.b_slots - 1)));
  c.dma = (a_bytes * a_row_factor + b_bytes + c_bytes) / bw +
          (a_transfers + b_transfers + c_transfers) * per_transfer / in_flight;
  c.sequencer =
      tiles * kInstructionsPerTile * static_cast<double>(chip.core.sequencer_issue_cycles);
  c.hbm_bytes = (a_bytes + b_bytes + c_bytes) * static_cast<double>(c.active_cores);

  // Overlap under the buffering depth. With one buffer the stream waits for the other except
  // where there is nothing to overlap (the first tile or chunk, counted in `fill`).
  auto serial = [](double x, double y, double units) {
    return std::max(x, y) + std::min(x, y) * (1.0 - 1.0 / std::max(1.0, units));
  };
  const double tile_bytes = static_cast<double>(p.tile_k * p.tile_n) * in;
  // The A ring and the in-order DMA queue: the load of A chunk i + 1 is queued ahead of chunk
  // i's weight loads and waits for its buffer, which chunk i + 1 - a_slots frees; so chunk i's
  // loads (L: setup, latency and bytes) start when chunk i + 1 - a_slots ends, and a chunk
  // period T obeys (a_slots - 1) T >= L + M (M: the chunk's MXU time). One buffer: the kernel
  // queues the next A load behind the chunk's weights, and L + M adds up as with two.
  if (!options.a_fp32) {
    const int64_t chunk_tiles =
        std::min(chunk_k_tiles, k_tiles) * std::min(ceil_div(p.chunk_n, p.tile_n), col_tiles);
    const double chunk_mxu = static_cast<double>(chunk_tiles) * tile_cycles(p.chunk_m);
    // The chunk starts once its A and its first weight buffer are in; the rest of its weights
    // stream behind its products (and count in `dma`).
    const double chunk_bytes = static_cast<double>(p.chunk_m * p.chunk_k) * in * a_row_factor +
                               static_cast<double>(std::min(chunk_tiles, tps)) * tile_bytes;
    // The first chunk's loads are the fill: only the chunks after it wait on the ring.
    c.a_ring = chunk_mxu + (per_transfer + chunk_bytes / bw + chunk_mxu) /
                               static_cast<double>(std::max<int64_t>(1, p.a_slots - 1)) *
                               (a_transfers - 1);
  }
  if (p.b_slots < 2)
    c.steady = std::max({serial(c.mxu, c.dma, tiles), c.a_ring, c.sequencer});
  else
    c.steady = std::max(overlap({c.mxu, c.dma, c.a_ring}), c.sequencer);

  const double column_store = per_transfer + static_cast<double>(p.chunk_m * p.tile_n) * acc / bw;
  const double weight_load = per_transfer + static_cast<double>(tps) * tile_bytes / bw;
  const auto fill_drain = static_cast<double>(sim::mxu_fill_drain_cycles(p.tile_k, p.tile_n));
  c.restart = static_cast<double>(nmc * nnc - 1) * (fill_drain + column_store + weight_load + load);
  const double first_a = options.a_fp32 ? static_cast<double>(bm * shape.k) * 4
                                        : static_cast<double>(p.chunk_m * p.chunk_k) * in;
  c.fill = per_transfer + std::max(first_a, static_cast<double>(tps) * tile_bytes) / bw + load;
  c.tail = fill_drain + column_store;
  if (options.a_fp32)
    c.vpu = static_cast<double>(
        sim::vpu_cycles(chip.vpu, sim::VpuClass::SIMPLE, static_cast<uint64_t>(bm * shape.k), 32));
  c.fixed = barrier_;
  c.total = c.steady + c.restart + c.fill + c.tail + c.vpu + c.fixed;
  return c;
}

GemmCost gemm_split_k_cost(const ChipConfig& chip, const GemmShape& shape, int64_t splits,
                           const GemmPlan& slice_plan, bool a_fp32) {
  const int64_t cores = chip.core_count();
  ChipConfig group = chip;
  group.core.mesh_x = cores / splits;
  group.core.mesh_y = 1;
  const GemmShape slice{shape.m, shape.n, shape.k / splits, shape.type};
  GemmCostOptions options;
  options.a_fp32 = a_fp32;
  const int64_t rows_used = ceil_div(slice.m, slice_plan.block_m),
                cols_used = ceil_div(slice.n, slice_plan.block_n);
  options.hbm_cores =
      splits * std::min(rows_used, slice_plan.grid_m) * std::min(cols_used, slice_plan.grid_n);
  GemmCost c = gemm_cost(group, slice, slice_plan, options);
  if (splits > 1) {
    // The partials are written (counted in the slices' C), read back and summed into C.
    const double elements = static_cast<double>(shape.m * shape.n);
    const double bytes = static_cast<double>(splits + 1) * elements * 4;
    const double bw = std::min(hbm_bytes_per_cycle(chip) * kHbmEfficiency,
                               static_cast<double>(chip.noc.link_bytes_per_cycle * cores));
    const auto adds = static_cast<double>(
        sim::vpu_cycles(chip.vpu, sim::VpuClass::SIMPLE,
                        static_cast<uint64_t>(ceil_div(shape.m * shape.n, cores)), 32));
    c.split_k = bytes / bw + static_cast<double>(splits - 1) * adds +
                static_cast<double>(chip.dma.setup_cycles) + hbm_latency_cycles(chip) +
                barrier_cycles(chip);
    c.hbm_bytes += static_cast<double>(splits) * elements * 4 + bytes;
    c.total += c.split_k;
  }
  return c;
}

}  // namespace seedchip::compiler::mapping
