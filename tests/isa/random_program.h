#pragma once
// Random valid programs for the property tests: every opcode, every operand kind at its extremes,
// f32 immediates as arbitrary bit patterns (NaN payloads, subnormals, -0), labels anywhere in the
// section including its end.
#include <random>

#include "isa/isa.h"

namespace seedchip::isa::testing {

inline int64_t random_operand(OperandKind kind, size_t section_size, std::mt19937_64& rng) {
  auto uniform = [&rng](int64_t low, int64_t high) {
    return std::uniform_int_distribution<int64_t>(low, high)(rng);
  };
  auto signed_immediate = [&](int bits) {
    int64_t max = (int64_t{1} << (bits - 1)) - 1;
    switch (uniform(0, 3)) {
      case 0:
        return -max - 1;
      case 1:
        return max;
      case 2:
        return uniform(-16, 16);
      default:
        return uniform(-max - 1, max);
    }
  };
  switch (kind) {
    case OperandKind::REG:
      return uniform(0, kNumRegisters - 1);
    case OperandKind::SEM:
      return uniform(kNoSemaphore, kNumSemaphores - 1);
    case OperandKind::IMM16:
      return signed_immediate(16);
    case OperandKind::IMM32:
      return signed_immediate(32);
    case OperandKind::IMM48:
      return signed_immediate(48);
    case OperandKind::F32:
      return uniform(0, 0xffffffff);
    case OperandKind::LABEL:
      return uniform(0, static_cast<int64_t>(section_size));
    case OperandKind::FLAG:
      return uniform(0, 1);
    case OperandKind::DTYPE:
      return uniform(0, static_cast<int64_t>(DataType::INT32));
  }
  return 0;
}

inline Instruction random_instruction(Opcode op, size_t section_size, std::mt19937_64& rng) {
  Instruction inst;
  inst.op = op;
  const InstructionInfo& i = info(op);
  for (size_t k = 0; k < i.operands.size(); ++k)
    inst.operands[k] = random_operand(i.operands[k].kind, section_size, rng);
  return inst;
}

inline Program random_program(std::mt19937_64& rng, int max_sections, int max_instructions) {
  auto uniform = [&rng](int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(rng);
  };
  Program program;
  int sections = uniform(1, max_sections);
  for (int s = 0; s < sections; ++s) {
    Section& section = program.sections.emplace_back();
    for (int core = 0; core < 24; ++core)
      if (uniform(0, 2) == 0) section.cores.push_back(core);
    size_t size = static_cast<size_t>(uniform(0, max_instructions));
    for (size_t k = 0; k < size; ++k) {
      auto op = static_cast<Opcode>(uniform(0, static_cast<int>(Opcode::kCount) - 1));
      section.code.push_back(random_instruction(op, size, rng));
    }
  }
  return program;
}

}  // namespace seedchip::isa::testing
