// Parses SEEDCHIP_INSTRUCTIONS once into InstructionInfo and the bit layout of each instruction.
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "isa/isa.h"
#include "isa/isa_internal.h"

namespace seedchip::isa {
namespace {

struct RawEntry {
  Opcode opcode;
  const char* mnemonic;
  Unit unit;
  const char* operands;
  const char* semantics;
};

#define SEEDCHIP_RAW_ENTRY(e, m, u, o, d) {Opcode::e, m, Unit::u, o, d},
constexpr RawEntry kRawTable[] = {SEEDCHIP_INSTRUCTIONS(SEEDCHIP_RAW_ENTRY)};
#undef SEEDCHIP_RAW_ENTRY

constexpr OperandKind kAllKinds[] = {OperandKind::REG,   OperandKind::SEM,   OperandKind::IMM16,
                                     OperandKind::IMM32, OperandKind::IMM48, OperandKind::F32,
                                     OperandKind::LABEL, OperandKind::FLAG,  OperandKind::DTYPE};

// A malformed table is a bug in instructions.h, reported on first use of the ISA.
OperandKind parse_kind(std::string_view kind, std::string_view mnemonic) {
  for (OperandKind k : kAllKinds)
    if (operand_kind_name(k) == kind) return k;
  throw std::logic_error("instructions.h: '" + std::string(mnemonic) +
                         "' has unknown operand kind '" + std::string(kind) + "'");
}

std::vector<OperandInfo> parse_operands(std::string_view spec, std::string_view mnemonic) {
  std::vector<OperandInfo> operands;
  size_t pos = 0;
  while (pos < spec.size()) {
    if (spec[pos] == ' ') {
      ++pos;
      continue;
    }
    size_t end = spec.find(' ', pos);
    if (end == std::string_view::npos) end = spec.size();
    std::string_view token = spec.substr(pos, end - pos);
    size_t colon = token.find(':');
    if (colon == std::string_view::npos || colon == 0)
      throw std::logic_error("instructions.h: '" + std::string(mnemonic) + "' operand '" +
                             std::string(token) + "' is not name:kind");
    operands.push_back(
        {std::string(token.substr(0, colon)), parse_kind(token.substr(colon + 1), mnemonic)});
    pos = end;
  }
  if (operands.size() > static_cast<size_t>(kMaxOperands))
    throw std::logic_error("instructions.h: '" + std::string(mnemonic) + "' has more than " +
                           std::to_string(kMaxOperands) + " operands");
  return operands;
}

struct Table {
  std::vector<InstructionInfo> infos;
  std::vector<std::vector<OperandField>> fields;
  std::unordered_map<std::string_view, Opcode> by_mnemonic;
};

const Table& table() {
  static const Table instance = [] {
    Table t;
    for (const RawEntry& raw : kRawTable) {
      if (static_cast<size_t>(raw.opcode) != t.infos.size())
        throw std::logic_error("instructions.h: table order does not match the Opcode enum");
      t.infos.push_back({raw.opcode, raw.mnemonic, raw.unit,
                         parse_operands(raw.operands, raw.mnemonic), raw.semantics});
      std::vector<OperandField> fields;
      int offset = kOpcodeBits;
      for (const OperandInfo& operand : t.infos.back().operands) {
        fields.push_back({offset, operand_bits(operand.kind)});
        offset += fields.back().bits;
      }
      if (offset > kInstructionBits)
        throw std::logic_error("instructions.h: '" + std::string(raw.mnemonic) +
                               "' does not fit in a 128-bit word");
      t.fields.push_back(std::move(fields));
    }
    for (const InstructionInfo& i : t.infos)
      if (!t.by_mnemonic.emplace(i.mnemonic, i.opcode).second)
        throw std::logic_error("instructions.h: mnemonic '" + i.mnemonic + "' appears twice");
    return t;
  }();
  return instance;
}

size_t checked_index(Opcode op) {
  size_t index = static_cast<size_t>(op);
  if (index >= table().infos.size())
    throw std::invalid_argument("isa: opcode " + std::to_string(index) + " is not in the table");
  return index;
}

}  // namespace

int InstructionInfo::index_of(std::string_view operand_name) const {
  for (size_t i = 0; i < operands.size(); ++i)
    if (operands[i].name == operand_name) return static_cast<int>(i);
  return -1;
}

const InstructionInfo& info(Opcode op) { return table().infos[checked_index(op)]; }

const std::vector<InstructionInfo>& all_instructions() { return table().infos; }

std::optional<Opcode> opcode_from_mnemonic(std::string_view mnemonic) {
  const auto& map = table().by_mnemonic;
  auto it = map.find(mnemonic);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

std::string_view unit_name(Unit unit) {
  switch (unit) {
    case Unit::SCALAR:
      return "scalar";
    case Unit::SYNC:
      return "sync";
    case Unit::DMA:
      return "dma";
    case Unit::MXU:
      return "mxu";
    case Unit::VPU:
      return "vpu";
  }
  return "?";
}

std::string_view operand_kind_name(OperandKind kind) {
  switch (kind) {
    case OperandKind::REG:
      return "reg";
    case OperandKind::SEM:
      return "sem";
    case OperandKind::IMM16:
      return "imm16";
    case OperandKind::IMM32:
      return "imm32";
    case OperandKind::IMM48:
      return "imm48";
    case OperandKind::F32:
      return "f32";
    case OperandKind::LABEL:
      return "label";
    case OperandKind::FLAG:
      return "flag";
    case OperandKind::DTYPE:
      return "dtype";
  }
  return "?";
}

int operand_bits(OperandKind kind) {
  switch (kind) {
    case OperandKind::REG:
      return 5;
    case OperandKind::SEM:
      return 6;
    case OperandKind::IMM16:
      return 16;
    case OperandKind::IMM32:
      return 32;
    case OperandKind::IMM48:
      return 48;
    case OperandKind::F32:
      return 32;
    case OperandKind::LABEL:
      return 32;
    case OperandKind::FLAG:
      return 1;
    case OperandKind::DTYPE:
      return 3;
  }
  return 0;
}

const std::vector<OperandField>& operand_fields(Opcode op) {
  return table().fields[checked_index(op)];
}

}  // namespace seedchip::isa
