#include "sim/core/unit_timing.h"

#include <cmath>

#include "sim/core/core.h"

namespace seedchip::sim {
namespace {

uint64_t ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// Integer ratios (the usual case) divide exactly in double, so the ceiling is exact.
uint64_t ceil_ratio(uint64_t count, double per_cycle) {
  return static_cast<uint64_t>(std::ceil(static_cast<double>(count) / per_cycle));
}

}  // namespace

double mxu_macs_per_pe(const MxuConfig& mxu, DataType type) {
  switch (type) {
    case DataType::BF16:
      return mxu.macs_per_pe_bf16;
    case DataType::FP16:
      return mxu.macs_per_pe_fp16;
    case DataType::FP8_E4M3:
    case DataType::FP8_E5M2:
      return mxu.macs_per_pe_fp8;
    case DataType::INT8:
      return mxu.macs_per_pe_int8;
    case DataType::FP32:
      return mxu.macs_per_pe_fp32;
    case DataType::INT32:
      return 0;
  }
  return 0;
}

uint64_t mxu_stream_cycles(const MxuConfig& mxu, DataType type, uint64_t m) {
  return ceil_ratio(m, mxu_macs_per_pe(mxu, type));
}

uint64_t mxu_fill_drain_cycles(uint64_t k, uint64_t n) { return (k - 1) + (n - 1); }

uint64_t mxu_matmul_cycles(const MxuConfig& mxu, DataType type, uint64_t m, uint64_t k,
                           uint64_t n) {
  return mxu_stream_cycles(mxu, type, m) + mxu_fill_drain_cycles(k, n);
}

uint64_t mxu_load_cycles(const MxuConfig& mxu, uint64_t k, uint64_t /*n: a row loads at once*/) {
  return ceil_div(k, static_cast<uint64_t>(mxu.weight_load_rows_per_cycle));
}

VpuClass vpu_class(isa::Opcode op) {
  using isa::Opcode;
  switch (op) {
    case Opcode::VPU_DIV:
    case Opcode::VPU_RECIP:
    case Opcode::VPU_RSQRT:
    case Opcode::VPU_SQRT:
      return VpuClass::DIVIDE;
    case Opcode::VPU_EXP:
    case Opcode::VPU_LOG:
    case Opcode::VPU_TANH:
    case Opcode::VPU_SILU:
    case Opcode::VPU_GELU:
    case Opcode::VPU_ERF:
    case Opcode::VPU_SIN:
    case Opcode::VPU_COS:
    case Opcode::VPU_ATAN:
      return VpuClass::TRANSCENDENTAL;
    case Opcode::VPU_RSUM:
    case Opcode::VPU_RMAX:
      return VpuClass::REDUCE;
    default:
      return VpuClass::SIMPLE;
  }
}

uint64_t vpu_cycles(const VpuConfig& vpu, VpuClass op_class, uint64_t elements, int bits) {
  double ops_per_lane = vpu.simple_ops_per_lane;
  if (op_class == VpuClass::DIVIDE) ops_per_lane = vpu.divide_ops_per_lane;
  if (op_class == VpuClass::TRANSCENDENTAL) ops_per_lane = vpu.transcendental_ops_per_lane;
  if (op_class == VpuClass::REDUCE) ops_per_lane = vpu.reduce_ops_per_lane;
  const double packing = 32.0 / bits;
  uint64_t cycles = static_cast<uint64_t>(vpu.pipeline_cycles) +
                    ceil_ratio(elements, static_cast<double>(vpu.lanes) * ops_per_lane * packing);
  if (op_class == VpuClass::REDUCE) {
    uint64_t tree = 0;
    while ((uint64_t{1} << tree) < static_cast<uint64_t>(vpu.lanes)) ++tree;
    cycles += tree;
  }
  return cycles;
}

}  // namespace seedchip::sim
