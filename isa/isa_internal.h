#pragma once
// Facts shared by the ISA's own source files and nobody else: where each operand lives in the
// 128-bit word (encoder, decoder, generated reference) and the bounds on a section's core list.
#include <cstdint>
#include <string>
#include <vector>

#include "isa/isa.h"

namespace seedchip::isa {

inline constexpr int kOpcodeBits = 8;
inline constexpr int kInstructionBits = 8 * static_cast<int>(kInstructionBytes);

int operand_bits(OperandKind kind);

// Core indices of a section are at most this, so that a typo such as `.core 0-999999999` is an
// error rather than a billion-entry list; chips in this project have far fewer cores.
inline constexpr int kMaxCoreIndex = 65535;

struct OperandField {
  int offset;  // lowest bit
  int bits;
};
// Whether `value` is a legal Instruction operand of `kind`, and the legal values in words.
bool operand_value_valid(OperandKind kind, int64_t value);
std::string operand_value_range(OperandKind kind);

// One field per operand of `op`, in table order.
const std::vector<OperandField>& operand_fields(Opcode op);

}  // namespace seedchip::isa
