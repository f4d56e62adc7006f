#pragma once
// The tiled GEMM kernel: C (m x n) = A (m x k) x B (k x n) over every core of a chip.
//
// Mapping: C is split into a grid of per-core blocks (chosen with the chunks and buffer depths by
// the mapping search, compiler/mapping); each core walks its block in chunks that fit its SRAM (an
// FP32/INT32 accumulator for Mc x Nc, a ring of A chunks Mc x Kc, a ring of weight tiles), streams
// A through the weight-stationary MXU one weight tile at a time, and stores the accumulator. DMA
// runs ahead of the MXU through semaphores (plan.a_slots / b_slots buffers: 1 = no overlap on that
// operand, 2 = double, 3 and more = deeper), so HBM traffic hides behind compute.
//
// HBM layout: A row-major; B pre-packed in MXU tiles (tile (kt, nt) holds rows kt*T..+T of columns
// nt*T..+T, row-major, tiles ordered nt-major), as a compiler lays out weights; C row-major in
// the accumulator type.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "arch/chip_config.h"
#include "compiler/codegen/emitter.h"
#include "compiler/mapping/gemm_plan.h"
#include "isa/isa.h"

namespace seedchip::compiler {

// GemmShape, GemmLayout, GemmPlan and gemm_accumulator are declared in
// compiler/mapping/gemm_plan.h.

// The mapping of least estimated cost (compiler/mapping/search.h: every legal grid, chunking,
// buffering depth and weight-DMA size ranked by the cost model), with its operands laid out in
// HBM; describe() includes the estimate and the number of candidates ranked. Throws InputError
// when the shape is empty, the type has no MXU support on this chip, the working set cannot fit
// the SRAM even at the smallest chunk, or the operands exceed the HBM.
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

// What C passes through in SRAM between its last product and its store, column tile by column
// tile while later tiles still compute: C = activation(C + bias), with bias a row of shape.n FP32
// values in HBM (each core loads its block's share once) and the activation a sequence of the
// VPU's one-operand instructions applied in place. FP32 accumulators only; the plan must be one
// for a shape with epilogue = true, whose spare semaphores and SRAM bias row the epilogue uses.
// Each step is the instruction a separate operator's lowering would run on the same values, so
// the results are those of the unfused operators, bit for bit.
struct GemmEpilogue {
  struct Step {
    isa::Opcode op = isa::Opcode::VPU_RELU;  // one operand; vpu.muls / vpu.adds take `c`
    float c = 0;
  };
  std::optional<uint64_t> bias;  // HBM byte address of the bias row
  std::vector<Step> activation;
};

// The whole GEMM as a program: emit_gemm at plan.layout, then halt.
isa::Program generate_gemm(const ChipConfig& chip, const GemmShape& shape, const GemmPlan& plan);

// Appends the GEMM's code, with operands at `layout`, to cores[c] for every core that gets a block
// of C (the others get nothing). Uses every semaphore and leaves each at zero, with all its
// transfers complete, so kernels can follow one another on the same cores. `epilogue`, when given,
// needs plan.epilogue.
void emit_gemm(const ChipConfig& chip, const GemmShape& shape, const GemmPlan& plan,
               const GemmLayout& layout, std::vector<Emitter>& cores,
               const GemmEpilogue* epilogue = nullptr);

// Host-side packing of B (k x n row-major) into the tiled HBM layout, and the HBM offset of a
// tile; used to place real weights for functional runs.
std::vector<uint8_t> pack_gemm_weights(const GemmShape& shape, const GemmPlan& plan,
                                       const uint8_t* b_row_major);

}  // namespace seedchip::compiler
