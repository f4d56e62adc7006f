#pragma once
// The streaming kernel behind every elementwise, row-wise (softmax, normalisation, reduction) and
// data-movement operator. Work is a number of rows; the rows are split evenly over the cores, and
// each core walks its share in chunks that fit its SRAM: it gathers every loaded tensor's part of
// the chunk through its view (dma.load runs from plan_transfer), runs a short VPU program over the
// chunk's buffers, and scatters every stored tensor through its view (dma.store). Two buffer sets
// alternate, so the loads of chunk c+1 overlap the VPU work of chunk c and the stores of chunk c-1.
// A program without VPU steps is a pure copy (transpose, slice, concat, expand, ...).
//
// Buffers (slots) come in three shapes: kWide holds `width` elements per row, kNarrow one element
// per row, kRow one row of `width` elements shared by all rows (a scale vector, say). An
// elementwise operator is rows = element count, width = 1.
#include <cstdint>
#include <vector>

#include "arch/chip_config.h"
#include "arch/dtype.h"
#include "compiler/codegen/program_builder.h"
#include "compiler/codegen/view.h"
#include "isa/isa.h"

namespace seedchip::compiler {

enum class SlotShape : uint8_t { kWide, kNarrow, kRow };

struct Slot {
  int64_t element_bytes = 4;
  SlotShape shape = SlotShape::kWide;
};

// One VPU instruction over a chunk. Elementwise opcodes (vpu.add .. vpu.cvt) cover every element of
// `dst`; tile opcodes (vpu.rsum, vpu.rmax: wide `a` into narrow `dst`; vpu.addb/mulb: wide `a` with
// row `b`; vpu.subc/mulc: wide `a` with narrow `b`) take the chunk's rows x width. `c` is the
// immediate of vpu.adds/vpu.muls; `to` the target format of vpu.cvt (`type` its source); vpu.sel
// picks `a` or `b` by slot `m`.
struct VpuStep {
  isa::Opcode op = isa::Opcode::VPU_MOV;
  int dst = 0, a = 0, b = -1;
  float c = 0;
  DataType type = DataType::FP32;
  DataType to = DataType::FP32;
  int m = -1;  // vpu.sel: the mask slot
};

// A tensor moved between HBM and a slot: its view's elements in row-major order are the slot's
// elements for rows [0, rows) (a kRow slot: the view's `width` elements, for every chunk).
struct Transfer {
  int slot = 0;
  TensorView view;
};

// A wide slot filled by dma.gather: row r of the chunk is the slot's `width` elements at HBM
// base + index[r] x stride, index[r] the int32 of kNarrow slot `index` (which a load fills) for the
// same row. An index outside [0, limit) stops the chip with an error.
struct Gather {
  int slot = 0;
  int index = 0;
  int64_t base = 0, stride = 0, limit = 0;
};

// A wide slot stored by dma.scatter: row r of the chunk goes to HBM base + index[r] x stride,
// index[r] the int32 of kNarrow slot `index` (which a load fills) for the same row. An index
// outside [0, limit) stops the chip with an error. Rows of different cores land in no set order.
struct Scatter {
  int slot = 0;
  int index = 0;
  int64_t base = 0, stride = 0, limit = 0;
};

struct StreamKernel {
  int64_t rows = 0;
  int64_t width = 1;
  std::vector<Slot> slots;
  std::vector<Transfer> loads;
  std::vector<Gather> gathers;  // after the loads, once their index slots have arrived
  std::vector<VpuStep> steps;
  std::vector<Transfer> stores;
  std::vector<Scatter> scatters;  // after the stores, once the chunk's results are ready
};

// Appends the kernel to every core that gets rows. Uses semaphores 0-7 and leaves them at zero.
// Throws InputError when one row of every slot does not fit the SRAM.
void emit_stream(const ChipConfig& chip, ProgramBuilder& program, const StreamKernel& kernel);

}  // namespace seedchip::compiler
