#pragma once
// The SeedChip ISA as data: per-instruction metadata parsed from the table in instructions.h, the
// decoded instruction, the 128-bit binary encoding, the assembler and the disassembler, and the
// program container. Everything here is derived from SEEDCHIP_INSTRUCTIONS; nothing restates it.
//
// Binary encoding: 16 bytes per instruction, a little-endian 128-bit word. Bits 0-7 hold the
// opcode; the operands follow in table order from bit 8 upward with these widths: reg 5, sem 6
// (63 = none), imm16 16, imm32 32, imm48 48 (two's complement), f32 32 (IEEE bits), label 32,
// flag 1, dtype 3. Unused high bits are zero; decode rejects a word whose unused bits are not.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "arch/dtype.h"
#include "isa/instructions.h"

namespace seedchip::isa {

enum class OperandKind : uint8_t { REG, SEM, IMM16, IMM32, IMM48, F32, LABEL, FLAG, DTYPE };

struct OperandInfo {
  std::string name;
  OperandKind kind;
};

struct InstructionInfo {
  Opcode opcode;
  std::string mnemonic;
  Unit unit;
  std::vector<OperandInfo> operands;
  std::string semantics;
  int index_of(std::string_view operand_name) const;  // -1 when absent
};

inline constexpr int kMaxOperands = 10;
inline constexpr int kNumRegisters = 32;
inline constexpr int kNumSemaphores = 32;
inline constexpr int64_t kNoSemaphore = -1;
inline constexpr size_t kInstructionBytes = 16;

const InstructionInfo& info(Opcode op);
const std::vector<InstructionInfo>& all_instructions();
std::optional<Opcode> opcode_from_mnemonic(std::string_view mnemonic);
std::string_view unit_name(Unit unit);
std::string_view operand_kind_name(OperandKind kind);

// A decoded instruction. operands[i] is the i-th operand of the table entry: a register or
// semaphore index (kNoSemaphore for `-`), an immediate, a label's instruction index, a flag, a
// DataType's underlying value, or an f32's IEEE bits.
struct Instruction {
  Opcode op = Opcode::NOP;
  std::array<int64_t, kMaxOperands> operands{};
  bool operator==(const Instruction&) const = default;
};

std::array<uint8_t, kInstructionBytes> encode(const Instruction& inst);
// Throws InputError("<where>: ...") on an unknown opcode, out-of-range field or non-zero padding.
Instruction decode(const uint8_t* word, const std::string& where);

// A program: sections of code, each run by a set of cores (empty = every core of the chip).
// Assembly syntax: one instruction per line, `mnemonic op, op, ...`; `name:` defines a label;
// `#` starts a comment; `.core 0,2,5-7` starts a section run by those cores (`.core all` = every
// core). Labels are local to their section.
struct Section {
  std::vector<int> cores;
  std::vector<Instruction> code;
  bool operator==(const Section&) const = default;
};
struct Program {
  std::vector<Section> sections;
  bool operator==(const Program&) const = default;
};

// Throws InputError("<filename>:<line>: <what was expected>") on any malformed line.
Program assemble(std::string_view text, const std::string& filename);
// Text that assemble() turns back into the same Program; branch targets get labels `L<index>`.
std::string disassemble(const Program& program);

// Binary program file: magic "SCPROG\0\0", format version, sections. Reading throws InputError
// naming the file and what was wrong (truncation, bad magic, version, bad instruction word).
std::vector<uint8_t> serialize(const Program& program);
Program deserialize(const std::vector<uint8_t>& bytes, const std::string& filename);
inline constexpr uint32_t kProgramFormatVersion = 1;

// Reads a program from a file: binary when it starts with the magic, assembly text otherwise.
Program load_program_file(const std::string& path);

// docs/isa.md, generated from the table.
std::string reference_markdown();

}  // namespace seedchip::isa
