#pragma once
// The VPU's arithmetic on SRAM bytes (functional mode). Floating formats are widened to FP32,
// computed in FP32 with the host's std:: math and rounded back to nearest even; INT8/INT32
// elementwise ops use integer arithmetic that saturates to the type, except vpu.addw/subw/mulw and
// the integer vpu.div, which wrap modulo 2^bits. Reductions accumulate in FP32
// (integers: exactly, then saturate) along each row from column 0 upward.
#include <cstdint>

#include "arch/dtype.h"
#include "isa/instructions.h"

namespace seedchip::sim {

// Byte offsets into the core's SRAM and sizes, resolved from the instruction's registers.
struct VpuOperands {
  isa::Opcode op = isa::Opcode::VPU_ADD;
  DataType type = DataType::FP32;  // vpu.cvt: the source format
  DataType to = DataType::FP32;    // vpu.cvt only
  uint64_t d = 0, a = 0, b = 0;    // b: second operand or broadcast vector
  uint64_t m = 0;                  // vpu.sel: the mask
  uint64_t rows = 1, cols = 0;     // elementwise ops: rows = 1, cols = n
  float c = 0;                     // vpu.adds / vpu.muls
};

// Whether `op` is defined on `type` (vpu.cvt accepts every pair).
bool vpu_supports(isa::Opcode op, DataType type);

void vpu_execute(const VpuOperands& operands, uint8_t* sram);

}  // namespace seedchip::sim
