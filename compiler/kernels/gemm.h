#pragma once
// The tiled GEMM kernel: C (m x n) = A (m x k) x B (k x n) over every core of a chip.
//
// Mapping: C is split into a grid of per-core blocks (the grid that minimises per-core MXU work,
// then HBM traffic); each core walks its block in chunks that fit its SRAM (an FP32/INT32
// accumulator for Mc x Nc, a ring of A chunks Mc x Kc, a ring of weight tiles), streams A through
// the weight-stationary MXU one weight tile at a time, and stores the accumulator. DMA runs ahead
// of the MXU through semaphores (double/triple buffering), so HBM traffic hides behind compute.
//
// HBM layout: A row-major; B pre-packed in MXU tiles (tile (kt, nt) holds rows kt*T..+T of columns
// nt*T..+T, row-major, tiles ordered nt-major), as a compiler lays out weights; C row-major in
// the accumulator type.
#include <cstdint>
#include <string>
#include <vector>

#include "arch/chip_config.h"
#include "compiler/codegen/emitter.h"
#include "isa/isa.h"

namespace seedchip::compiler {

struct GemmShape {
  int64_t m = 0, n = 0, k = 0;
  DataType type = DataType::BF16;  // operand format; accumulation is INT32 for INT8, else FP32
};

DataType gemm_accumulator(DataType type);

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
  uint64_t sram_bytes_used = 0;
  GemmLayout layout;
  std::string describe() const;
};

// Throws InputError when the shape is empty, the type has no MXU support on this chip, or the
// working set cannot fit the SRAM even at the smallest chunk.
GemmPlan plan_gemm(const ChipConfig& chip, const GemmShape& shape);
// Split-K: the number of K slices S (S divides the cores and K / S is whole weight tiles) for
// which the busiest core moves the fewest bytes, counting its operand traffic under plan_gemm on
// cores / S cores and its share of writing the S partial results of C and summing them; only
// splits that take weight tiles off the busiest core count, and 1 when none moves fewer bytes. A
// narrow C (fewer weight-tile columns than cores, or a count that does not divide evenly) leaves
// cores idle without one; slicing K gives them weight tiles to stream.
int64_t plan_k_splits(const ChipConfig& chip, const GemmShape& shape);

// Whether A in FP32 (GemmLayout::a_fp32) fits: the busiest core's rows of A, in FP32 and BF16,
// beside the plan's accumulator and weight buffers in SRAM.
bool gemm_a_fp32_fits(const ChipConfig& chip, const GemmShape& shape, const GemmPlan& plan);

// The whole GEMM as a program: emit_gemm at plan.layout, then halt.
isa::Program generate_gemm(const ChipConfig& chip, const GemmShape& shape, const GemmPlan& plan);

// Appends the GEMM's code, with operands at `layout`, to cores[c] for every core that gets a block
// of C (the others get nothing). Uses every semaphore and leaves each at zero, with all its
// transfers complete, so kernels can follow one another on the same cores.
void emit_gemm(const ChipConfig& chip, const GemmShape& shape, const GemmPlan& plan,
               const GemmLayout& layout, std::vector<Emitter>& cores);

// Host-side packing of B (k x n row-major) into the tiled HBM layout, and the HBM offset of a
// tile; used to place real weights for functional runs.
std::vector<uint8_t> pack_gemm_weights(const GemmShape& shape, const GemmPlan& plan,
                                       const uint8_t* b_row_major);

}  // namespace seedchip::compiler
