#include "compiler/codegen/elementwise.h"

#include <algorithm>
#include <bit>
#include <stdexcept>

#include "arch/error.h"

namespace seedchip::compiler {

namespace {

using isa::Opcode;

constexpr int64_t kSramAlign = 256;
constexpr int64_t kSemLoaded = 0;    // + buffer set: one signal per load
constexpr int64_t kSemComputed = 2;  // + buffer set: the chunk's results are ready
constexpr int64_t kSemStored = 4;    // + buffer set: one signal per store
constexpr int64_t kSemIndexed = 6;   // + buffer set: one signal per load of a gather's indices
constexpr int64_t kNone = isa::kNoSemaphore;

int64_t align_up(int64_t x, int64_t a) { return (x + a - 1) / a * a; }

// Elements of a slot for `rows` rows.
int64_t slot_elements(const Slot& s, int64_t rows, int64_t width) {
  switch (s.shape) {
    case SlotShape::kWide:
      return rows * width;
    case SlotShape::kNarrow:
      return rows;
    case SlotShape::kRow:
      return width;
  }
  return 0;
}

class Layout {
 public:
  Layout(const StreamKernel& k, int64_t chunk_rows) {
    int64_t at = 0;
    for (const Slot& s : k.slots) {
      offsets_.push_back(at);
      at = align_up(at + s.element_bytes * slot_elements(s, chunk_rows, k.width), kSramAlign);
    }
    set_bytes_ = at;
  }
  int64_t slot(int set, int s) const {
    return set * set_bytes_ + offsets_.at(static_cast<size_t>(s));
  }
  int64_t total() const { return 2 * set_bytes_; }

 private:
  std::vector<int64_t> offsets_;
  int64_t set_bytes_ = 0;
};

// One VPU instruction, its operands filled by name from the ISA table, so that every VPU
// opcode's signature (elementwise, scalar, convert, row reduce or broadcast, select) is known in
// one place.
void emit_step(Emitter& e, const StreamKernel& k, const VpuStep& s, const Layout& layout, int set,
               int64_t rows, int64_t signal) {
  const isa::InstructionInfo& info = isa::info(s.op);
  const int64_t n = slot_elements(k.slots.at(static_cast<size_t>(s.dst)), rows, k.width);
  isa::Instruction inst;
  inst.op = s.op;
  for (size_t i = 0; i < info.operands.size(); ++i) {
    const std::string& name = info.operands[i].name;
    int64_t value = 0;
    if (name == "d")
      value = e.reg(0, layout.slot(set, s.dst));
    else if (name == "a")
      value = e.reg(1, layout.slot(set, s.a));
    else if (name == "b" || name == "v")
      value = e.reg(2, layout.slot(set, s.b));
    else if (name == "m")
      value = e.reg(5, layout.slot(set, s.m));
    else if (name == "n")
      value = e.reg(3, n);
    else if (name == "rows")
      value = e.reg(4, rows);
    else if (name == "cols")
      value = e.reg(6, k.width);
    else if (name == "c")
      value = static_cast<int64_t>(std::bit_cast<uint32_t>(s.c));
    else if (name == "type" || name == "from")
      value = static_cast<int64_t>(s.type);
    else if (name == "to")
      value = static_cast<int64_t>(s.to);
    else if (name == "wait")
      value = kNone;
    else if (name == "signal")
      value = signal;
    else
      throw std::logic_error("emit_step: " + info.mnemonic + " has operand " + name);
    inst.operands[i] = value;
  }
  e.emit(inst);
}

}  // namespace

void emit_stream(const ChipConfig& chip, ProgramBuilder& program, const StreamKernel& k) {
  if (k.rows == 0 || k.width == 0) return;
  const int64_t cores = program.cores();
  // A core's VPU takes `lanes` elements per pass and each chunk pays the DMA latency once, so
  // spreading fewer elements than that over more cores, or more chunks, saves no cycles and only
  // multiplies instructions: a core gets at least one pass of rows, then all cores share the rest.
  const int64_t pass_rows = std::max<int64_t>(1, (chip.vpu.lanes + k.width - 1) / k.width);
  const int64_t share = std::max((k.rows + cores - 1) / cores, std::min(pass_rows, k.rows));
  // Bytes per row, and the fixed part (kRow slots), for the double-buffered sets. Slots are
  // aligned, so the growth is measured over many rows (one more row may not move the total), and
  // the chunk is then checked against the SRAM itself.
  constexpr int64_t kProbeRows = 4096;
  const int64_t one = Layout(k, 1).total();
  const int64_t per_row =
      std::max<int64_t>((Layout(k, 1 + kProbeRows).total() - one + kProbeRows - 1) / kProbeRows, 1);
  const int64_t fit = (chip.sram.bytes - one) / per_row;
  if (fit < 1)
    throw InputError("streaming kernel: one row of its " + std::to_string(k.slots.size()) +
                     " buffers (" + std::to_string(one) +
                     " bytes) does not fit sram.bytes=" + std::to_string(chip.sram.bytes));
  // Chunks fill the SRAM but leave each core several, so that loads and compute overlap.
  int64_t chunk =
      std::max<int64_t>(std::min({share, fit, pass_rows}), std::min({share, fit, share / 4 + 1}));
  while (chunk > 1 && Layout(k, chunk).total() > chip.sram.bytes)
    chunk -= std::max<int64_t>(1, chunk / 16);
  const Layout layout(k, chunk);

  for (int64_t core = 0; core < cores; ++core) {
    const int64_t lo = core * share, hi = std::min(k.rows, lo + share);
    if (lo >= hi) continue;
    Emitter& e = program.core(static_cast<int>(core));
    std::vector<int64_t> starts;
    for (int64_t s = lo; s < hi; s += chunk) starts.push_back(s);
    auto end_of = [&](size_t c) { return std::min(hi, starts[c] + chunk); };
    // The flat element range of a transfer for rows [r0, r1).
    auto range = [&](const Transfer& t, int64_t r0, int64_t r1) {
      const Slot& s = k.slots.at(static_cast<size_t>(t.slot));
      if (s.shape == SlotShape::kRow) return std::pair<int64_t, int64_t>{0, k.width};
      const int64_t w = s.shape == SlotShape::kWide ? k.width : 1;
      return std::pair<int64_t, int64_t>{r0 * w, r1 * w};
    };
    std::vector<int64_t> loads(starts.size(), 0);
    auto is_index = [&](int slot) {
      return std::any_of(k.gathers.begin(), k.gathers.end(),
                         [slot](const Gather& g) { return g.index == slot; });
    };
    auto emit_loads = [&](size_t c) {
      const int set = static_cast<int>(c % 2);
      int64_t index_loads = 0;
      for (const Transfer& t : k.loads) {
        const auto [b, en] = range(t, starts[c], end_of(c));
        for (const DmaRun& r : plan_transfer(t.view, b, en, false)) {
          const bool index = is_index(t.slot);
          e.dma(Opcode::DMA_LOAD, layout.slot(set, t.slot) + r.sram_offset, r.hbm, r.rows,
                r.row_bytes, r.stride, kNone, index ? kSemIndexed + set : kSemLoaded + set);
          ++(index ? index_loads : loads[c]);
        }
      }
      // Gathers start once every index load has arrived (engines may finish out of order): the
      // sequencer takes all but one of their signals and the first gather's own wait the last;
      // the later gathers start after it, as the DMA queue starts transfers in order.
      if (index_loads > 1) wait_semaphore(e, kSemIndexed + set, index_loads - 1);
      const int64_t rows = end_of(c) - starts[c];
      for (const Gather& g : k.gathers) {
        const int64_t wait = index_loads > 0 ? kSemIndexed + set : kNone;
        index_loads = 0;
        const int64_t row_bytes = k.width * k.slots.at(static_cast<size_t>(g.slot)).element_bytes;
        e.emit(Opcode::DMA_GATHER,
               {e.reg(0, layout.slot(set, g.slot)), e.reg(1, g.base),
                e.reg(5, layout.slot(set, g.index)), e.reg(2, rows), e.reg(3, row_bytes),
                e.reg(4, g.stride), e.reg(6, g.limit), wait, kSemLoaded + set});
        ++loads[c];
      }
    };
    int64_t stores_pending[2] = {0, 0};
    emit_loads(0);
    for (size_t c = 0; c < starts.size(); ++c) {
      const int set = static_cast<int>(c % 2);
      const int64_t rows = end_of(c) - starts[c];
      wait_semaphore(e, kSemLoaded + set, loads[c]);
      if (k.steps.empty()) {
        e.emit(Opcode::SEM_SIGNAL, {kSemComputed + set, 1});
      } else {
        for (size_t s = 0; s < k.steps.size(); ++s)
          emit_step(e, k, k.steps[s], layout, set, rows,
                    s + 1 == k.steps.size() ? kSemComputed + set : kNone);
      }
      if (c + 1 < starts.size()) {
        const int next = 1 - set;
        wait_semaphore(e, kSemStored + next, stores_pending[next]);
        stores_pending[next] = 0;
        emit_loads(c + 1);
      }
      bool first = true;
      for (const Transfer& t : k.stores) {
        const auto [b, en] = range(t, starts[c], end_of(c));
        for (const DmaRun& r : plan_transfer(t.view, b, en, true)) {
          // The DMA queue starts transfers in order: once the chunk's first store has seen the
          // results, the later ones follow it.
          e.dma(Opcode::DMA_STORE, r.hbm, layout.slot(set, t.slot) + r.sram_offset, r.rows,
                r.row_bytes, r.stride, first ? kSemComputed + set : kNone, kSemStored + set);
          first = false;
          ++stores_pending[set];
        }
      }
      for (const Scatter& sc : k.scatters) {
        const int64_t row_bytes = k.width * k.slots.at(static_cast<size_t>(sc.slot)).element_bytes;
        e.emit(Opcode::DMA_SCATTER, {e.reg(0, sc.base), e.reg(1, layout.slot(set, sc.slot)),
                                     e.reg(5, layout.slot(set, sc.index)), e.reg(2, rows),
                                     e.reg(3, row_bytes), e.reg(4, sc.stride), e.reg(6, sc.limit),
                                     first ? kSemComputed + set : kNone, kSemStored + set});
        first = false;
        ++stores_pending[set];
      }
      if (first) wait_semaphore(e, kSemComputed + set, 1);  // nothing stored: consume the signal
    }
    for (int set = 0; set < 2; ++set) wait_semaphore(e, kSemStored + set, stores_pending[set]);
  }
}

}  // namespace seedchip::compiler
