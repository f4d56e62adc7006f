#include "compiler/kernels/gemm.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

#include "arch/error.h"
#include "compiler/codegen/emitter.h"
#include "compiler/mapping/search.h"
#include "sim/core/unit_timing.h"

namespace seedchip::compiler {
namespace {

using isa::Instruction;
using isa::Opcode;

// HBM regions start on this boundary so that each operand begins on a fresh DRAM row everywhere.
constexpr uint64_t kRegionAlign = uint64_t{1} << 20;
// Semaphores per A slot and per weight slot: the most buffers any plan may use.
constexpr int64_t kASlots = kGemmMaxASlots;
constexpr int64_t kBSlots = kGemmMaxBSlots;
constexpr uint64_t kSramAlign = kGemmSramAlign;

// Semaphore assignment of the kernel (32 semaphores).
constexpr int64_t kSemBFull = 0;                    // + weight slot
constexpr int64_t kSemBFree = kSemBFull + kBSlots;  // + weight slot
constexpr int64_t kSemAFull = kSemBFree + kBSlots;  // + A slot
constexpr int64_t kSemAFree = kSemAFull + kASlots;  // + A slot
constexpr int64_t kSemCDone = kSemAFree + kASlots;
constexpr int64_t kSemCFree = kSemCDone + 1;
static_assert(kSemCFree < isa::kNumSemaphores);
// An epilogue's plan leaves the last weight slot unused (gemm_max_b_slots); its pair orders the
// epilogue: the bias row's load -> the first addition, and each tile's epilogue -> its store.
constexpr int64_t kSemBiasLoaded = kSemBFull + kBSlots - 1;
constexpr int64_t kSemCReady = kSemBFree + kBSlots - 1;
constexpr int64_t kNone = isa::kNoSemaphore;

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

// One epilogue step on `n` FP32 values at SRAM `at`, in place.
void emit_in_place(Emitter& e, const GemmEpilogue::Step& s, uint64_t at, int64_t n, int64_t wait,
                   int64_t signal) {
  const auto fp32 = static_cast<int64_t>(DataType::FP32);
  if (s.op == Opcode::VPU_MULS || s.op == Opcode::VPU_ADDS)
    e.emit(s.op, {e.reg(0, at), e.reg(1, at), e.reg(2, n),
                  static_cast<int64_t>(std::bit_cast<uint32_t>(s.c)), fp32, wait, signal});
  else
    e.emit(s.op, {e.reg(0, at), e.reg(1, at), e.reg(2, n), fp32, wait, signal});
}

using SramMap = GemmSramMap;
SramMap sram_map(const GemmPlan& p, DataType type) { return gemm_sram_map(p, type); }

}  // namespace

GemmPlan plan_gemm(const ChipConfig& chip, const GemmShape& shape) {
  if (shape.m < 1 || shape.n < 1 || shape.k < 1)
    throw InputError("gemm: dimensions must be positive, got M=" + std::to_string(shape.m) +
                     " N=" + std::to_string(shape.n) + " K=" + std::to_string(shape.k));
  if (sim::mxu_macs_per_pe(chip.mxu, shape.type) <= 0)
    throw InputError("gemm: chip '" + chip.name + "' has no MXU support for " +
                     std::string(dtype_name(shape.type)) + " (mxu.macs_per_pe is 0)");
  GemmPlan plan;
  if (const char* choice = std::getenv("SEEDCHIP_GEMM_MAPPING");
      choice && std::string_view(choice) == "heuristic") {
    // The fixed heuristic used before the search, for comparisons (docs/mapping.md).
    plan = mapping::heuristic_gemm_plan(chip, shape);
    if (plan.sram_bytes_used == 0) plan.chunk_m = 0;
  } else {
    const mapping::GemmSearchResult best = mapping::search_gemm(chip, shape);
    if (best.candidates > 0) plan = best.plan;
  }
  if (plan.chunk_m == 0)
    throw InputError("gemm: no tiling of " + std::to_string(shape.m) + "x" +
                     std::to_string(shape.n) + "x" + std::to_string(shape.k) +
                     " fits sram.bytes=" + std::to_string(chip.sram.bytes));

  const uint64_t in = dtype_bytes(shape.type), acc = dtype_bytes(gemm_accumulator(shape.type));
  const uint64_t tiles = ceil_div(shape.k, plan.tile_k) * ceil_div(shape.n, plan.tile_n);
  plan.layout.a = 0;
  plan.layout.b = align_up(shape.m * shape.k * in, kRegionAlign);
  plan.layout.c = align_up(plan.layout.b + tiles * plan.tile_k * plan.tile_n * in, kRegionAlign);
  plan.layout.end = plan.layout.c + shape.m * shape.n * acc;
  // stack_gbytes counts GiB, as HBM capacities do (a 36 GB stack is 12 dies of 24 Gibit).
  const uint64_t capacity = static_cast<uint64_t>(chip.hbm.stacks * chip.hbm.stack_gbytes) << 30;
  if (plan.layout.end > capacity)
    throw InputError("gemm: operands need " + std::to_string(plan.layout.end) +
                     " bytes of HBM but chip '" + chip.name + "' has " + std::to_string(capacity));
  return plan;
}

namespace {

// SRAM of A in FP32 (staged) and BF16 (converted) for a core's rows, in place of the A buffers.
uint64_t a_fp32_bytes(const GemmShape& shape, const GemmPlan& plan) {
  return align_up(plan.block_m * shape.k * 4, kSramAlign) +
         align_up(plan.block_m * shape.k * 2, kSramAlign);
}

}  // namespace

bool gemm_a_fp32_fits(const ChipConfig& chip, const GemmShape& shape, const GemmPlan& plan) {
  if (shape.type != DataType::BF16) return false;
  const SramMap s = sram_map(plan, shape.type);
  return s.a + a_fp32_bytes(shape, plan) + plan.b_slots * s.b_slot <=
         static_cast<uint64_t>(chip.sram.bytes);
}

void emit_gemm(const ChipConfig& chip, const GemmShape& shape, const GemmPlan& plan,
               const GemmLayout& layout, std::vector<Emitter>& cores,
               const GemmEpilogue* epilogue) {
  const int64_t in = dtype_bytes(shape.type);
  const DataType acc_type = gemm_accumulator(shape.type);
  const int64_t acc = dtype_bytes(acc_type);
  if (epilogue && (!plan.epilogue || plan.b_slots >= kBSlots || acc_type != DataType::FP32))
    throw std::logic_error("emit_gemm: an epilogue needs an FP32 accumulator and a plan for it");
  SramMap sram = sram_map(plan, shape.type);
  const bool a_fp32 = layout.a_fp32;
  if (a_fp32 && !gemm_a_fp32_fits(chip, shape, plan))
    throw std::logic_error("emit_gemm: A in FP32 does not fit SRAM");
  // A in FP32: staged at sram.a, converted to BF16 at a_bf16 (rows of shape.k), weights after.
  const uint64_t a_bf16 = sram.a + align_up(plan.block_m * shape.k * 4, kSramAlign);
  if (a_fp32) sram.b = sram.a + a_fp32_bytes(shape, plan);
  const int64_t k_tiles =
      layout.b_column_tiles ? layout.b_column_tiles : ceil_div(shape.k, plan.tile_k);
  const int64_t a_pitch =
      layout.a_row_pitch ? static_cast<int64_t>(layout.a_row_pitch) : shape.k * (a_fp32 ? 4 : in);
  const int64_t tile_slot_bytes = plan.tile_k * plan.tile_n * in;
  // In SRAM the accumulator is tile-major, one packed block per weight-tile column: the rows a
  // matmul reads and writes (the heaviest SRAM traffic) are consecutive and spread over every
  // bank. A chunks stay row-major so that each arrives in one DMA of long rows.
  const int64_t c_block = plan.chunk_m * plan.tile_n * acc;

  for (int64_t core = 0; core < chip.core_count(); ++core) {
    const int64_t m0 = (core / plan.grid_n) * plan.block_m,
                  n0 = (core % plan.grid_n) * plan.block_n;
    const int64_t m1 = std::min(shape.m, m0 + plan.block_m),
                  n1 = std::min(shape.n, n0 + plan.block_n);
    if (m0 >= m1 || n0 >= n1) continue;
    Emitter& e = cores.at(static_cast<size_t>(core));
    for (int64_t j = 0; j < plan.b_slots; ++j) e.emit(Opcode::SEM_SIGNAL, {kSemBFree + j, 1});
    if (!a_fp32)
      for (int64_t p = 0; p < plan.a_slots; ++p) e.emit(Opcode::SEM_SIGNAL, {kSemAFree + p, 1});
    // The block's bias values, loaded once; a copy onto itself waits for them, so that the VPU,
    // which runs in order, holds every later addition behind the load.
    if (epilogue && epilogue->bias) {
      const int64_t bytes = (n1 - n0) * 4;
      e.dma(Opcode::DMA_LOAD, sram.bias, *epilogue->bias + n0 * 4, 1, bytes, bytes, kNone,
            kSemBiasLoaded);
      e.emit(Opcode::VPU_MOV, {e.reg(0, sram.bias), e.reg(1, sram.bias), e.reg(2, n1 - n0),
                               static_cast<int64_t>(DataType::FP32), kSemBiasLoaded, kNone});
    }

    struct Chunk {
      int64_t m, n, k, mlen, nlen, klen;
    };
    std::vector<Chunk> chunks;
    for (int64_t mc = m0; mc < m1; mc += plan.chunk_m)
      for (int64_t nc = n0; nc < n1; nc += plan.chunk_n)
        for (int64_t kc = 0; kc < shape.k; kc += plan.chunk_k)
          chunks.push_back({mc, nc, kc, std::min(plan.chunk_m, m1 - mc),
                            std::min(plan.chunk_n, n1 - nc), std::min(plan.chunk_k, shape.k - kc)});

    auto load_a = [&](size_t i) {
      const Chunk& c = chunks[i];
      const int64_t slot = static_cast<int64_t>(i) % plan.a_slots;
      e.dma(Opcode::DMA_LOAD, sram.a + slot * sram.a_slot, layout.a + c.m * a_pitch + c.k * in,
            c.mlen, c.klen * in, a_pitch, kSemAFree + slot, kSemAFull + slot);
    };
    if (a_fp32) {
      // The core's rows of A, whole, converted once; the first matmul waits for the conversion
      // (kSemAFull + 1), while the weight loads below start at once.
      e.dma(Opcode::DMA_LOAD, sram.a, layout.a + m0 * a_pitch, m1 - m0, shape.k * 4, a_pitch, kNone,
            kSemAFull);
      e.emit(Opcode::VPU_CVT,
             {e.reg(0, static_cast<int64_t>(a_bf16)), e.reg(1, static_cast<int64_t>(sram.a)),
              e.reg(2, (m1 - m0) * shape.k), static_cast<int64_t>(DataType::FP32),
              static_cast<int64_t>(DataType::BF16), kSemAFull, kSemAFull + 1});
    } else {
      load_a(0);
    }
    int64_t tile_count = 0;
    int64_t stores_pending = 0;  // accumulator stores the next chunk must wait for
    int64_t deferred_a_free = kNone;
    for (size_t i = 0; i < chunks.size(); ++i) {
      const Chunk& c = chunks[i];
      const int64_t a_slot = static_cast<int64_t>(i) % plan.a_slots;
      const bool first_k = c.k == 0, last_k = c.k + c.klen >= shape.k;
      const int64_t kts = ceil_div(c.klen, plan.tile_k), nts = ceil_div(c.nlen, plan.tile_n);
      // With two or more A buffers the next chunk's A loads while this chunk computes. With one,
      // its load waits for this chunk's last matmul to free the buffer, so it goes after this
      // chunk's weight loads in the in-order DMA queue (before them it would block them).
      const bool prefetch_a = !a_fp32 && i + 1 < chunks.size();
      if (prefetch_a && plan.a_slots > 1) load_a(i + 1);
      if (first_k && stores_pending > 0) {
        e.emit(Opcode::SEM_WAIT, {kSemCFree, stores_pending});  // the accumulator is stored
        // The previous accumulator's last matmul signalled its stores instead of freeing its A
        // buffer; the stores having finished prove that matmul done, so free the buffer now.
        if (!a_fp32) e.emit(Opcode::SEM_SIGNAL, {deferred_a_free, 1});
        stores_pending = 0;
      }
      // The chunk that completes the accumulator runs column by column (all k-tiles of one tile
      // column, then the next), so each column can be stored while later columns still compute;
      // only the last column's store is left after the MXU finishes. Each column's last matmul
      // signals kSemCDone; the MXU completes in order, so the j-th store to take a signal finds
      // column j done. A column's store is emitted after the next column's tiles, so that it
      // does not hold those weight loads back in the in-order DMA queue.
      auto store_column = [&](int64_t nt) {
        const int64_t nlen = std::min(plan.tile_n, c.nlen - nt * plan.tile_n);
        const uint64_t tile = sram.c + nt * c_block;
        int64_t ready = kSemCDone;
        if (epilogue) {
          // In place on the tile (mlen rows of nlen values); the last step frees the store.
          const size_t steps = epilogue->activation.size() + (epilogue->bias ? 1 : 0);
          size_t step = 0;
          const auto wait_signal = [&]() -> std::pair<int64_t, int64_t> {
            ++step;
            return {step == 1 ? kSemCDone : kNone, step == steps ? kSemCReady : kNone};
          };
          if (epilogue->bias) {
            const auto [wait, signal] = wait_signal();
            e.emit(Opcode::VPU_ADDB,
                   {e.reg(0, tile), e.reg(1, tile),
                    e.reg(2, sram.bias + (c.n - n0 + nt * plan.tile_n) * 4), e.reg(3, c.mlen),
                    e.reg(4, nlen), static_cast<int64_t>(DataType::FP32), wait, signal});
          }
          for (const GemmEpilogue::Step& a : epilogue->activation) {
            const auto [wait, signal] = wait_signal();
            emit_in_place(e, a, tile, c.mlen * nlen, wait, signal);
          }
          if (steps > 0) ready = kSemCReady;
        }
        e.dma(Opcode::DMA_STORE, layout.c + (c.m * shape.n + c.n + nt * plan.tile_n) * acc, tile,
              c.mlen, nlen * acc, shape.n * acc, ready, kSemCFree);
      };
      // Column by column (all K tiles of one tile column, then the next) in the chunk that
      // completes the accumulator, so it can store each column while later columns still
      // compute, and wherever the core streams weights (at most one tile height of rows): the K
      // tiles of a column lie back to back in the packed layout, so successive loads read
      // neighbouring HBM rows and a weight buffer of several tiles arrives in one DMA. Other
      // chunks go K tile by K tile (every column of one K tile, then the next).
      const bool by_column = last_k || plan.block_m <= plan.tile_k;
      const int64_t outer = by_column ? nts : kts, inner = by_column ? kts : nts;
      int64_t slot = 0, group_left = 0, sub = 0;
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t in_i = 0; in_i < inner; ++in_i) {
          const int64_t kt = by_column ? in_i : o, nt = by_column ? o : in_i;
          const int64_t nlen = std::min(plan.tile_n, c.nlen - nt * plan.tile_n);
          const int64_t ntg = (c.n + nt * plan.tile_n) / plan.tile_n;
          const int64_t klen = std::min(plan.tile_k, c.klen - kt * plan.tile_k);
          const int64_t ktg = (c.k + kt * plan.tile_k) / plan.tile_k;
          const int64_t tile_bytes = klen * nlen * in;
          const bool first_in_buffer = group_left == 0;
          if (first_in_buffer) {
            // Packed tiles of full size are whole tile slots apart in HBM: up to tiles_per_slot
            // of them arrive in one DMA and lie in the weight buffer as in HBM.
            int64_t group = 1;
            if (by_column && layout.b_row_pitch == 0 && tile_bytes == tile_slot_bytes)
              while (group < plan.tiles_per_slot && kt + group < kts &&
                     c.klen - (kt + group) * plan.tile_k >= plan.tile_k)
                ++group;
            slot = tile_count++ % plan.b_slots;
            if (layout.b_row_pitch == 0)
              e.dma(Opcode::DMA_LOAD, sram.b + slot * sram.b_slot,
                    layout.b + (ntg * k_tiles + ktg) * tile_slot_bytes, 1, group * tile_bytes,
                    group * tile_bytes, kSemBFree + slot, kSemBFull + slot);
            else
              e.dma(Opcode::DMA_LOAD, sram.b + slot * sram.b_slot,
                    layout.b + ktg * plan.tile_k * layout.b_row_pitch + ntg * plan.tile_n * in,
                    klen, nlen * in, static_cast<int64_t>(layout.b_row_pitch), kSemBFree + slot,
                    kSemBFull + slot);
            group_left = group;
            sub = 0;
          }
          --group_left;
          // The buffer's first tile waits for its DMA; its last frees it.
          e.emit(Opcode::MXU_LOAD,
                 {e.reg(0, sram.b + slot * sram.b_slot + sub * tile_slot_bytes), e.reg(1, klen),
                  e.reg(2, nlen), static_cast<int64_t>(shape.type),
                  first_in_buffer ? kSemBFull + slot : kNone,
                  group_left == 0 ? kSemBFree + slot : kNone});
          ++sub;
          const bool first_tile = o == 0 && in_i == 0,
                     last_tile = o == outer - 1 && in_i == inner - 1;
          int64_t signal = kNone;
          if (last_k && kt == kts - 1)
            signal = kSemCDone;
          else if (last_tile && !a_fp32)
            signal = kSemAFree + a_slot;
          const int64_t a_at =
              a_fp32 ? static_cast<int64_t>(a_bf16) + ((c.m - m0) * shape.k + c.k) * in +
                           kt * plan.tile_k * in
                     : static_cast<int64_t>(sram.a + a_slot * sram.a_slot) + kt * plan.tile_k * in;
          int64_t wait = kNone;
          if (first_tile) wait = a_fp32 ? (i == 0 ? kSemAFull + 1 : kNone) : kSemAFull + a_slot;
          e.emit(Opcode::MXU_MATMUL,
                 {e.reg(0, sram.c + nt * c_block), e.reg(1, a_at), e.reg(2, c.mlen),
                  e.reg(3, (a_fp32 ? shape.k : c.klen) * in), e.reg(4, nlen * acc),
                  (first_k && kt == 0) ? 0 : 1, static_cast<int64_t>(shape.type),
                  static_cast<int64_t>(acc_type), wait, signal});
        }
        if (last_k && o > 0) store_column(o - 1);
      }
      if (last_k) {
        store_column(nts - 1);
        stores_pending = nts;
        deferred_a_free = kSemAFree + a_slot;
      }
      if (prefetch_a && plan.a_slots == 1) load_a(i + 1);
    }
    // Leave every semaphore at zero for the next kernel: the last accumulator's stores, then the
    // buffer credits, which also proves every load and matmul finished.
    if (stores_pending > 0) {
      e.emit(Opcode::SEM_WAIT, {kSemCFree, stores_pending});
      if (!a_fp32) e.emit(Opcode::SEM_SIGNAL, {deferred_a_free, 1});
    }
    if (!a_fp32)
      for (int64_t p = 0; p < plan.a_slots; ++p) e.emit(Opcode::SEM_WAIT, {kSemAFree + p, 1});
    for (int64_t j = 0; j < plan.b_slots; ++j) e.emit(Opcode::SEM_WAIT, {kSemBFree + j, 1});
  }
}

int64_t plan_k_splits(const ChipConfig& chip, const GemmShape& shape) {
  const int64_t cores = chip.core_count();
  const int64_t tile_k = std::min<int64_t>(chip.mxu.rows, shape.k);
  const int64_t in = dtype_bytes(shape.type), acc = dtype_bytes(gemm_accumulator(shape.type));
  int64_t best = 1;
  double best_bytes = std::numeric_limits<double>::max(), unsplit_weights = 0;
  for (int64_t splits = 1; splits <= cores; ++splits) {
    if (cores % splits || shape.k % (splits * tile_k)) continue;
    ChipConfig group = chip;
    group.core.mesh_x = cores / splits;
    group.core.mesh_y = 1;
    const GemmShape slice{shape.m, shape.n, shape.k / splits, shape.type};
    const GemmPlan p = plan_gemm(group, slice);
    // Each weight tile is loaded once per chunk of rows, each A chunk once per chunk of columns.
    const double weights =
        static_cast<double>(ceil_div(p.block_m, p.chunk_m) * slice.k * p.block_n * in);
    const double a = static_cast<double>(ceil_div(p.block_n, p.chunk_n) * p.block_m * slice.k * in);
    if (splits == 1) unsplit_weights = weights;
    // A split pays an extra pass and barrier that bytes do not count: it must give idle cores
    // weight tiles, not only shorten the busiest core's A slice.
    if (splits > 1 && weights >= unsplit_weights) continue;
    // The partials are written, read back and summed into C, spread over every core.
    const double partials = splits > 1
                                ? static_cast<double>((2 * splits + 1) * shape.m * shape.n * acc) /
                                      static_cast<double>(cores)
                                : 0;
    const double bytes = weights + a + partials;
    if (bytes < best_bytes) {
      best_bytes = bytes;
      best = splits;
    }
  }
  return best;
}

isa::Program generate_gemm(const ChipConfig& chip, const GemmShape& shape, const GemmPlan& plan) {
  std::vector<std::vector<isa::Instruction>> code(static_cast<size_t>(chip.core_count()));
  std::vector<Emitter> cores;
  for (auto& c : code) cores.emplace_back(c);
  emit_gemm(chip, shape, plan, plan.layout, cores);
  isa::Program program;
  for (size_t core = 0; core < code.size(); ++core) {
    if (code[core].empty()) continue;
    cores[core].emit(Opcode::HALT, {});
    program.sections.push_back({{static_cast<int>(core)}, std::move(code[core])});
  }
  return program;
}

std::vector<uint8_t> pack_gemm_weights(const GemmShape& shape, const GemmPlan& plan,
                                       const uint8_t* b) {
  const int64_t in = dtype_bytes(shape.type);
  const int64_t k_tiles = ceil_div(shape.k, plan.tile_k), n_tiles = ceil_div(shape.n, plan.tile_n);
  const int64_t slot = plan.tile_k * plan.tile_n * in;
  std::vector<uint8_t> packed(k_tiles * n_tiles * slot, 0);
  for (int64_t nt = 0; nt < n_tiles; ++nt)
    for (int64_t kt = 0; kt < k_tiles; ++kt) {
      const int64_t klen = std::min(plan.tile_k, shape.k - kt * plan.tile_k);
      const int64_t nlen = std::min(plan.tile_n, shape.n - nt * plan.tile_n);
      uint8_t* dst = packed.data() + (nt * k_tiles + kt) * slot;
      for (int64_t r = 0; r < klen; ++r)
        std::memcpy(dst + r * nlen * in,
                    b + ((kt * plan.tile_k + r) * shape.n + nt * plan.tile_n) * in, nlen * in);
    }
  return packed;
}

}  // namespace seedchip::compiler
