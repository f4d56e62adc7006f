// The 128-bit instruction word: encode() trusts nothing it is given by code, decode() trusts
// nothing it reads from a file.
#include <fmt/format.h>

#include <stdexcept>

#include "arch/error.h"
#include "isa/isa.h"
#include "isa/isa_internal.h"

namespace seedchip::isa {
namespace {

using Word = unsigned __int128;

constexpr uint64_t kNoSemaphoreField = 63;
constexpr int64_t kMaxDtype = static_cast<int64_t>(DataType::INT32);

uint64_t low_mask(int bits) { return bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1; }

bool is_signed(OperandKind kind) {
  return kind == OperandKind::IMM16 || kind == OperandKind::IMM32 || kind == OperandKind::IMM48;
}

int64_t sign_extend(uint64_t field, int bits) {
  uint64_t sign = uint64_t{1} << (bits - 1);
  return static_cast<int64_t>((field ^ sign) - sign);
}

}  // namespace

bool operand_value_valid(OperandKind kind, int64_t value) {
  int bits = operand_bits(kind);
  switch (kind) {
    case OperandKind::REG:
      return value >= 0 && value < kNumRegisters;
    case OperandKind::SEM:
      return value == kNoSemaphore || (value >= 0 && value < kNumSemaphores);
    case OperandKind::IMM16:
    case OperandKind::IMM32:
    case OperandKind::IMM48:
      return value >= -(int64_t{1} << (bits - 1)) && value < (int64_t{1} << (bits - 1));
    case OperandKind::F32:
    case OperandKind::LABEL:
      return value >= 0 && value <= static_cast<int64_t>(low_mask(bits));
    case OperandKind::FLAG:
      return value == 0 || value == 1;
    case OperandKind::DTYPE:
      return value >= 0 && value <= kMaxDtype;
  }
  return false;
}

std::string operand_value_range(OperandKind kind) {
  int bits = operand_bits(kind);
  switch (kind) {
    case OperandKind::REG:
      return fmt::format("x0..x{}", kNumRegisters - 1);
    case OperandKind::SEM:
      return fmt::format("s0..s{} or -", kNumSemaphores - 1);
    case OperandKind::IMM16:
    case OperandKind::IMM32:
    case OperandKind::IMM48:
      return fmt::format("{}..{}", -(int64_t{1} << (bits - 1)), (int64_t{1} << (bits - 1)) - 1);
    case OperandKind::F32:
      return "an FP32 value (IEEE bits 0..0xffffffff)";
    case OperandKind::LABEL:
      return fmt::format("an instruction index 0..{}", low_mask(bits));
    case OperandKind::FLAG:
      return "0 or 1";
    case OperandKind::DTYPE:
      return "fp32, bf16, fp16, fp8e4m3, fp8e5m2, int8 or int32";
  }
  return "?";
}

std::array<uint8_t, kInstructionBytes> encode(const Instruction& inst) {
  const InstructionInfo& i = info(inst.op);
  const std::vector<OperandField>& fields = operand_fields(inst.op);
  Word word = static_cast<uint8_t>(inst.op);
  for (size_t k = 0; k < inst.operands.size(); ++k) {
    int64_t value = inst.operands[k];
    if (k >= i.operands.size()) {
      if (value != 0)
        throw std::invalid_argument(fmt::format("encode: '{}' has {} operands but operand {} is {}",
                                                i.mnemonic, i.operands.size(), k, value));
      continue;
    }
    OperandKind kind = i.operands[k].kind;
    if (!operand_value_valid(kind, value))
      throw std::invalid_argument(
          fmt::format("encode: '{}' operand {} = {} out of range; expected {}", i.mnemonic,
                      i.operands[k].name, value, operand_value_range(kind)));
    uint64_t field = kind == OperandKind::SEM && value == kNoSemaphore
                         ? kNoSemaphoreField
                         : static_cast<uint64_t>(value) & low_mask(fields[k].bits);
    word |= static_cast<Word>(field) << fields[k].offset;
  }
  std::array<uint8_t, kInstructionBytes> bytes{};
  for (size_t b = 0; b < kInstructionBytes; ++b) bytes[b] = static_cast<uint8_t>(word >> (8 * b));
  return bytes;
}

Instruction decode(const uint8_t* bytes, const std::string& where) {
  Word word = 0;
  for (size_t b = 0; b < kInstructionBytes; ++b) word |= static_cast<Word>(bytes[b]) << (8 * b);
  unsigned opcode = static_cast<unsigned>(word & 0xff);
  if (opcode >= static_cast<unsigned>(Opcode::kCount))
    throw InputError(fmt::format("{}: unknown opcode {}; expected 0..{}", where, opcode,
                                 static_cast<unsigned>(Opcode::kCount) - 1));
  Instruction inst;
  inst.op = static_cast<Opcode>(opcode);
  const InstructionInfo& i = info(inst.op);
  const std::vector<OperandField>& fields = operand_fields(inst.op);
  int used_bits = kOpcodeBits;
  for (size_t k = 0; k < fields.size(); ++k) {
    uint64_t field = static_cast<uint64_t>(word >> fields[k].offset) & low_mask(fields[k].bits);
    OperandKind kind = i.operands[k].kind;
    int64_t value = static_cast<int64_t>(field);
    if (is_signed(kind)) value = sign_extend(field, fields[k].bits);
    if (kind == OperandKind::SEM && field == kNoSemaphoreField) value = kNoSemaphore;
    if (!operand_value_valid(kind, value))
      throw InputError(fmt::format("{}: '{}' operand {} has field value {}; expected {}", where,
                                   i.mnemonic, i.operands[k].name, field,
                                   operand_value_range(kind)));
    inst.operands[k] = value;
    used_bits = fields[k].offset + fields[k].bits;
  }
  if (used_bits < kInstructionBits && (word >> used_bits) != 0)
    throw InputError(fmt::format("{}: '{}' has non-zero bits above bit {}; expected zero padding",
                                 where, i.mnemonic, used_bits - 1));
  return inst;
}

}  // namespace seedchip::isa
