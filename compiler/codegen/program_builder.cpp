#include "compiler/codegen/program_builder.h"

#include <algorithm>

namespace seedchip::compiler {

ProgramBuilder::ProgramBuilder(int cores) : code_(static_cast<size_t>(cores)) {
  // Emitters point into code_, which never grows after this.
  for (auto& c : code_) emitters_.emplace_back(c);
}

void ProgramBuilder::end_op() {
  for (Emitter& e : emitters_) e.emit(isa::Opcode::BARRIER, {});
  ++ops_;
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
