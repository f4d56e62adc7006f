#pragma once
// Appends instructions to one core's code. Register operands are materialised in scratch
// registers x1..x(kSlots) by `li`, skipped when the register already holds the value, so kernels
// write their DMA/MXU/VPU instructions with plain numbers.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "isa/isa.h"

namespace seedchip::compiler {

class Emitter {
 public:
  static constexpr int kSlots = 8;

  explicit Emitter(std::vector<isa::Instruction>& code) : code_(&code) {}

  // A register holding `value`, in scratch slot `slot` (0 .. kSlots-1).
  int reg(int slot, int64_t value) {
    const int r = 1 + slot;
    if (!known_valid_[r] || known_[r] != value) {
      emit(isa::Opcode::LI, {r, value});
      known_[r] = value;
      known_valid_[r] = true;
    }
    return r;
  }

  void emit(isa::Opcode op, std::initializer_list<int64_t> operands) {
    isa::Instruction inst;
    inst.op = op;
    std::copy(operands.begin(), operands.end(), inst.operands.begin());
    emit(inst);
  }
  void emit(const isa::Instruction& inst) { code_->push_back(inst); }

  // dma.load / dma.store: (sram, hbm) or (hbm, sram) as the opcode orders them.
  void dma(isa::Opcode op, int64_t first, int64_t second, int64_t rows, int64_t row_bytes,
           int64_t stride, int64_t wait, int64_t signal) {
    emit(op, {reg(0, first), reg(1, second), reg(2, rows), reg(3, row_bytes), reg(4, stride), wait,
              signal});
  }

  size_t size() const { return code_->size(); }

 private:
  std::vector<isa::Instruction>* code_;
  std::array<int64_t, isa::kNumRegisters> known_{};
  std::array<bool, isa::kNumRegisters> known_valid_{};
};

}  // namespace seedchip::compiler
