#include "sim/core/core.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstring>
#include <deque>
#include <limits>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include "arch/error.h"
#include "sim/core/sram_banks.h"
#include "sim/core/unit_timing.h"
#include "sim/core/vpu_math.h"
#include "sim/memory/zeroed_buffer.h"
#include "sim/numerics/numerics.h"

namespace seedchip::sim {
namespace {

using isa::Opcode;
using isa::Unit;

// A semaphore signal crossing the NoC is one small message, not a chip parameter.
constexpr uint64_t kSemaphoreMessageBytes = 8;
// Scalar instructions run in batches without an event each; the cap keeps a tight scalar loop
// from starving Ctrl-C, which the event queue checks between events.
constexpr int kMaxScalarBatch = 4096;
constexpr Tick kNever = std::numeric_limits<Tick>::max();

enum TraceTrack { kSequencerTrack = 0, kMxuTrack = 1, kVpuTrack = 2, kFirstDmaTrack = 3 };

// Where each named operand sits in an opcode's operand list (-1: absent), read once from the ISA
// table so that no operand position is written by hand here.
struct Slots {
  int rd, ra, rb, imm, target, s, count, core, chip, wait, signal;
  int sram, hbm, rows, row_bytes, stride, dst, src, bytes, idx, limit;
  int w, k, n, type, out, in, m, in_stride, out_stride, acc, acc_type;
  int d, a, b, v, c, cols, from, to;
  uint64_t register_slots;  // bit i: operand i names a register
  Unit unit;
};

const std::vector<Slots>& slot_table() {
  static const std::vector<Slots> table = [] {
    std::vector<Slots> t;
    for (const isa::InstructionInfo& i : isa::all_instructions()) {
      auto at = [&i](std::string_view name) { return i.index_of(name); };
      t.push_back({at("rd"),
                   at("ra"),
                   at("rb"),
                   at("imm"),
                   at("target"),
                   at("s"),
                   at("count"),
                   at("core"),
                   at("chip"),
                   at("wait"),
                   at("signal"),
                   at("sram"),
                   at("hbm"),
                   at("rows"),
                   at("row_bytes"),
                   at("stride"),
                   at("dst"),
                   at("src"),
                   at("bytes"),
                   at("idx"),
                   at("limit"),
                   at("w"),
                   at("k"),
                   at("n"),
                   at("type"),
                   at("out"),
                   at("in"),
                   at("m"),
                   at("in_stride"),
                   at("out_stride"),
                   at("acc"),
                   at("acc_type"),
                   at("d"),
                   at("a"),
                   at("b"),
                   at("v"),
                   at("c"),
                   at("cols"),
                   at("from"),
                   at("to"),
                   0,
                   i.unit});
      for (size_t o = 0; o < i.operands.size(); ++o)
        if (i.operands[o].kind == isa::OperandKind::REG)
          t.back().register_slots |= uint64_t{1} << o;
    }
    return t;
  }();
  return table;
}

// An MXU, VPU or DMA instruction with its registers read at issue, ready for its unit. The fields
// are ordered by how often they are read (DMA, VPU, MXU; the vectors last), so that an
// instruction touches few cache lines: a reusing core (see prepare_reuse) keeps thousands.
struct UnitOp {
  Opcode op = Opcode::NOP;
  int pc = 0;
  int32_t resolved = -1;  // its index in a reusing core's resolved instructions
  int64_t wait = isa::kNoSemaphore;
  int64_t signal = isa::kNoSemaphore;
  // DMA
  uint64_t sram = 0, hbm = 0, rows = 0, row_bytes = 0, stride = 0, bytes = 0;
  // dma.gather, dma.scatter: the index array and its bound
  uint64_t idx = 0, limit = 0;
  uint64_t dst = 0, src = 0;
  int target = 0;  // core of dma.copy, chip of dma.send
  // VPU
  VpuOperands vpu;
  uint64_t elements = 0;
  int bits = 32;
  // MXU
  uint64_t w = 0, out = 0, in = 0, m = 0, k = 0, n = 0, in_stride = 0, out_stride = 0;
  bool acc = false;
  DataType type = DataType::FP32, acc_type = DataType::FP32;
  std::vector<SramRange> vpu_ranges;
  // dma.gather, dma.scatter: each row's HBM address once the transfer starts
  std::vector<uint64_t> row_addresses;
};

// The operands of sem.signal and sem.wait.
struct SemaphoreCount {
  int64_t s = 0, count = 0;
};

struct Chunk {
  uint64_t addr;
  uint32_t bytes;
};

uint64_t ticks_to_cycles(Tick t, const ClockDomain& clock) { return t / clock.period(); }

// Transfers whose HBM side is indexed by an int32 array in SRAM.
bool is_indexed(Opcode op) { return op == Opcode::DMA_GATHER || op == Opcode::DMA_SCATTER; }
// Transfers that write HBM from SRAM.
bool writes_hbm(Opcode op) { return op == Opcode::DMA_STORE || op == Opcode::DMA_SCATTER; }

}  // namespace

struct Core::Impl {
  enum class Block { NONE, QUEUE_FULL, SEM_WAIT, FENCE, BARRIER };
  enum class Step { DONE, BLOCKED };

  struct Counters {
    uint64_t *instructions, *cycles, *stall_queue_full, *stall_sem_wait, *stall_fence,
        *stall_barrier;
    uint64_t *mxu_busy, *mxu_stream, *mxu_macs, *mxu_tiles, *mxu_loads, *mxu_conflict;
    uint64_t *vpu_busy, *vpu_instructions, *vpu_elements, *vpu_conflict;
    uint64_t *dma_busy, *dma_instructions, *dma_loaded, *dma_stored, *dma_copied, *dma_sent,
        *dma_requests, *dma_conflict;
    uint64_t *sram_read, *sram_written;
  };

  struct MxuUnit {
    std::deque<UnitOp> queue;
    Tick load_port_free = 0;  // the previous weight load has finished
    Tick weights_ready = 0;   // the most recent load has finished
    Tick stream_free = 0;     // the previous matmul has streamed its last input row
    Tick array_free = 0;      // the previous matmul's last result has left the array
    Tick busy_until = 0;
    Tick busy_ticks = 0;
    int in_flight = 0;
    std::shared_ptr<const numerics::ExactWeights> weights;  // of the most recent load
    Tick wake_at = kNever;
  };
  struct VpuUnit {
    std::deque<UnitOp> queue;
    Tick free_at = 0;
    Tick busy_ticks = 0;
    int in_flight = 0;
    Tick wake_at = kNever;
  };
  struct DmaEngine {
    bool busy = false;
    UnitOp op;
    Tick start = 0;
    Tick sram_ready = 0;        // the SRAM banks have served the transfer
    Tick sram_ready_ideal = 0;  // when they would have without contention
    uint64_t total = 0, delivered = 0;
    uint64_t cursor_row = 0, cursor_offset = 0;
    int64_t outstanding = 0;
    std::deque<Chunk> retry;  // HBM refused these; resubmitted when a queue slot frees
  };
  // The tile the most recent issued mxu.load leaves in the array, for checking matmuls at issue.
  struct IssuedTile {
    bool loaded = false;
    uint64_t k = 0, n = 0;
    DataType type = DataType::FP32;
  };

  Impl(int index, ChipContext& ctx)
      : index(index),
        ctx(ctx),
        config(*ctx.config),
        clock(*ctx.core_clock),
        banks(config.sram, clock),
        engines(static_cast<size_t>(config.dma.engines)) {
    if (ctx.functional) sram = ZeroedBuffer(static_cast<size_t>(config.sram.bytes));
    register_stats();
    if (ctx.trace) name_tracks();
  }

  // ---- identity, errors, stats, trace ----

  std::string where() const {
    std::string who = ctx.chip_count > 1 ? "chip " + std::to_string(ctx.chip_index) + " " : "";
    return who + "core " + std::to_string(index);
  }

  [[noreturn]] void fail(const std::string& what) const { fail_at(pc, what); }

  // An error of the instruction at `at` (a unit's instruction, issued before the sequencer's pc).
  [[noreturn]] void fail_at(int at, const std::string& what) const {
    const std::string mnemonic =
        at < static_cast<int>(code.size()) ? isa::info(code[at].op).mnemonic : "end of code";
    throw InputError(where() + ", instruction " + std::to_string(at) + " (" + mnemonic +
                     "): " + what);
  }

  void register_stats() {
    StatTree& s = *ctx.stats;
    const std::string p = ctx.stat_prefix + ".core" + std::to_string(index) + ".";
    auto c = [&](const std::string& path, const char* unit, const char* desc) {
      return &s.counter(p + path, unit, desc);
    };
    stat = {
        c("sequencer.instructions", "instructions", "instructions the sequencer issued"),
        c("sequencer.cycles", "cycles", "cycles from start until the core halted"),
        c("sequencer.stall_queue_full", "cycles", "sequencer stalled on a full unit queue"),
        c("sequencer.stall_sem_wait", "cycles", "sequencer stalled in sem.wait"),
        c("sequencer.stall_fence", "cycles", "sequencer stalled draining the units (fence, halt)"),
        c("sequencer.stall_barrier", "cycles", "sequencer stalled in a barrier"),
        c("mxu.busy_cycles", "cycles", "cycles the MXU loaded weights or had rows in the array"),
        c("mxu.stream_cycles", "cycles", "cycles input rows streamed into the array"),
        c("mxu.macs", "MACs", "multiply-accumulates of the matmuls"),
        c("mxu.tiles", "instructions", "mxu.matmul instructions"),
        c("mxu.weight_loads", "instructions", "mxu.load instructions"),
        c("mxu.sram_conflict_cycles", "cycles", "cycles MXU instructions lost to SRAM banks"),
        c("vpu.busy_cycles", "cycles", "cycles the VPU executed an instruction"),
        c("vpu.instructions", "instructions", "VPU instructions"),
        c("vpu.elements", "elements", "elements the VPU processed"),
        c("vpu.sram_conflict_cycles", "cycles", "cycles VPU instructions lost to SRAM banks"),
        c("dma.busy_cycles", "cycles", "cycles at least one DMA engine had a transfer"),
        c("dma.instructions", "instructions", "DMA instructions"),
        c("dma.bytes_loaded", "bytes", "bytes moved HBM -> SRAM"),
        c("dma.bytes_stored", "bytes", "bytes moved SRAM -> HBM"),
        c("dma.bytes_copied", "bytes", "bytes moved to other cores' SRAM"),
        c("dma.bytes_sent", "bytes", "bytes moved to other chips"),
        c("dma.hbm_requests", "requests", "HBM requests issued"),
        c("dma.sram_conflict_cycles", "cycles", "cycles DMA transfers lost to SRAM banks"),
        c("sram.bytes_read", "bytes", "bytes read from SRAM by the units"),
        c("sram.bytes_written", "bytes", "bytes written to SRAM by the units"),
    };
  }

  int pid() const { return ctx.trace_pid_base + index; }

  void name_tracks() {
    ctx.trace->name_track(pid(), kSequencerTrack, "sequencer");
    ctx.trace->name_track(pid(), kMxuTrack, "MXU");
    ctx.trace->name_track(pid(), kVpuTrack, "VPU");
    for (int e = 0; e < config.dma.engines; ++e)
      ctx.trace->name_track(pid(), kFirstDmaTrack + e, "DMA " + std::to_string(e));
    ctx.trace->name_track(pid(), kFirstDmaTrack + config.dma.engines, "MXU weight load");
  }

  void trace_span(int track, Opcode op, Tick start, Tick end) {
    if (ctx.trace) ctx.trace->span(pid(), track, isa::info(op).mnemonic, start, end - start);
  }

  // Looked up on every operand read: a member reference, not a function-local static's guard.
  const Slots& slot_of(Opcode op) const { return slots[static_cast<size_t>(op)]; }

  Tick now() const { return ctx.events->now(); }
  Tick ticks(uint64_t cycles) const { return clock.ticks(cycles); }

  // ---- operand access and validation (at issue) ----

  int64_t operand(const isa::Instruction& inst, int slot) const {
    const int64_t raw = inst.operands[static_cast<size_t>(slot)];
    if ((slot_of(inst.op).register_slots >> slot & 1) == 0) return raw;
    if (raw < 0 || raw >= isa::kNumRegisters)
      fail("register x" + std::to_string(raw) + " does not exist (x0..x31)");
    return regs[static_cast<size_t>(raw)];
  }

  uint64_t count_operand(const isa::Instruction& inst, int slot) const {
    const int64_t value = operand(inst, slot);
    if (value < 0)
      fail(isa::info(inst.op).operands[static_cast<size_t>(slot)].name + " = " +
           std::to_string(value) + " must not be negative");
    return static_cast<uint64_t>(value);
  }

  // Sizes come from registers: a product that overflows could pass a range check by wrapping.
  // `what` and the other names are views: they become strings only for an error message, since
  // these checks run on every unit instruction.
  uint64_t product(uint64_t a, uint64_t b, std::string_view what) const {
    uint64_t result;
    if (__builtin_mul_overflow(a, b, &result))
      fail(std::string(what) + " (" + std::to_string(a) + " x " + std::to_string(b) +
           ") is too large");
    return result;
  }

  int64_t semaphore_operand(const isa::Instruction& inst, int slot, bool none_allowed) const {
    const int64_t s = inst.operands[static_cast<size_t>(slot)];
    if ((s == isa::kNoSemaphore && none_allowed) || (s >= 0 && s < isa::kNumSemaphores)) return s;
    fail("semaphore " + std::to_string(s) + " does not exist (s0..s" +
         std::to_string(isa::kNumSemaphores - 1) + ")");
  }

  DataType dtype_operand(const isa::Instruction& inst, int slot) const {
    const int64_t t = inst.operands[static_cast<size_t>(slot)];
    for (DataType type : kAllDataTypes)
      if (static_cast<int64_t>(type) == t) return type;
    fail("operand " + std::to_string(t) + " is not a data type");
  }

  // `rows` rows of `row_bytes` bytes, `stride` apart, from `addr` must lie in [0, capacity).
  // Rows may overlap only where they are read (`overlap_ok`): a repeated row is a broadcast.
  void check_range(std::string_view what, uint64_t addr, uint64_t rows, uint64_t row_bytes,
                   uint64_t stride, uint64_t capacity, std::string_view memory,
                   bool overlap_ok = false) const {
    if (rows == 0 || row_bytes == 0) return;
    if (rows > 1 && stride < row_bytes && !overlap_ok)
      fail(std::string(what) + ": row pitch " + std::to_string(stride) +
           " is smaller than a row (" + std::to_string(row_bytes) + " bytes)");
    const unsigned __int128 end = static_cast<unsigned __int128>(addr) +
                                  static_cast<unsigned __int128>(rows - 1) * stride + row_bytes;
    if (end > capacity)
      fail(std::string(what) + " at address " + std::to_string(addr) + " (" + std::to_string(rows) +
           " x " + std::to_string(row_bytes) + " bytes, pitch " + std::to_string(stride) +
           ") runs past the end of " + std::string(memory) + " (" + std::to_string(capacity) +
           " bytes)");
  }

  void check_sram(std::string_view what, uint64_t addr, uint64_t rows, uint64_t row_bytes,
                  uint64_t stride) const {
    check_range(what, addr, rows, row_bytes, stride, static_cast<uint64_t>(config.sram.bytes),
                "SRAM (sram.bytes)");
  }

  void check_hbm(std::string_view what, uint64_t addr, uint64_t rows, uint64_t row_bytes,
                 uint64_t stride, bool overlap_ok) const {
    if (!ctx.hbm) fail("this chip has no HBM");
    check_range(what, addr, rows, row_bytes, stride, ctx.hbm->capacity_bytes(), "HBM", overlap_ok);
  }

  UnitOp resolve_mxu(const isa::Instruction& inst) {
    const Slots& sl = slot_of(inst.op);
    UnitOp u;
    u.type = dtype_operand(inst, sl.type);
    if (mxu_macs_per_pe(config.mxu, u.type) <= 0)
      fail("the MXU does not support " + std::string(dtype_name(u.type)) +
           " operands (mxu.macs_per_pe for it is 0)");
    const uint64_t elem = static_cast<uint64_t>(dtype_bytes(u.type));
    if (inst.op == Opcode::MXU_LOAD) {
      u.w = count_operand(inst, sl.w);
      u.k = count_operand(inst, sl.k);
      u.n = count_operand(inst, sl.n);
      if (u.k < 1 || u.k > static_cast<uint64_t>(config.mxu.rows))
        fail("k = " + std::to_string(u.k) +
             " must be 1..mxu.rows = " + std::to_string(config.mxu.rows));
      if (u.n < 1 || u.n > static_cast<uint64_t>(config.mxu.cols))
        fail("n = " + std::to_string(u.n) +
             " must be 1..mxu.cols = " + std::to_string(config.mxu.cols));
      check_sram("weight tile w", u.w, 1, u.k * u.n * elem, 0);
      issued_tile = {true, u.k, u.n, u.type};
      return u;
    }
    if (!issued_tile.loaded) fail("no weight tile was loaded (mxu.load) before this matmul");
    if (issued_tile.type != u.type)
      fail("operand type " + std::string(dtype_name(u.type)) + " differs from the loaded tile's " +
           std::string(dtype_name(issued_tile.type)));
    u.out = count_operand(inst, sl.out);
    u.in = count_operand(inst, sl.in);
    u.m = count_operand(inst, sl.m);
    u.in_stride = count_operand(inst, sl.in_stride);
    u.out_stride = count_operand(inst, sl.out_stride);
    u.acc = inst.operands[static_cast<size_t>(sl.acc)] != 0;
    u.acc_type = dtype_operand(inst, sl.acc_type);
    const DataType expected = dtype_is_integer(u.type) ? DataType::INT32 : DataType::FP32;
    if (u.acc_type != expected)
      fail("acc_type " + std::string(dtype_name(u.acc_type)) + " must be " +
           std::string(dtype_name(expected)) + " for " + std::string(dtype_name(u.type)) +
           " operands");
    u.k = issued_tile.k;
    u.n = issued_tile.n;
    check_sram("input `in`", u.in, u.m, u.k * elem, u.in_stride);
    check_sram("output `out`", u.out, u.m, u.n * 4, u.out_stride);
    return u;
  }

  UnitOp resolve_vpu(const isa::Instruction& inst) {
    const Slots& sl = slot_of(inst.op);
    UnitOp u;
    VpuOperands& o = u.vpu;
    o.op = inst.op;
    o.d = count_operand(inst, sl.d);
    o.a = count_operand(inst, sl.a);
    if (sl.from >= 0) {
      o.type = dtype_operand(inst, sl.from);
      o.to = dtype_operand(inst, sl.to);
    } else {
      o.type = o.to = dtype_operand(inst, sl.type);
    }
    if (!vpu_supports(inst.op, o.type))
      fail("the VPU does not support " + isa::info(inst.op).mnemonic + " on " +
           std::string(dtype_name(o.type)));
    if (sl.n >= 0) {
      o.rows = 1;
      o.cols = count_operand(inst, sl.n);
    } else {
      o.rows = count_operand(inst, sl.rows);
      o.cols = count_operand(inst, sl.cols);
    }
    const int second = sl.b >= 0 ? sl.b : sl.v;
    if (second >= 0) o.b = count_operand(inst, second);
    const bool select = inst.op == Opcode::VPU_SEL;
    if (select) o.m = count_operand(inst, sl.m);
    if (sl.c >= 0) o.c = std::bit_cast<float>(static_cast<uint32_t>(inst.operands[sl.c]));

    const uint64_t n = product(o.rows, o.cols, "rows x cols");
    const uint64_t in_bytes = product(n, static_cast<uint64_t>(dtype_bytes(o.type)), "size");
    const uint64_t elem = static_cast<uint64_t>(dtype_bytes(o.type));
    const uint64_t out_elem = static_cast<uint64_t>(dtype_bytes(o.to));
    const bool reduce = inst.op == Opcode::VPU_RSUM || inst.op == Opcode::VPU_RMAX;
    uint64_t b_count = 0;
    if (sl.b >= 0) b_count = n;
    if (inst.op == Opcode::VPU_ADDB || inst.op == Opcode::VPU_MULB) b_count = o.cols;
    if (inst.op == Opcode::VPU_SUBC || inst.op == Opcode::VPU_MULC) b_count = o.rows;
    const uint64_t d_count = reduce ? (o.cols == 0 ? 0 : o.rows) : n;
    const uint64_t b_bytes = product(b_count, elem, "size");
    const uint64_t d_bytes = product(d_count, out_elem, "size");
    check_sram("source `a`", o.a, 1, in_bytes, 0);
    if (second >= 0) check_sram(second == sl.b ? "source `b`" : "source `v`", o.b, 1, b_bytes, 0);
    check_sram("destination `d`", o.d, 1, d_bytes, 0);
    if (select) check_sram("mask `m`", o.m, 1, in_bytes, 0);

    u.elements = n;
    u.bits = std::max(dtype_bits(o.type), dtype_bits(o.to));
    if (!ctx.timed) return u;  // the ranges time SRAM bank conflicts; an untimed core has none
    u.vpu_ranges = {{o.a, 1, in_bytes, 0}, {o.d, 1, d_bytes, 0}};
    if (b_count != 0) u.vpu_ranges.push_back({o.b, 1, b_bytes, 0});
    if (select) u.vpu_ranges.push_back({o.m, 1, in_bytes, 0});
    return u;
  }

  UnitOp resolve_dma(const isa::Instruction& inst) {
    const Slots& sl = slot_of(inst.op);
    UnitOp u;
    switch (inst.op) {
      case Opcode::DMA_LOAD:
      case Opcode::DMA_STORE:
        u.sram = count_operand(inst, sl.sram);
        u.hbm = count_operand(inst, sl.hbm);
        u.rows = count_operand(inst, sl.rows);
        u.row_bytes = count_operand(inst, sl.row_bytes);
        u.stride = count_operand(inst, sl.stride);
        u.bytes = product(u.rows, u.row_bytes, "rows x row_bytes");
        check_sram("SRAM side", u.sram, 1, u.bytes, 0);
        check_hbm("HBM side", u.hbm, u.rows, u.row_bytes, u.stride, inst.op == Opcode::DMA_LOAD);
        if (!ctx.noc) fail("this chip has no NoC to carry DMA traffic");
        break;
      case Opcode::DMA_GATHER:
      case Opcode::DMA_SCATTER:
        u.sram = count_operand(inst, sl.sram);
        u.hbm = count_operand(inst, sl.hbm);
        u.idx = count_operand(inst, sl.idx);
        u.rows = count_operand(inst, sl.rows);
        u.row_bytes = count_operand(inst, sl.row_bytes);
        u.stride = count_operand(inst, sl.stride);
        u.limit = count_operand(inst, sl.limit);
        u.bytes = product(u.rows, u.row_bytes, "rows x row_bytes");
        check_sram("SRAM side", u.sram, 1, u.bytes, 0);
        check_sram("indices `idx`", u.idx, 1, product(u.rows, 4, "rows x 4"), 0);
        // Every row an index in [0, limit) can name must lie in HBM; indices are checked when read.
        if (u.rows != 0 && u.limit == 0) fail("limit = 0 admits no index");
        check_hbm("HBM side", u.hbm, u.limit, u.row_bytes, u.stride, true);
        if (!ctx.noc) fail("this chip has no NoC to carry DMA traffic");
        break;
      case Opcode::DMA_COPY: {
        const int64_t core = operand(inst, sl.core);
        if (core < 0 || core >= static_cast<int64_t>(ctx.cores.size()))
          fail("core " + std::to_string(core) + " does not exist (0.." +
               std::to_string(ctx.cores.size() - 1) + ")");
        u.target = static_cast<int>(core);
        u.dst = count_operand(inst, sl.dst);
        u.src = count_operand(inst, sl.src);
        u.bytes = count_operand(inst, sl.bytes);
        check_sram("source `src`", u.src, 1, u.bytes, 0);
        check_range("destination `dst`", u.dst, 1, u.bytes, 0,
                    ctx.cores[static_cast<size_t>(core)]->sram_bytes(),
                    "core " + std::to_string(core) + "'s SRAM");
        if (!ctx.noc) fail("this chip has no NoC to carry DMA traffic");
        break;
      }
      case Opcode::DMA_SEND: {
        if (!ctx.send_to_chip) fail("dma.send on a single-chip system");
        const int64_t chip = operand(inst, sl.chip);
        if (chip < 0 || chip >= ctx.chip_count)
          fail("chip " + std::to_string(chip) + " does not exist (0.." +
               std::to_string(ctx.chip_count - 1) + ")");
        u.target = static_cast<int>(chip);
        u.dst = count_operand(inst, sl.dst);
        u.src = count_operand(inst, sl.src);
        u.bytes = count_operand(inst, sl.bytes);
        check_hbm("source `src`", u.src, 1, u.bytes, 0, false);
        check_hbm("destination `dst`", u.dst, 1, u.bytes, 0, false);
        break;
      }
      default:
        break;
    }
    return u;
  }

  // ---- the sequencer ----

  void schedule_issue(Tick when) {
    issue_scheduled = true;
    ctx.events->schedule(
        when, [this] { issue(); }, EventPriority::kIssue);
  }

  // Something a blocked sequencer may wait for has changed.
  void wake_sequencer() {
    if (block == Block::NONE || issue_scheduled || in_issue || halted) return;
    schedule_issue(now());
  }

  // A timed sequencer issues scalar instructions in batches (one event for the batch) and any
  // other instruction alone at its own issue tick. Without a clock there is no issue cost, and the
  // sequencer runs on until it blocks or halts; the batch cap hands control back to the event
  // queue now and then, so that Ctrl-C still stops a program that loops.
  void issue() {
    issue_scheduled = false;
    if (halted) return;
    in_issue = true;
    Tick elapsed = 0;
    const Tick issue_ticks =
        ctx.timed ? ticks(static_cast<uint64_t>(config.core.sequencer_issue_cycles)) : 0;
    for (int batch = 0; batch < kMaxScalarBatch; ++batch) {
      const bool at_end = pc >= static_cast<int>(code.size());
      const Opcode op = at_end ? Opcode::HALT : opcodes[static_cast<size_t>(pc)];
      if (slot_of(op).unit == Unit::SCALAR && op != Opcode::HALT) {
        if (replaying) {
          const int next = after_scalars[static_cast<size_t>(pc)];
          *stat.instructions += static_cast<uint64_t>(next - pc);
          pc = next;
          continue;
        }
        execute_scalar(code[pc]);
        ++*stat.instructions;
        elapsed += issue_ticks;
        continue;
      }
      if (elapsed > 0) break;  // everything else acts at its own issue tick
      const Step step = at_end ? halt_step() : execute(op, code[pc]);
      if (step == Step::BLOCKED) {
        in_issue = false;
        return;
      }
      end_stall();
      if (halted) {
        in_issue = false;
        return;
      }
      ++*stat.instructions;
      ++pc;
      elapsed = issue_ticks;
      if (ctx.timed) break;
    }
    in_issue = false;
    schedule_issue(now() + elapsed);
  }

  void set_reg(int64_t r, int64_t value) {
    if (r != 0) regs[static_cast<size_t>(r)] = value;
  }

  void execute_scalar(const isa::Instruction& inst) {
    const Slots& sl = slot_of(inst.op);
    auto wrap = [](uint64_t v) { return static_cast<int64_t>(v); };
    auto u = [&](int slot) { return static_cast<uint64_t>(operand(inst, slot)); };
    auto dest = [&] {
      const int64_t r = inst.operands[static_cast<size_t>(sl.rd)];
      if (r < 0 || r >= isa::kNumRegisters)
        fail("register x" + std::to_string(r) + " does not exist");
      return r;
    };
    auto branch = [&](bool taken) {
      if (!taken) {
        ++pc;
        return;
      }
      const int64_t target = inst.operands[static_cast<size_t>(sl.target)];
      if (target < 0 || target > static_cast<int64_t>(code.size()))
        fail("branch target " + std::to_string(target) + " lies outside the code (0.." +
             std::to_string(code.size()) + ")");
      pc = static_cast<int>(target);
    };
    switch (inst.op) {
      case Opcode::LI:
        set_reg(dest(), operand(inst, sl.imm));
        break;
      case Opcode::ADD:
        set_reg(dest(), wrap(u(sl.ra) + u(sl.rb)));
        break;
      case Opcode::SUB:
        set_reg(dest(), wrap(u(sl.ra) - u(sl.rb)));
        break;
      case Opcode::MUL:
        set_reg(dest(), wrap(u(sl.ra) * u(sl.rb)));
        break;
      case Opcode::ADDI:
        set_reg(dest(), wrap(u(sl.ra) + u(sl.imm)));
        break;
      case Opcode::MULI:
        set_reg(dest(), wrap(u(sl.ra) * u(sl.imm)));
        break;
      case Opcode::COREID:
        set_reg(dest(), index);
        break;
      case Opcode::CHIPID:
        set_reg(dest(), ctx.chip_index);
        break;
      case Opcode::BLT:
        return branch(operand(inst, sl.ra) < operand(inst, sl.rb));
      case Opcode::BNE:
        return branch(operand(inst, sl.ra) != operand(inst, sl.rb));
      case Opcode::JMP:
        return branch(true);
      default:
        break;
    }
    ++pc;
  }

  void begin_stall(Block cause) {
    if (block == Block::NONE) stall_start = now();
    block = cause;
  }

  void end_stall() {
    if (block == Block::NONE) return;
    const uint64_t cycles = ticks_to_cycles(now() - stall_start, clock);
    uint64_t* counter = stat.stall_fence;
    const char* name = "stall: fence";
    if (block == Block::QUEUE_FULL) counter = stat.stall_queue_full, name = "stall: queue full";
    if (block == Block::SEM_WAIT) counter = stat.stall_sem_wait, name = "stall: sem.wait";
    if (block == Block::BARRIER) counter = stat.stall_barrier, name = "stall: barrier";
    *counter += cycles;
    if (ctx.trace && now() > stall_start)
      ctx.trace->span(pid(), kSequencerTrack, name, stall_start, now() - stall_start);
    block = Block::NONE;
  }

  Step blocked(Block cause) {
    begin_stall(cause);
    return Step::BLOCKED;
  }

  bool drained() const {
    if (!mxu.queue.empty() || mxu.in_flight != 0 || !vpu.queue.empty() || vpu.in_flight != 0 ||
        !dma_queue.empty())
      return false;
    return std::none_of(engines.begin(), engines.end(), [](const DmaEngine& e) { return e.busy; });
  }

  Step halt_step() {
    if (!drained()) return blocked(Block::FENCE);
    end_stall();
    do_halt();
    return Step::DONE;
  }

  void do_halt() {
    halted = true;
    issued_last_run = *stat.instructions - issued_before_run;
    if (!reused_at.empty()) {
      if (replaying) regs = regs_at_halt;
      regs_at_halt = regs;
      resolved_every_instruction = true;
    }
    *stat.cycles = ticks_to_cycles(now() - start_tick, clock);
    auto callbacks = halt_callbacks;
    for (auto& callback : callbacks) callback();
  }

  // `op` is inst.op, read from `opcodes`: a reused instruction's own bytes are not read at all.
  Step execute(Opcode op, const isa::Instruction& inst) {
    const Slots& sl = slot_of(op);
    switch (op) {
      case Opcode::HALT:
        return halt_step();
      case Opcode::SEM_SIGNAL: {
        const SemaphoreCount sc = semaphore_count(inst);
        signal_semaphore(sc.s, sc.count);
        return Step::DONE;
      }
      case Opcode::SEM_WAIT: {
        const SemaphoreCount sc = semaphore_count(inst);
        if (sems[static_cast<size_t>(sc.s)] < sc.count) return blocked(Block::SEM_WAIT);
        sems[static_cast<size_t>(sc.s)] -= sc.count;
        return Step::DONE;
      }
      case Opcode::SEM_SIGNAL_REMOTE: {
        const int64_t core = operand(inst, sl.core);
        if (core < 0 || core >= static_cast<int64_t>(ctx.cores.size()))
          fail("core " + std::to_string(core) + " does not exist (0.." +
               std::to_string(ctx.cores.size() - 1) + ")");
        const int64_t s = semaphore_operand(inst, sl.s, false);
        const int64_t count = count_immediate(inst, sl.count);
        Core* target = ctx.cores[static_cast<size_t>(core)];
        if (!ctx.timed) {
          target->signal_semaphore(static_cast<int>(s), count);
          return Step::DONE;
        }
        if (!ctx.noc) fail("this chip has no NoC to carry a remote signal");
        ctx.noc->transfer(
            ctx.noc->node_of_core(index), ctx.noc->node_of_core(static_cast<int>(core)),
            kSemaphoreMessageBytes,
            [target, s, count](Tick) { target->signal_semaphore(static_cast<int>(s), count); });
        return Step::DONE;
      }
      case Opcode::FENCE:
        return drained() ? Step::DONE : blocked(Block::FENCE);
      case Opcode::BARRIER:
        return barrier_step();
      default:
        break;
    }
    switch (sl.unit) {
      case Unit::MXU:
        return push(
            inst, mxu.queue, [&] { return resolve_mxu(inst); }, [this] { dispatch_mxu(); },
            [this](const UnitOp& u) { run_mxu_untimed(u); });
      case Unit::VPU:
        return push(
            inst, vpu.queue, [&] { return resolve_vpu(inst); }, [this] { dispatch_vpu(); },
            [this](const UnitOp& u) { run_vpu_untimed(u); });
      case Unit::DMA:
        return push(
            inst, dma_queue, [&] { return resolve_dma(inst); }, [this] { dispatch_dma(); },
            [this](UnitOp& u) { run_dma_untimed(u); });
      default:
        fail("the sequencer cannot execute this instruction");
    }
  }

  // The checked operands of sem.signal or sem.wait at pc; a reusing core decodes them once.
  SemaphoreCount semaphore_count(const isa::Instruction& inst) {
    if (!reused_at.empty() && reused_at[static_cast<size_t>(pc)] >= 0)
      return reused_semaphores[static_cast<size_t>(reused_at[static_cast<size_t>(pc)])];
    const Slots& sl = slot_of(inst.op);
    const SemaphoreCount sc{semaphore_operand(inst, sl.s, false), count_immediate(inst, sl.count)};
    if (!reused_at.empty()) {
      reused_at[static_cast<size_t>(pc)] = static_cast<int32_t>(reused_semaphores.size());
      reused_semaphores.push_back(sc);
    }
    return sc;
  }

  int64_t count_immediate(const isa::Instruction& inst, int slot) const {
    const int64_t count = inst.operands[static_cast<size_t>(slot)];
    if (count < 0) fail("count = " + std::to_string(count) + " must not be negative");
    return count;
  }

  // Queues the instruction for its unit and lets the unit run what it can. An untimed unit whose
  // queue is empty and whose wait semaphore is free runs the instruction at once (`run_untimed`):
  // what queueing and dispatching it would do, without the queue.
  template <typename Resolve, typename Dispatch, typename RunUntimed>
  Step push(const isa::Instruction& inst, std::deque<UnitOp>& queue, Resolve resolve,
            Dispatch dispatch, RunUntimed run_untimed) {
    if (queue.size() >= static_cast<size_t>(config.core.queue_depth))
      return blocked(Block::QUEUE_FULL);
    UnitOp* op = reused_op();
    if (!op) {
      const Slots& sl = slot_of(inst.op);
      UnitOp resolved = resolve();
      resolved.op = inst.op;
      resolved.pc = pc;
      resolved.wait = semaphore_operand(inst, sl.wait, true);
      resolved.signal = semaphore_operand(inst, sl.signal, true);
      if (reused_at.empty()) {
        queue.push_back(std::move(resolved));
        dispatch();
        return Step::DONE;
      }
      reused_at[static_cast<size_t>(pc)] = static_cast<int32_t>(reused.size());
      resolved.resolved = static_cast<int32_t>(reused.size());
      op = &reused.emplace_back(std::move(resolved));
    }
    if (!ctx.timed && queue.empty() && take(op->wait)) {
      run_untimed(*op);
      return Step::DONE;
    }
    queue.push_back(*op);
    dispatch();
    return Step::DONE;
  }

  // The instruction at pc as an earlier run resolved it (null: not resolved yet, or not reusable).
  // A reused mxu.load still leaves its tile for the matmuls that a later run resolves afresh.
  UnitOp* reused_op() {
    if (reused_at.empty()) return nullptr;
    const int32_t at = reused_at[static_cast<size_t>(pc)];
    if (at < 0) return nullptr;
    UnitOp* op = &reused[static_cast<size_t>(at)];
    // The core's next unit instructions are the next ones resolved: fetch them while this runs.
    // The vectors at its end are read only by timed runs and indexed transfers.
    constexpr size_t kFieldBytes = offsetof(UnitOp, vpu_ranges);
    if (static_cast<size_t>(at) + 2 < reused.size())
      for (size_t byte = 0; byte < kFieldBytes; byte += 64) {
        __builtin_prefetch(reinterpret_cast<const char*>(op + 1) + byte);
        __builtin_prefetch(reinterpret_cast<const char*>(op + 2) + byte);
      }
    if (op->op == Opcode::MXU_LOAD) issued_tile = {true, op->k, op->n, op->type};
    return op;
  }

  // Resolved unit instructions are reused across runs of an untimed core whose code has no
  // branch: its registers hold only values its own scalar instructions computed from immediates,
  // the core's index and the chip's, so every run resolves each instruction to the same operands
  // (checked once, on the run that resolved it). Registers set from outside (Core::set_reg) end
  // the reuse until the next load.
  void prepare_reuse() {
    reused_at.clear();
    reused.clear();
    reused_semaphores.clear();
    loaded_tiles.clear();
    loaded_tile_bytes = 0;
    after_scalars.clear();
    resolved_every_instruction = false;
    const bool branches = std::any_of(code.begin(), code.end(), [](const isa::Instruction& i) {
      return i.op == Opcode::BLT || i.op == Opcode::BNE || i.op == Opcode::JMP;
    });
    if (ctx.timed || branches) return;
    reused_at.assign(code.size(), -1);
    // A remote signal reads its core from a register at issue, so its code runs every scalar.
    const bool reads_registers_at_issue =
        std::any_of(code.begin(), code.end(),
                    [](const isa::Instruction& i) { return i.op == Opcode::SEM_SIGNAL_REMOTE; });
    if (!reads_registers_at_issue) {
      after_scalars.resize(code.size());
      int next = static_cast<int>(code.size());
      for (int i = next - 1; i >= 0; --i) {
        const Opcode op = code[static_cast<size_t>(i)].op;
        if (slot_of(op).unit != Unit::SCALAR || op == Opcode::HALT) next = i;
        after_scalars[static_cast<size_t>(i)] = next;
      }
    }
    // Room for every unit instruction, so that the ones resolved never move.
    reused.reserve(static_cast<size_t>(
        std::count_if(code.begin(), code.end(), [this](const isa::Instruction& i) {
          const Unit unit = slot_of(i.op).unit;
          return unit == Unit::MXU || unit == Unit::VPU || unit == Unit::DMA;
        })));
  }

  Step barrier_step() {
    if (!barrier_arrived) {
      if (!drained()) return blocked(Block::BARRIER);
      barrier_arrived = true;
      barrier_released = false;
      begin_stall(Block::BARRIER);
      if (!ctx.arrive_at_barrier) fail("this chip has no barrier");
      ctx.arrive_at_barrier(index, [this] {
        barrier_released = true;
        wake_sequencer();
      });
    }
    if (!barrier_released) return blocked(Block::BARRIER);
    barrier_arrived = false;
    return Step::DONE;
  }

  // ---- semaphores ----

  bool take(int64_t s) {
    if (s == isa::kNoSemaphore) return true;
    int64_t& value = sems[static_cast<size_t>(s)];
    if (value < 1) return false;
    --value;
    return true;
  }

  void signal_semaphore(int64_t s, int64_t count) {
    if (s == isa::kNoSemaphore) return;
    sems[static_cast<size_t>(s)] += count;
    dispatch_mxu();
    dispatch_vpu();
    dispatch_dma();
    wake_sequencer();
  }

  // ---- units: shared pieces ----

  // Runs `dispatch` at `when` unless a wake at or before it is already pending.
  void wake_unit_at(Tick& wake_at, Tick when, void (Impl::*dispatch)()) {
    if (wake_at <= when) return;
    wake_at = when;
    ctx.events->schedule(when, [this, &wake_at, when, dispatch] {
      if (wake_at == when) wake_at = kNever;
      (this->*dispatch)();
    });
  }

  void count_sram(const std::vector<SramRange>& reads, const std::vector<SramRange>& writes) {
    for (const SramRange& r : reads) *stat.sram_read += r.rows * r.row_bytes;
    for (const SramRange& r : writes) *stat.sram_written += r.rows * r.row_bytes;
  }

  // ---- MXU ----

  // Untimed units: each instruction at the head of the queue runs to completion as soon as its wait
  // semaphore allows, in queue order. Completions signal at once, which may run further queued
  // instructions (of this or another core) from within this call; each runs after it was popped,
  // so the queues stay consistent.
  void dispatch_mxu_untimed() {
    while (!mxu.queue.empty() && take(mxu.queue.front().wait)) {
      const UnitOp op = std::move(mxu.queue.front());
      mxu.queue.pop_front();
      run_mxu_untimed(op);
    }
  }

  // One untimed MXU instruction whose wait semaphore has been taken, with its completion signal.
  void run_mxu_untimed(const UnitOp& op) {
    apply_mxu(op);
    signal_semaphore(op.signal, 1);
  }

  // What an untimed unit instruction does to the data and the work counters, which a recorded
  // schedule replays (Core::replay_unit).
  void apply_mxu(const UnitOp& op) {
    record(op);
    if (op.op == Opcode::MXU_LOAD) {
      keep_loaded_weights(op);
      ++*stat.mxu_loads;
    } else {
      matmul_data(op, *mxu.weights);
      ++*stat.mxu_tiles;
      *stat.mxu_macs += op.m * op.k * op.n;
    }
  }

  void apply_vpu(const UnitOp& op) {
    record(op);
    vpu_execute(op.vpu, sram.data());
    ++*stat.vpu_instructions;
    *stat.vpu_elements += op.elements;
  }

  // Resolves the rows of an indexed transfer into `op` before moving its bytes.
  void apply_dma(UnitOp& op) {
    record(op);
    if (is_indexed(op.op)) resolve_indexed_rows(op);
    if (op.op == Opcode::DMA_SEND) {
      ctx.send_to_chip(op.target, op.dst, op.src, op.bytes, [](Tick) {});
    } else {
      copy_dma_bytes(op);
    }
    ++*stat.dma_instructions;
    count_dma_bytes(op);
  }

  void record(const UnitOp& op) const {
    if (ctx.record_unit) ctx.record_unit(index, op.resolved);
  }

  void dispatch_vpu_untimed() {
    while (!vpu.queue.empty() && take(vpu.queue.front().wait)) {
      const UnitOp op = std::move(vpu.queue.front());
      vpu.queue.pop_front();
      run_vpu_untimed(op);
    }
  }

  void run_vpu_untimed(const UnitOp& op) {
    apply_vpu(op);
    signal_semaphore(op.signal, 1);
  }

  void dispatch_dma_untimed() {
    while (!dma_queue.empty() && take(dma_queue.front().wait)) {
      UnitOp op = std::move(dma_queue.front());
      dma_queue.pop_front();
      run_dma_untimed(op);
    }
  }

  void run_dma_untimed(UnitOp& op) {
    apply_dma(op);
    signal_semaphore(op.signal, 1);
  }

  // The array keeps its own copy: later SRAM writes do not change loaded weights. A reusing core
  // runs the same loads run after run, and most load the same constants: a load whose bytes are
  // the ones its instruction loaded last time takes the tile prepared then instead of converting
  // it again. A load whose bytes changed twice running (activations, the KV cache) is not kept,
  // and its tile is not packed for the kernel either: such tiles meet a product or two of a few
  // rows each.
  void keep_loaded_weights(const UnitOp& op) {
    const uint8_t* tile = sram.data() + op.w;
    const uint64_t bytes = op.k * op.n * static_cast<uint64_t>(dtype_bytes(op.type));
    LoadedTile* last = nullptr;
    if (!reused_at.empty() &&
        (loaded_tiles.contains(op.pc) || loaded_tile_bytes + bytes <= kLoadedTileCacheBytes)) {
      last = &loaded_tiles[op.pc];
      if (last->changed >= 2) {
        mxu.weights =
            std::make_shared<const numerics::ExactWeights>(op.type, tile, op.k, op.n, false);
        return;
      }
    }
    if (last && last->weights && last->weights->type() == op.type && last->weights->k() == op.k &&
        last->weights->n() == op.n && std::memcmp(last->bytes.data(), tile, bytes) == 0) {
      mxu.weights = last->weights;
      last->changed = 0;
      return;
    }
    mxu.weights = std::make_shared<const numerics::ExactWeights>(op.type, tile, op.k, op.n);
    if (!last) return;
    if (last->weights) ++last->changed;
    loaded_tile_bytes += bytes - last->bytes.size();
    last->bytes.assign(tile, tile + bytes);
    last->weights = mxu.weights;
  }

  void matmul_data(const UnitOp& op, const numerics::ExactWeights& weights) {
    if (op.m != 0)
      weights.matmul(op.acc_type, sram.data() + op.in, op.in_stride, sram.data() + op.out,
                     op.out_stride, op.m, op.acc);
  }

  void dispatch_mxu() {
    if (!ctx.timed) return dispatch_mxu_untimed();
    while (!mxu.queue.empty()) {
      const UnitOp& head = mxu.queue.front();
      const bool is_load = head.op == Opcode::MXU_LOAD;
      const Tick ready = is_load
                             ? std::max(mxu.load_port_free,
                                        config.mxu.weight_double_buffer ? Tick{0} : mxu.array_free)
                             : std::max(mxu.weights_ready, mxu.stream_free);
      if (ready > now()) return wake_unit_at(mxu.wake_at, ready, &Impl::dispatch_mxu);
      if (!take(head.wait)) return;
      UnitOp op = std::move(mxu.queue.front());
      mxu.queue.pop_front();
      if (is_load) {
        start_mxu_load(std::move(op));
      } else {
        start_matmul(std::move(op));
      }
      wake_sequencer();
    }
  }

  void mxu_busy(Tick start, Tick end) {
    if (end > std::max(start, mxu.busy_until))
      mxu.busy_ticks += end - std::max(start, mxu.busy_until);
    mxu.busy_until = std::max(mxu.busy_until, end);
    *stat.mxu_busy = ticks_to_cycles(mxu.busy_ticks, clock);
  }

  void start_mxu_load(UnitOp op) {
    const Tick start = now();
    const uint64_t bytes = op.k * op.n * static_cast<uint64_t>(dtype_bytes(op.type));
    const uint64_t cycles = mxu_load_cycles(config.mxu, op.k, op.n);
    const std::vector<SramRange> reads = {{op.w, 1, bytes, 0}};
    const uint64_t actual = banks.access(start, cycles, reads);
    *stat.mxu_conflict += actual - cycles;
    count_sram(reads, {});
    const Tick done = start + ticks(actual);
    mxu.load_port_free = mxu.weights_ready = done;
    if (ctx.functional) keep_loaded_weights(op);
    ++mxu.in_flight;
    mxu_busy(start, done);
    ++*stat.mxu_loads;
    ctx.events->schedule(
        done,
        [this, signal = op.signal, start, done] {
          --mxu.in_flight;
          if (ctx.trace)
            trace_span(kFirstDmaTrack + config.dma.engines, Opcode::MXU_LOAD, start, done);
          signal_semaphore(signal, 1);
          wake_sequencer();
        },
        EventPriority::kCompletion);
  }

  void start_matmul(UnitOp op) {
    const Tick start = now();
    const uint64_t stream = mxu_stream_cycles(config.mxu, op.type, op.m);
    const uint64_t elem = static_cast<uint64_t>(dtype_bytes(op.type));
    const uint64_t acc_bytes = static_cast<uint64_t>(dtype_bytes(op.acc_type));
    std::vector<SramRange> reads = {{op.in, op.m, op.k * elem, op.in_stride}};
    const std::vector<SramRange> writes = {{op.out, op.m, op.n * acc_bytes, op.out_stride}};
    if (op.acc) reads.push_back(writes.front());
    std::vector<SramRange> all = reads;
    all.push_back(writes.front());
    const uint64_t actual_stream = banks.access(start, stream, all);
    *stat.mxu_conflict += actual_stream - stream;
    count_sram(reads, writes);
    const uint64_t latency = actual_stream + mxu_fill_drain_cycles(op.k, op.n);
    // Results leave the array in issue order, even when a later tile is narrower.
    const Tick done = std::max(start + ticks(latency), mxu.array_free);
    mxu.stream_free = start + ticks(actual_stream);
    mxu.array_free = done;
    ++mxu.in_flight;
    mxu_busy(start, done);
    ++*stat.mxu_tiles;
    *stat.mxu_macs += op.m * op.k * op.n;
    *stat.mxu_stream += stream;
    if (ctx.trace) trace_span(kMxuTrack, Opcode::MXU_MATMUL, start, mxu.stream_free);
    ctx.events->schedule(
        done,
        [this, op = std::move(op), weights = mxu.weights] {
          if (ctx.functional) matmul_data(op, *weights);
          --mxu.in_flight;
          signal_semaphore(op.signal, 1);
          wake_sequencer();
        },
        EventPriority::kCompletion);
  }

  // ---- VPU ----

  void dispatch_vpu() {
    if (!ctx.timed) return dispatch_vpu_untimed();
    while (!vpu.queue.empty()) {
      if (vpu.free_at > now()) return wake_unit_at(vpu.wake_at, vpu.free_at, &Impl::dispatch_vpu);
      if (!take(vpu.queue.front().wait)) return;
      UnitOp op = std::move(vpu.queue.front());
      vpu.queue.pop_front();
      start_vpu(std::move(op));
      wake_sequencer();
    }
  }

  void start_vpu(UnitOp op) {
    const Tick start = now();
    const uint64_t cycles = vpu_cycles(config.vpu, vpu_class(op.op), op.elements, op.bits);
    const uint64_t actual = banks.access(start, cycles, op.vpu_ranges);
    *stat.vpu_conflict += actual - cycles;
    const std::vector<SramRange> writes(op.vpu_ranges.begin() + 1, op.vpu_ranges.begin() + 2);
    std::vector<SramRange> reads = {op.vpu_ranges.front()};
    reads.insert(reads.end(), op.vpu_ranges.begin() + 2, op.vpu_ranges.end());
    count_sram(reads, writes);
    const Tick done = start + ticks(actual);
    vpu.free_at = done;
    ++vpu.in_flight;
    vpu.busy_ticks += done - start;
    *stat.vpu_busy = ticks_to_cycles(vpu.busy_ticks, clock);
    ++*stat.vpu_instructions;
    *stat.vpu_elements += op.elements;
    ctx.events->schedule(
        done,
        [this, op = std::move(op), start, done] {
          if (ctx.functional) vpu_execute(op.vpu, sram.data());
          --vpu.in_flight;
          if (ctx.trace) trace_span(kVpuTrack, op.op, start, done);
          signal_semaphore(op.signal, 1);
          wake_sequencer();
        },
        EventPriority::kCompletion);
  }

  // ---- DMA ----

  // The next instruction goes to the lowest-numbered idle engine; none idle: it waits.
  void dispatch_dma() {
    if (!ctx.timed) return dispatch_dma_untimed();
    while (!dma_queue.empty()) {
      auto idle =
          std::find_if(engines.begin(), engines.end(), [](const DmaEngine& e) { return !e.busy; });
      if (idle == engines.end()) return;
      if (!take(dma_queue.front().wait)) return;
      UnitOp op = std::move(dma_queue.front());
      dma_queue.pop_front();
      start_dma(static_cast<int>(idle - engines.begin()), std::move(op));
      wake_sequencer();
    }
  }

  void start_dma(int e, UnitOp op) {
    DmaEngine& eng = engines[static_cast<size_t>(e)];
    const Tick start = now();
    eng = DmaEngine{};
    eng.busy = true;
    eng.start = start;
    eng.total = op.bytes;
    eng.op = std::move(op);
    if (active_engines++ == 0) dma_busy_since = start;
    ++*stat.dma_instructions;
    const Tick begin = start + ticks(static_cast<uint64_t>(config.dma.setup_cycles));
    // The SRAM side can go no faster than the core's NoC port delivers.
    const uint64_t port_cycles =
        (eng.total + static_cast<uint64_t>(config.noc.link_bytes_per_cycle) - 1) /
        static_cast<uint64_t>(config.noc.link_bytes_per_cycle);
    UnitOp& o = eng.op;
    if (is_indexed(o.op)) resolve_indexed_rows(o);
    if (o.op == Opcode::DMA_LOAD || o.op == Opcode::DMA_STORE || o.op == Opcode::DMA_COPY ||
        is_indexed(o.op)) {
      const std::vector<SramRange> range = {
          {o.op == Opcode::DMA_COPY ? o.src : o.sram, 1, eng.total, 0}};
      std::vector<SramRange> touched = range;
      if (is_indexed(o.op)) touched.push_back({o.idx, 1, o.rows * 4, 0});
      const uint64_t actual = banks.access(begin, port_cycles, touched);
      eng.sram_ready = begin + ticks(actual);
      eng.sram_ready_ideal = begin + ticks(port_cycles);
      if (o.op == Opcode::DMA_LOAD) {
        count_sram({}, range);
      } else if (o.op == Opcode::DMA_GATHER) {
        count_sram({touched[1]}, range);
      } else if (o.op == Opcode::DMA_SCATTER) {
        count_sram(touched, {});
      } else {
        count_sram(range, {});
      }
    } else {
      eng.sram_ready = eng.sram_ready_ideal = begin;
    }
    ctx.events->schedule(begin, [this, e] { begin_dma(e); });
  }

  // dma.gather and dma.scatter read their indices when the transfer starts (after the wait
  // semaphore, so a load that fills them has completed). Timing-only runs carry no data: there row
  // r stands for index r mod limit, which times distinct rows in order.
  void resolve_indexed_rows(UnitOp& o) const {
    o.row_addresses.resize(o.rows);
    for (uint64_t r = 0; r < o.rows; ++r) {
      int64_t index = static_cast<int64_t>(r % o.limit);
      if (ctx.functional) {
        int32_t stored;
        std::memcpy(&stored, sram.data() + o.idx + r * 4, 4);
        index = stored;
        if (index < 0 || static_cast<uint64_t>(index) >= o.limit)
          fail_at(o.pc, "index " + std::to_string(index) + " of row " + std::to_string(r) +
                            " is outside [0, " + std::to_string(o.limit) + ")");
      }
      o.row_addresses[r] = o.hbm + static_cast<uint64_t>(index) * o.stride;
    }
  }

  void begin_dma(int e) {
    DmaEngine& eng = engines[static_cast<size_t>(e)];
    const UnitOp& o = eng.op;
    if (eng.total == 0) return finish_dma(e);
    switch (o.op) {
      case Opcode::DMA_LOAD:
      case Opcode::DMA_STORE:
      case Opcode::DMA_GATHER:
      case Opcode::DMA_SCATTER:
        return pump(e);
      case Opcode::DMA_COPY:
        ctx.noc->transfer(ctx.noc->node_of_core(index), ctx.noc->node_of_core(o.target), o.bytes,
                          [this, e](Tick) { finish_dma(e); });
        return;
      case Opcode::DMA_SEND:
        ctx.send_to_chip(o.target, o.dst, o.src, o.bytes, [this, e](Tick t) {
          if (t > now()) {
            ctx.events->schedule(t, [this, e] { finish_dma(e); });
          } else {
            finish_dma(e);
          }
        });
        return;
      default:
        return;
    }
  }

  bool next_chunk(DmaEngine& eng, Chunk& chunk) const {
    const UnitOp& o = eng.op;
    if (eng.cursor_row >= o.rows) return false;
    const uint64_t row = o.row_addresses.empty() ? o.hbm + eng.cursor_row * o.stride
                                                 : o.row_addresses[eng.cursor_row];
    const uint64_t addr = row + eng.cursor_offset;
    const uint64_t bytes =
        std::min({o.row_bytes - eng.cursor_offset, ctx.hbm->contiguous_bytes(addr),
                  uint64_t{std::numeric_limits<uint32_t>::max()}});
    chunk = {addr, static_cast<uint32_t>(bytes)};
    eng.cursor_offset += bytes;
    if (eng.cursor_offset == o.row_bytes) {
      ++eng.cursor_row;
      eng.cursor_offset = 0;
    }
    return true;
  }

  int stack_node(uint64_t addr) const {
    return ctx.noc->node_of_hbm_channel(ctx.hbm->stack_of(addr), ctx.hbm->channel_of(addr),
                                        static_cast<int>(config.hbm.stacks),
                                        static_cast<int>(config.hbm.channels));
  }

  bool submit(int e, Chunk chunk) {
    const bool is_write = writes_hbm(engines[static_cast<size_t>(e)].op.op);
    HbmRequest request{chunk.addr, chunk.bytes, is_write,
                       [this, e, chunk](Tick) { hbm_done(e, chunk); }};
    if (!ctx.hbm->try_submit(std::move(request))) return false;
    ++*stat.dma_requests;
    return true;
  }

  // HBM refused a request: retry when the memory reports a free queue slot.
  void wait_for_hbm_space(int e, Chunk chunk) {
    engines[static_cast<size_t>(e)].retry.push_back(chunk);
    if (space_listener_added) return;
    space_listener_added = true;  // HBM listeners stay registered for the whole run
    ctx.hbm->add_space_listener([this] {
      for (size_t i = 0; i < engines.size(); ++i)
        if (engines[i].busy && !engines[i].retry.empty()) pump(static_cast<int>(i));
    });
  }

  // Keeps up to dma.max_outstanding requests of the engine's transfer in flight.
  void pump(int e) {
    DmaEngine& eng = engines[static_cast<size_t>(e)];
    while (!eng.retry.empty()) {
      if (!submit(e, eng.retry.front())) return;
      eng.retry.pop_front();
    }
    const bool is_load = !writes_hbm(eng.op.op);
    Chunk chunk{};
    while (eng.outstanding < config.dma.max_outstanding && next_chunk(eng, chunk)) {
      ++eng.outstanding;
      if (is_load) {
        if (!submit(e, chunk)) return wait_for_hbm_space(e, chunk);
      } else {
        ctx.noc->transfer(ctx.noc->node_of_core(index), stack_node(chunk.addr), chunk.bytes,
                          [this, e, chunk](Tick) {
                            if (!submit(e, chunk)) wait_for_hbm_space(e, chunk);
                          });
      }
    }
  }

  void hbm_done(int e, Chunk chunk) {
    DmaEngine& eng = engines[static_cast<size_t>(e)];
    --eng.outstanding;
    if (!writes_hbm(eng.op.op)) {
      ctx.noc->transfer(stack_node(chunk.addr), ctx.noc->node_of_core(index), chunk.bytes,
                        [this, e, chunk](Tick) { delivered(e, chunk.bytes); });
    } else {
      delivered(e, chunk.bytes);
    }
    if (engines[static_cast<size_t>(e)].busy) pump(e);
  }

  void delivered(int e, uint64_t bytes) {
    DmaEngine& eng = engines[static_cast<size_t>(e)];
    eng.delivered += bytes;
    if (eng.delivered == eng.total) finish_dma(e);
  }

  // All bytes have moved; completion also waits for the SRAM banks and the SRAM write latency.
  void finish_dma(int e) {
    DmaEngine& eng = engines[static_cast<size_t>(e)];
    const Tick moved = now();
    if (eng.sram_ready > std::max(moved, eng.sram_ready_ideal))
      *stat.dma_conflict +=
          ticks_to_cycles(eng.sram_ready - std::max(moved, eng.sram_ready_ideal), clock);
    const Tick done =
        std::max(moved, eng.sram_ready) + ticks(static_cast<uint64_t>(config.sram.latency_cycles));
    ctx.events->schedule(
        done, [this, e] { complete_dma(e); }, EventPriority::kCompletion);
  }

  void complete_dma(int e) {
    DmaEngine& eng = engines[static_cast<size_t>(e)];
    const UnitOp op = std::move(eng.op);
    if (ctx.functional) copy_dma_bytes(op);
    count_dma_bytes(op);
    if (ctx.trace) trace_span(kFirstDmaTrack + e, op.op, eng.start, now());
    eng.busy = false;
    if (--active_engines == 0) {
      dma_busy_ticks += now() - dma_busy_since;
      *stat.dma_busy = ticks_to_cycles(dma_busy_ticks, clock);
    }
    signal_semaphore(op.signal, 1);
    dispatch_dma();
    wake_sequencer();
  }

  void count_dma_bytes(const UnitOp& op) {
    switch (op.op) {
      case Opcode::DMA_LOAD:
      case Opcode::DMA_GATHER:
        *stat.dma_loaded += op.bytes;
        break;
      case Opcode::DMA_STORE:
      case Opcode::DMA_SCATTER:
        *stat.dma_stored += op.bytes;
        break;
      case Opcode::DMA_COPY:
        *stat.dma_copied += op.bytes;
        break;
      default:
        *stat.dma_sent += op.bytes;
        break;
    }
  }

  void copy_dma_bytes(const UnitOp& op) {
    switch (op.op) {
      case Opcode::DMA_LOAD:
        ctx.hbm_data->read_rows(op.hbm, op.rows, op.row_bytes, op.stride, sram.data() + op.sram);
        break;
      case Opcode::DMA_GATHER:
        for (uint64_t r = 0; r < op.rows; ++r)
          ctx.hbm_data->read(op.row_addresses[r], sram.data() + op.sram + r * op.row_bytes,
                             op.row_bytes);
        break;
      case Opcode::DMA_STORE:
        ctx.hbm_data->write_rows(op.hbm, op.rows, op.row_bytes, op.stride, sram.data() + op.sram);
        break;
      case Opcode::DMA_SCATTER:
        for (uint64_t r = 0; r < op.rows; ++r)
          ctx.hbm_data->write(op.row_addresses[r], sram.data() + op.sram + r * op.row_bytes,
                              op.row_bytes);
        break;
      case Opcode::DMA_COPY:
        if (op.bytes != 0)
          std::memmove(ctx.cores[static_cast<size_t>(op.target)]->sram() + op.dst,
                       sram.data() + op.src, op.bytes);
        break;
      default:
        break;  // dma.send: the chip links move the bytes
    }
  }

  // ---- state ----

  const std::vector<Slots>& slots = slot_table();
  int index;
  ChipContext& ctx;
  const ChipConfig& config;
  const ClockDomain& clock;
  Counters stat{};

  std::vector<isa::Instruction> code;
  // code[i].op: the sequencer reads only these for most instructions, so it stays in cache.
  std::vector<Opcode> opcodes;
  int pc = 0;
  std::array<int64_t, isa::kNumRegisters> regs{};
  std::array<int64_t, isa::kNumSemaphores> sems{};
  ZeroedBuffer sram;  // functional mode only
  SramBanks banks;

  bool halted = false;
  bool issue_scheduled = false;
  bool in_issue = false;
  Block block = Block::NONE;
  Tick stall_start = 0;
  Tick start_tick = 0;
  bool barrier_arrived = false;
  bool barrier_released = false;
  IssuedTile issued_tile;
  // Per instruction: the index of its resolved form once a run has resolved it, else -1 (see
  // prepare_reuse); empty when the core does not reuse resolved instructions. A unit
  // instruction's is in `reused`, a sem.signal's or sem.wait's in `reused_semaphores`, each in the
  // order they were resolved, which is program order.
  std::vector<int32_t> reused_at;
  std::vector<UnitOp> reused;
  std::vector<SemaphoreCount> reused_semaphores;
  // A run of a reusing core after one that halted has every unit instruction resolved, and its
  // scalar instructions only compute the registers those read: it skips them (counting them as
  // issued), from each to `after_scalars` (the next other instruction; empty: the code needs its
  // registers at issue), and halts with the registers the resolving run halted with.
  bool resolved_every_instruction = false;
  bool replaying = false;
  std::vector<int32_t> after_scalars;
  std::array<int64_t, isa::kNumRegisters> regs_at_halt{};
  uint64_t issued_before_run = 0, issued_last_run = 0;  // the sequencer's instruction counter
  // A reusing core's weight tiles by the pc of their mxu.load: the bytes it loaded last and the
  // tile prepared from them, up to kLoadedTileCacheBytes of loaded bytes per core.
  struct LoadedTile {
    std::vector<uint8_t> bytes;
    std::shared_ptr<const numerics::ExactWeights> weights;
    int changed = 0;  // loads in a row that found other bytes
  };
  static constexpr uint64_t kLoadedTileCacheBytes = uint64_t{64} << 20;
  std::unordered_map<int64_t, LoadedTile> loaded_tiles;
  uint64_t loaded_tile_bytes = 0;
  std::vector<std::function<void()>> halt_callbacks;

  MxuUnit mxu;
  VpuUnit vpu;
  std::deque<UnitOp> dma_queue;
  std::vector<DmaEngine> engines;
  int active_engines = 0;
  Tick dma_busy_since = 0;
  Tick dma_busy_ticks = 0;
  bool space_listener_added = false;
};

Core::Core(int index, ChipContext& chip) {
  if (!chip.config || !chip.events || !chip.core_clock || !chip.stats)
    throw std::logic_error("Core: the ChipContext lacks a config, event queue, clock or stats");
  if (!chip.timed && !chip.functional)
    throw std::logic_error("Core: an untimed core must be functional (it has nothing else to do)");
  if (chip.functional && !chip.hbm_data)
    throw std::logic_error("Core: functional mode needs the chip's HBM bytes (hbm_data)");
  impl_ = std::make_unique<Impl>(index, chip);
}

Core::~Core() = default;

int Core::index() const { return impl_->index; }

void Core::load(std::vector<isa::Instruction> code) {
  impl_->code = std::move(code);
  impl_->opcodes.clear();
  for (const isa::Instruction& inst : impl_->code) impl_->opcodes.push_back(inst.op);
  impl_->prepare_reuse();
  restart();
}

void Core::restart() {
  Impl& s = *impl_;
  s.pc = 0;
  s.regs.fill(0);
  s.sems.fill(0);
  s.halted = false;
  s.block = Impl::Block::NONE;
  s.barrier_arrived = false;
  s.issued_tile = {};
  s.replaying = s.resolved_every_instruction && !s.reused_at.empty() && !s.after_scalars.empty();
}

void Core::start() {
  Impl& s = *impl_;
  s.start_tick = s.now();
  s.issued_before_run = *s.stat.instructions;
  if (s.code.empty()) return s.do_halt();
  s.schedule_issue(s.start_tick);
}

bool Core::halted() const { return impl_->halted; }

bool Core::replayable() const {
  const Impl& s = *impl_;
  return s.code.empty() ||
         (!s.reused_at.empty() && s.resolved_every_instruction && !s.halted && s.pc == 0);
}

void Core::replay_unit(int32_t resolved) {
  Impl& s = *impl_;
  UnitOp& op = s.reused.at(static_cast<size_t>(resolved));
  switch (s.slot_of(op.op).unit) {
    case Unit::MXU:
      return s.apply_mxu(op);
    case Unit::VPU:
      return s.apply_vpu(op);
    default:
      return s.apply_dma(op);
  }
}

void Core::finish_replay() {
  Impl& s = *impl_;
  s.halted = true;
  s.pc = static_cast<int>(s.code.size());
  if (s.code.empty()) return;
  s.regs = s.regs_at_halt;
  *s.stat.instructions += s.issued_last_run;
}

void Core::on_halt(std::function<void()> callback) {
  impl_->halt_callbacks.push_back(std::move(callback));
}

int64_t Core::reg(int r) const {
  if (r < 0 || r >= isa::kNumRegisters) throw std::out_of_range("register x" + std::to_string(r));
  return impl_->regs[static_cast<size_t>(r)];
}

void Core::set_reg(int r, int64_t value) {
  if (r < 0 || r >= isa::kNumRegisters) throw std::out_of_range("register x" + std::to_string(r));
  impl_->set_reg(r, value);
  // Runs may now resolve other operands.
  impl_->reused_at.clear();
  impl_->replaying = false;
}

int64_t Core::semaphore(int s) const {
  if (s < 0 || s >= isa::kNumSemaphores) throw std::out_of_range("semaphore s" + std::to_string(s));
  return impl_->sems[static_cast<size_t>(s)];
}

void Core::signal_semaphore(int s, int64_t count) {
  if (s < 0 || s >= isa::kNumSemaphores) throw std::out_of_range("semaphore s" + std::to_string(s));
  impl_->signal_semaphore(s, count);
}

uint8_t* Core::sram() { return impl_->sram.empty() ? nullptr : impl_->sram.data(); }

uint64_t Core::sram_bytes() const { return static_cast<uint64_t>(impl_->config.sram.bytes); }

}  // namespace seedchip::sim
