#pragma once
// The per-core code of a program under construction. Operators are lowered one after another;
// each ends at a chip-wide barrier (end_op), so every operator starts with all of its inputs in
// HBM, and the runtime can attribute the time between two barriers to one operator.
#include <cstdint>
#include <string>
#include <vector>

#include "arch/chip_config.h"
#include "compiler/codegen/emitter.h"
#include "isa/isa.h"

namespace seedchip::compiler {

// Instructions of a stretch of code, summed over the cores that run it: all of them, and those
// the MXU, VPU and DMA units execute (the rest are the sequencer's: registers, semaphores,
// barriers). A straight-line program runs each once per run.
struct InstructionCounts {
  uint64_t all = 0, units = 0;
  InstructionCounts operator-(const InstructionCounts& o) const {
    return {all - o.all, units - o.units};
  }
};

class ProgramBuilder {
 public:
  explicit ProgramBuilder(int cores);
  ProgramBuilder(const ProgramBuilder&) = delete;
  ProgramBuilder& operator=(const ProgramBuilder&) = delete;

  int cores() const { return static_cast<int>(code_.size()); }
  Emitter& core(int c) { return emitters_.at(static_cast<size_t>(c)); }
  std::vector<Emitter>& emitters() { return emitters_; }

  // Every core waits at a barrier: the operator lowered since the last call is complete.
  void end_op();
  int ops() const { return ops_; }
  // The code emitted so far.
  InstructionCounts counts();

  // Every core halts after its last barrier; one section per core.
  isa::Program finish();

 private:
  std::vector<std::vector<isa::Instruction>> code_;
  std::vector<Emitter> emitters_;
  int ops_ = 0;
  std::vector<size_t> counted_;  // per core: the instructions `counts_` includes
  InstructionCounts counts_;
};

// sem.wait for `count` (any size: the instruction's count is 16 bits).
void wait_semaphore(Emitter& e, int64_t sem, int64_t count);

}  // namespace seedchip::compiler
