// docs/isa.md, generated from the instruction table so that the reference cannot drift from the
// encoder and the assembler.
#include <fmt/format.h>

#include "isa/isa.h"
#include "isa/isa_internal.h"

namespace seedchip::isa {
namespace {

constexpr Unit kUnitsInOrder[] = {Unit::SCALAR, Unit::SYNC, Unit::DMA, Unit::MXU, Unit::VPU};

std::string unit_heading(Unit unit) {
  switch (unit) {
    case Unit::SCALAR:
      return "Scalar and control (sequencer)";
    case Unit::SYNC:
      return "Synchronisation (sequencer)";
    case Unit::DMA:
      return "DMA (queued to the DMA engines)";
    case Unit::MXU:
      return "Matrix unit (queued to the MXU)";
    case Unit::VPU:
      return "Vector unit (queued to the VPU)";
  }
  return "?";
}

// Markdown table cells may not contain a bare `|`.
std::string cell(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    if (c == '|') escaped += '\\';
    escaped += c;
  }
  return escaped;
}

std::string bit_range(const OperandField& field) {
  return field.bits == 1 ? fmt::format("[{}]", field.offset)
                         : fmt::format("[{}:{}]", field.offset + field.bits - 1, field.offset);
}

}  // namespace

std::string reference_markdown() {
  std::string md;
  md += "# SeedChip instruction set\n\n";
  md += "<!-- Generated from isa/instructions.h by isa::reference_markdown(); do not edit. -->\n\n";
  md += fmt::format(
      "Each core runs an in-order sequencer. Scalar and synchronisation instructions execute in "
      "the sequencer; DMA, MXU and VPU instructions are queued to their unit and run in parallel "
      "with it. Asynchronous instructions end with `wait, signal` semaphores: the unit waits at "
      "the head of its queue until `wait` is at least 1 and decrements it, and increments "
      "`signal` when the instruction completes. Addresses are byte addresses held in registers: "
      "SRAM addresses are local to the core, HBM addresses global to the chip.\n\n"
      "## State\n\n"
      "- Registers `x0`..`x{}` hold signed integers (addresses, sizes, loop counters); `x0` reads "
      "as 0 and writes to it are "
      "dropped.\n"
      "- Semaphores `s0`..`s{}` per core; `-` in a semaphore operand means none.\n\n",
      kNumRegisters - 1, kNumSemaphores - 1);
  md += "## Operand kinds\n\n| kind | bits | assembly | range |\n|---|---|---|---|\n";
  constexpr std::pair<OperandKind, const char*> kKinds[] = {
      {OperandKind::REG, "`x5`"},
      {OperandKind::SEM, "`s3`, `-`"},
      {OperandKind::IMM16, "`-12`, `0x7f`"},
      {OperandKind::IMM32, "`4096`, `-0x10`"},
      {OperandKind::IMM48, "`0x100000000`"},
      {OperandKind::F32, "`1.5`, `-2e-3`, `0x1.8p3`, `inf`, `nan`, `nan(0x7fc00001)`"},
      {OperandKind::LABEL, "`loop`"},
      {OperandKind::FLAG, "`0`, `1`"},
      {OperandKind::DTYPE, "`bf16`"}};
  for (auto [kind, example] : kKinds)
    md += fmt::format("| {} | {} | {} | {} |\n", operand_kind_name(kind), operand_bits(kind),
                      example, cell(operand_value_range(kind)));
  md += fmt::format(
      "\n## Encoding\n\n"
      "Every instruction is one {}-byte little-endian word. Bits [{}:0] hold the opcode; the "
      "operands follow in table order from bit {} upward, each as wide as its kind. Immediates "
      "are two's complement, f32 immediates their IEEE-754 bits, a label the index of the target "
      "instruction in its section, a data type its number in the order fp32, bf16, fp16, "
      "fp8e4m3, fp8e5m2, int8, int32, and a semaphore operand of `-` the value 63. Bits above "
      "the last operand are zero; a decoder rejects a word whose padding is not zero, whose "
      "opcode is unknown or whose fields are out of range.\n\n",
      kInstructionBytes, kOpcodeBits - 1, kOpcodeBits);
  md += fmt::format(
      "A program file starts with the magic `SCPROG\\0\\0` and a u32 format version ({}), then "
      "a u32 section count; each section holds a u32 core count, that many i32 core indices, a "
      "u32 instruction count and that many instruction words. All integers are little-endian.\n\n",
      kProgramFormatVersion);
  md +=
      "## Assembly syntax\n\n"
      "```\n"
      "# a comment\n"
      ".core 0,2,5-7        # a section run by cores 0, 2, 5, 6 and 7 (.core all: every core)\n"
      "  li x1, 0\n"
      "loop:                # a label, local to its section\n"
      "  addi x1, x1, 1\n"
      "  blt x1, x2, loop\n"
      "  halt\n"
      "```\n\n"
      "One instruction per line: the mnemonic, then its operands separated by commas. Integers "
      "are decimal or `0x` hex, optionally negative. Instructions before the first `.core` form "
      "a section run by every core. The disassembler names branch targets `L<index>` and prints "
      "f32 immediates so that they assemble back to the same bits.\n";
  for (Unit unit : kUnitsInOrder) {
    md += fmt::format("\n## {}\n\n", unit_heading(unit));
    md += "| opcode | mnemonic | operands | semantics | encoding |\n|---|---|---|---|---|\n";
    for (const InstructionInfo& i : all_instructions()) {
      if (i.unit != unit) continue;
      const std::vector<OperandField>& fields = operand_fields(i.opcode);
      std::string operands;
      std::string encoding = fmt::format("op{}", bit_range({0, kOpcodeBits}));
      for (size_t k = 0; k < i.operands.size(); ++k) {
        operands += fmt::format("{}`{}:{}`", k == 0 ? "" : " ", i.operands[k].name,
                                operand_kind_name(i.operands[k].kind));
        encoding += fmt::format(" {}{}", i.operands[k].name, bit_range(fields[k]));
      }
      md += fmt::format("| {} | `{}` | {} | {} | {} |\n", static_cast<int>(i.opcode), i.mnemonic,
                        operands.empty() ? "—" : operands, cell(i.semantics), encoding);
    }
  }
  return md;
}

}  // namespace seedchip::isa
