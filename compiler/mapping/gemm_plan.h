#pragma once
// What a GEMM mapping is: the shape, the HBM layout of its operands and the plan the kernel
// (compiler/kernels/gemm) emits. These types live below the kernel so that the mapping space,
// its cost model and the search (this folder) can reason about plans without the emitter, and
// the kernel's plan_gemm can call the search. compiler/kernels/gemm.h includes this header.
#include <cstdint>
#include <string>

#include "arch/chip_config.h"

namespace seedchip::compiler {

struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
  DataType type = DataType::BF16;  // operand format; accumulation is INT32 for INT8, else FP32
  // C passes through an epilogue in SRAM before it is stored (GemmEpilogue in
  // compiler/kernels/gemm.h). Its plans keep one weight buffer fewer, whose two semaphores the
  // epilogue takes, and a row of block_n FP32 bias values in SRAM.
  bool epilogue = false;
};

DataType gemm_accumulator(DataType type);

// ceil(a / b) for positive extents: the chunk, tile and block counts of a mapping.
constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

struct GemmLayout {
  uint64_t a = 0, b = 0, c = 0;  // HBM byte addresses
  uint64_t end = 0;              // first byte after C
  // 0: B is pre-packed in MXU tiles (as above). Otherwise B is row-major with this row pitch in
  // bytes and each weight tile arrives in one 2D DMA: how operands computed on the chip are read.
  uint64_t b_row_pitch = 0;
  // A's row pitch in bytes (0: shape.k elements) and, for pre-packed B, the weight tiles of one
  // tile column (0: those of shape.k): a GEMM over a K slice of larger operands reads them so.
  uint64_t a_row_pitch = 0;
  int64_t b_column_tiles = 0;
  // A is FP32 in HBM (shape.type BF16 only): each core loads its rows of A whole, converts them
  // to BF16 in SRAM on the VPU (round to nearest even) and keeps them there, instead of the
  // product reading a BF16 copy written by a separate pass. See gemm_a_fp32_fits.
  bool a_fp32 = false;
};

struct GemmPlan {
  int64_t grid_m = 1, grid_n = 1;    // core grid over C
  int64_t block_m = 0, block_n = 0;  // C block per core
  int64_t chunk_m = 0, chunk_n = 0, chunk_k = 0;
  int64_t tile_k = 0, tile_n = 0;  // one weight tile
  int64_t a_slots = 0, b_slots = 0;
  int64_t tiles_per_slot = 1;  // consecutive K tiles of one column loaded by one DMA (packed B)
  bool epilogue = false;       // planned for a shape with an epilogue (GemmShape::epilogue)
  uint64_t sram_bytes_used = 0;
  GemmLayout layout;
  // Filled by the search (compiler/mapping/search.h): the cost model's estimate of the busiest
  // core's cycles and how many candidates it ranked; 0 for a plan built by hand.
  double estimated_cycles = 0;
  int64_t candidates_ranked = 0;
  std::string describe() const;
};

// Buffering limits of the kernel: its 32 semaphores hold a full/free pair per A slot and per
// weight slot, and two for the accumulator stores (2 x 12 + 2 x 3 + 2 = 32).
constexpr int64_t kGemmMaxASlots = 3;
constexpr int64_t kGemmMaxBSlots = 12;
// The most weight buffers a plan for `shape` may use: an epilogue takes the last slot's pair.
constexpr int64_t gemm_max_b_slots(const GemmShape& shape) {
  return shape.epilogue ? kGemmMaxBSlots - 1 : kGemmMaxBSlots;
}

// Where the kernel puts its buffers in a core's SRAM: the accumulator (chunk_m x chunk_n in the
// accumulator type, tile-major) at c, an epilogue plan's bias row (block_n FP32 values) at bias,
// the ring of A chunks at a, the ring of weight buffers at b; end = the bytes used. Shared by the
// kernel and the mapping space, so both agree on what fits.
struct GemmSramMap {
  uint64_t c = 0, bias = 0, a = 0, b = 0, a_slot = 0, b_slot = 0, end = 0;
};
GemmSramMap gemm_sram_map(const GemmPlan& plan, DataType type);
// SRAM buffers start on this boundary (a whole number of SRAM bank rows on every preset).
constexpr uint64_t kGemmSramAlign = 256;

}  // namespace seedchip::compiler
