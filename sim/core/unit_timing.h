#pragma once
// Closed-form latencies of the MXU and VPU (docs/core.md) and the MAC rate per numeric format.
// Pure functions of the config, shared by the core model, its tests and analytic estimates.
#include <cstdint>

#include "arch/chip_config.h"
#include "isa/instructions.h"

namespace seedchip::sim {

// MACs per PE per cycle for `type` as an MXU operand; 0 when the array does not support it.
double mxu_macs_per_pe(const MxuConfig& mxu, DataType type);
// Cycles the array streams m input rows: rows_per_cycle = macs_per_pe (type must be supported).
uint64_t mxu_stream_cycles(const MxuConfig& mxu, DataType type, uint64_t m);
// Cycles a k x n tile adds around its stream: the input skew (fill) plus the output skew (drain).
uint64_t mxu_fill_drain_cycles(uint64_t k, uint64_t n);

enum class VpuClass { SIMPLE, DIVIDE, TRANSCENDENTAL, REDUCE };
VpuClass vpu_class(isa::Opcode op);
// Cycles of one VPU instruction over `elements` elements of a `bits`-wide type (the wider of the
// two formats for vpu.cvt): pipeline + ceil(elements / (lanes x ops/lane x 32/bits)), plus a
// ceil(log2(lanes)) adder-tree drain for reductions.
uint64_t vpu_cycles(const VpuConfig& vpu, VpuClass op_class, uint64_t elements, int bits);

}  // namespace seedchip::sim
