#include "compiler/codegen/program_builder.h"

#include <algorithm>

namespace seedchip::compiler {

ProgramBuilder::ProgramBuilder(int cores)
    : code_(static_cast<size_t>(cores)), counted_(static_cast<size_t>(cores), 0) {
  // Emitters point into code_, which never grows after this.
  for (auto& c : code_) emitters_.emplace_back(c);
}

void ProgramBuilder::end_op() {
  for (Emitter& e : emitters_) e.emit(isa::Opcode::BARRIER, {});
  ++ops_;
}

InstructionCounts ProgramBuilder::counts() {
  for (size_t c = 0; c < code_.size(); ++c) {
    for (size_t i = counted_[c]; i < code_[c].size(); ++i) {
      const isa::Unit unit = isa::info(code_[c][i].op).unit;
      ++counts_.all;
      if (unit == isa::Unit::MXU || unit == isa::Unit::VPU || unit == isa::Unit::DMA)
        ++counts_.units;
    }
    counted_[c] = code_[c].size();
  }
  return counts_;
}

isa::Program ProgramBuilder::finish() {
  isa::Program program;
  for (size_t c = 0; c < code_.size(); ++c) {
    emitters_[c].emit(isa::Opcode::HALT, {});
    program.sections.push_back({{static_cast<int>(c)}, std::move(code_[c])});
  }
  return program;
}

void wait_semaphore(Emitter& e, int64_t sem, int64_t count) {
  constexpr int64_t kMaxCount = 0xFFFF;
  while (count > 0) {
    const int64_t part = std::min(count, kMaxCount);
    e.emit(isa::Opcode::SEM_WAIT, {sem, part});
    count -= part;
  }
}

}  // namespace seedchip::compiler
