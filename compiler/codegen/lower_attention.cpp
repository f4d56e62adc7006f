// seedchip::Attention (passes/fuse.h) as one flash-attention kernel. The work is a list of tasks,
// each a tile of query rows of one batch item (its batch and K/V head indices) against a range of
// context columns; tasks go round-robin to the cores. A task keeps its Q tile, split into BF16
// parts, in SRAM and walks its K/V columns in blocks of one MXU tile: S = Q K on the MXU, then on
// the VPU the scale, the mask, the running row maximum m, P = exp(S - m), the running row sum l and
// the rescale of the accumulator by exp(m_old - m); then O += P V on the MXU. At the end O / l is
// stored: the scores never leave SRAM. DMA loads the next block while the MXU and VPU work on this
// one (two buffer sets), and the next block's K/V split runs on the VPU beside this block's P V.
//
// When the batch items and query tiles are fewer than the cores (decode), the context is split
// over several tasks of the same rows, each storing its unnormalised O_s, m_s and l_s to scratch;
// after a barrier a stream kernel combines them: O = sum_s w_s O_s / sum_s w_s l_s with
// w_s = exp(m_s - max m).
//
// FP32 operands are split into BF16 parts as lower_matmul.cpp splits them (the same pairs of parts
// for --matmul-precision), BF16 K or V (a KV cache stored in BF16) are used as they are with one
// part of the other operand. The online softmax sums in another order than Softmax does, so the
// results agree with the unfused operators to FP32 rounding, not bit for bit.
#include <algorithm>
#include <bit>
#include <limits>
#include <string>
#include <vector>

#include "compiler/codegen/lowering.h"

namespace seedchip::compiler {

namespace {

using isa::Opcode;

constexpr int64_t kNone = isa::kNoSemaphore;
constexpr int64_t kAlign = 256;
// Semaphores: per DMA buffer set, loads arrived and buffer free; the MXU/VPU hand-offs; per task
// parity, outputs stored; the constants loaded at the start.
constexpr int64_t kSemLoaded = 0;  // + set
constexpr int64_t kSemFree = 2;    // + set
constexpr int64_t kSemToMxu = 4;
constexpr int64_t kSemToVpu = 5;
constexpr int64_t kSemToStore = 6;
constexpr int64_t kSemStored = 7;  // + task parity
constexpr int64_t kSemInit = 9;

int64_t align(int64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

// One product's parts: pairs (a part, b part) and how many parts of each side it reads. A BF16
// B is its own single part, met by A's first part only.
struct Parts {
  std::vector<PartPair> pairs;
  int a = 1, b = 1;
  bool split_b = false;
};

Parts parts_for(MatmulPrecision p, bool b_is_bf16) {
  Parts r;
  if (b_is_bf16) {
    r.pairs = {{0, 0}};
    return r;
  }
  r.pairs = part_pairs(p);
  r.split_b = true;
  for (const PartPair& q : r.pairs) {
    r.a = std::max(r.a, q.a + 1);
    r.b = std::max(r.b, q.b + 1);
  }
  return r;
}

// A batch item's 2D block of a view whose leading dims are the batch dims: rows [r0, r0 + rows)
// and columns [c0, c0 + cols) of its last two dims.
TensorView block(const TensorView& v, const std::vector<int64_t>& batch, int64_t item, int64_t r0,
                 int64_t rows, int64_t c0, int64_t cols) {
  const size_t nb = batch.size();
  int64_t offset = r0 * v.strides[nb] + c0 * v.strides[nb + 1];
  for (size_t d = nb; d-- > 0;) {
    offset += (item % batch[d]) * v.strides[d];
    item /= batch[d];
  }
  return TensorView{v.base + offset * v.element_bytes,
                    v.element_bytes,
                    {rows, cols},
                    {v.strides[nb], v.strides[nb + 1]}};
}

// A unit of work: query rows [r0, r0 + rows) of batch item `item` against context columns
// [c0, c1), the `split`-th range of its rows.
struct Task {
  int64_t item, r0, rows, c0, c1, split;
};

// SRAM of one core, in bytes from 0 (each operator starts on an idle core).
struct Sram {
  int64_t qstage[2], kstage[2], vstage[2], cstage[2], astage[2];  // per DMA buffer set
  int64_t qparts, kparts, vparts[2], s, pparts, cond, neg_inf, floor, alpha, row, tmp[3];
  int64_t o[2], m[2], l[2];  // per task parity
  int64_t q_part_bytes, k_part_bytes, v_part_bytes, p_part_bytes, v_tile;
  int64_t total = 0;
};

struct Shape {
  int64_t rows_per_task, block, tile, hd, tiles;
  int64_t k_bytes, v_bytes;
  Parts qk, pv;
  bool where, add;
};

Sram lay_out(const Shape& s) {
  Sram m{};
  int64_t at = 0;
  auto take = [&](int64_t bytes) {
    const int64_t here = at;
    at += align(std::max<int64_t>(bytes, 1));
    return here;
  };
  const int64_t mt = s.rows_per_task, bk = s.block, hd = s.hd;
  m.v_tile = bk * s.tile;
  m.q_part_bytes = align(mt * hd * 2);
  m.k_part_bytes = align(hd * bk * 2);
  m.v_part_bytes = align(s.tiles * m.v_tile * 2);
  m.p_part_bytes = align(mt * bk * 2);
  for (int set = 0; set < 2; ++set) {
    m.qstage[set] = take(mt * hd * 4);
    m.kstage[set] = take(hd * bk * s.k_bytes);
    m.vstage[set] = take(s.tiles * m.v_tile * s.v_bytes);
    m.cstage[set] = take(s.where ? mt * bk : 0);
    m.astage[set] = take(s.add ? mt * bk * 4 : 0);
  }
  m.qparts = take(s.qk.a * m.q_part_bytes);
  m.kparts = take(s.qk.split_b ? s.qk.b * m.k_part_bytes : 0);
  for (int set = 0; set < 2; ++set)
    m.vparts[set] = take(s.pv.split_b ? s.pv.b * m.v_part_bytes : 0);
  m.s = take(mt * bk * 4);
  m.pparts = take(s.pv.a * m.p_part_bytes);
  m.cond = take(s.where ? mt * bk * 4 : 0);
  m.neg_inf = take(s.where ? mt * bk * 4 : 0);
  m.floor = take(mt * 4);
  m.alpha = take(mt * 4);
  m.row = take(mt * 4);
  const int64_t largest = std::max({mt * hd, hd * bk, mt * bk, s.tiles * m.v_tile});
  for (int64_t& t : m.tmp) t = take(largest * 4);
  for (int p = 0; p < 2; ++p) {
    m.o[p] = take(mt * hd * 4);
    m.m[p] = take(mt * 4);
    m.l[p] = take(mt * 4);
  }
  m.total = at;
  return m;
}

// Instructions of one core's share. VPU instructions are held back by one, so that the last of a
// run can be given the semaphore that hands its results to another unit (signal_last).
class CoreCode {
 public:
  explicit CoreCode(Emitter& e) : e_(e) {}
  ~CoreCode() { flush(); }
  CoreCode(const CoreCode&) = delete;
  CoreCode& operator=(const CoreCode&) = delete;

  // dst (n elements) = op(a, b) for the elementwise opcodes that take two operands.
  void binary(Opcode op, int64_t d, int64_t a, int64_t b, int64_t n, int64_t wait = kNone) {
    flush();
    hold(op, {e_.reg(0, d), e_.reg(1, a), e_.reg(2, b), e_.reg(3, n), fp32(), wait, kNone});
  }
  void unary(Opcode op, int64_t d, int64_t a, int64_t n, int64_t wait = kNone) {
    flush();
    hold(op, {e_.reg(0, d), e_.reg(1, a), e_.reg(3, n), fp32(), wait, kNone});
  }
  void scale(int64_t d, int64_t a, int64_t n, float c, int64_t wait) {
    flush();
    hold(Opcode::VPU_MULS, {e_.reg(0, d), e_.reg(1, a), e_.reg(3, n),
                            static_cast<int64_t>(std::bit_cast<uint32_t>(c)), fp32(), wait, kNone});
  }
  void cvt(int64_t d, int64_t a, int64_t n, DataType from, DataType to) {
    flush();
    hold(Opcode::VPU_CVT, {e_.reg(0, d), e_.reg(1, a), e_.reg(3, n), static_cast<int64_t>(from),
                           static_cast<int64_t>(to), kNone, kNone});
  }
  // Row reductions into narrow d, or column broadcasts of narrow v, over rows x cols of a.
  void reduce(Opcode op, int64_t d, int64_t a, int64_t rows, int64_t cols) {
    flush();
    hold(op, {e_.reg(0, d), e_.reg(1, a), e_.reg(4, rows), e_.reg(6, cols), fp32(), kNone, kNone});
  }
  void by_row(Opcode op, int64_t d, int64_t a, int64_t v, int64_t rows, int64_t cols,
              int64_t wait = kNone) {
    flush();
    hold(op, {e_.reg(0, d), e_.reg(1, a), e_.reg(2, v), e_.reg(4, rows), e_.reg(6, cols), fp32(),
              wait, kNone});
  }
  void select(int64_t d, int64_t a, int64_t b, int64_t m, int64_t n) {
    flush();
    hold(Opcode::VPU_SEL, {e_.reg(0, d), e_.reg(1, a), e_.reg(2, b), e_.reg(5, m), e_.reg(3, n),
                           fp32(), kNone, kNone});
  }
  // BF16 parts of n f32 elements at src: part i at parts + i x stride (as lower_matmul.cpp's
  // emit_split: round to nearest even, subtract in FP32).
  void split(int64_t src, int64_t n, int count, int64_t parts, int64_t stride,
             const int64_t (&tmp)[3]) {
    int64_t rest = src;
    for (int i = 0; i < count; ++i) {
      cvt(parts + i * stride, rest, n, DataType::FP32, DataType::BF16);
      if (i + 1 < count) {
        cvt(tmp[0], parts + i * stride, n, DataType::BF16, DataType::FP32);
        const int64_t next = tmp[1 + i % 2];
        binary(Opcode::VPU_SUB, next, rest, tmp[0], n);
        rest = next;
      }
    }
  }
  // Whether a VPU instruction is held, and giving it the semaphore to signal on completion.
  bool holding() const { return held_; }
  void signal_last(int64_t sem) {
    inst_.operands[static_cast<size_t>(isa::info(inst_.op).index_of("signal"))] = sem;
    flush();
  }

  void mxu_load(int64_t w, int64_t k, int64_t n, int64_t wait) {
    flush();
    e_.emit(Opcode::MXU_LOAD, {e_.reg(0, w), e_.reg(1, k), e_.reg(2, n),
                               static_cast<int64_t>(DataType::BF16), wait, kNone});
  }
  void mxu_matmul(int64_t out, int64_t in, int64_t m, int64_t in_stride, int64_t out_stride,
                  bool acc, int64_t signal) {
    flush();
    e_.emit(Opcode::MXU_MATMUL, {e_.reg(0, out), e_.reg(1, in), e_.reg(2, m), e_.reg(3, in_stride),
                                 e_.reg(4, out_stride), acc ? 1 : 0,
                                 static_cast<int64_t>(DataType::BF16), fp32(), kNone, signal});
  }
  // The DMA runs of a 2D view to or from packed SRAM; the first waits `wait` (the DMA queue
  // starts transfers in order, so the others follow it), each signals `signal`. Returns the
  // number of runs.
  int64_t transfer(Opcode op, const TensorView& v, int64_t sram, int64_t wait, int64_t signal) {
    flush();
    int64_t runs = 0;
    for (const DmaRun& r : plan_transfer(v, 0, v.element_count(), op == Opcode::DMA_STORE)) {
      const int64_t w = runs ? kNone : wait;
      if (op == Opcode::DMA_STORE)
        e_.dma(op, r.hbm, sram + r.sram_offset, r.rows, r.row_bytes, r.stride, w, signal);
      else
        e_.dma(op, sram + r.sram_offset, r.hbm, r.rows, r.row_bytes, r.stride, w, signal);
      ++runs;
    }
    return runs;
  }
  void sem_wait(int64_t sem, int64_t count) {
    flush();
    wait_semaphore(e_, sem, count);
  }
  void sem_signal(int64_t sem) {
    flush();
    e_.emit(Opcode::SEM_SIGNAL, {sem, 1});
  }

 private:
  static int64_t fp32() { return static_cast<int64_t>(DataType::FP32); }
  void hold(Opcode op, std::initializer_list<int64_t> operands) {
    inst_ = {};
    inst_.op = op;
    std::copy(operands.begin(), operands.end(), inst_.operands.begin());
    held_ = true;
  }
  void flush() {
    if (held_) e_.emit(inst_);
    held_ = false;
  }

  Emitter& e_;
  isa::Instruction inst_;
  bool held_ = false;
};

// O from the split contexts' unnormalised O_s, m_s and l_s: with w_s = exp(m_s - max m),
// O = sum_s w_s O_s / sum_s w_s l_s.
void combine(OpContext& ctx, int64_t splits, int64_t all_rows, int64_t hd, int64_t partial_o,
             int64_t partial_m, int64_t partial_l, const TensorView& out) {
  ctx.sync();
  StreamKernel k;
  k.rows = all_rows;
  k.width = hd;
  auto slot = [&](SlotShape shape) {
    k.slots.push_back({4, shape});
    return static_cast<int>(k.slots.size()) - 1;
  };
  auto step = [&](Opcode op, int dst, int a, int b = -1) {
    k.steps.push_back({op, dst, a, b, 0, DataType::FP32, DataType::FP32});
  };
  std::vector<int> o, m, l;
  for (int64_t s = 0; s < splits; ++s) {
    o.push_back(slot(SlotShape::kWide));
    m.push_back(slot(SlotShape::kNarrow));
    l.push_back(slot(SlotShape::kNarrow));
    k.loads.push_back(
        {o.back(), TensorView::contiguous(partial_o + s * all_rows * hd * 4, 4, {all_rows, hd})});
    k.loads.push_back(
        {m.back(), TensorView::contiguous(partial_m + s * all_rows * 4, 4, {all_rows})});
    k.loads.push_back(
        {l.back(), TensorView::contiguous(partial_l + s * all_rows * 4, 4, {all_rows})});
  }
  const int top = slot(SlotShape::kNarrow), total = slot(SlotShape::kNarrow);
  const int sum = slot(SlotShape::kWide), term = slot(SlotShape::kWide);
  step(Opcode::VPU_MOV, top, m[0]);
  for (int64_t s = 1; s < splits; ++s) step(Opcode::VPU_MAX, top, top, m[static_cast<size_t>(s)]);
  for (int64_t s = 0; s < splits; ++s) {
    const auto u = static_cast<size_t>(s);
    step(Opcode::VPU_SUB, m[u], m[u], top);  // m_s becomes w_s
    step(Opcode::VPU_EXP, m[u], m[u]);
    step(Opcode::VPU_MUL, l[u], l[u], m[u]);
    if (s == 0) {
      step(Opcode::VPU_MOV, total, l[u]);
      step(Opcode::VPU_MULC, sum, o[u], m[u]);
    } else {
      step(Opcode::VPU_ADD, total, total, l[u]);
      step(Opcode::VPU_MULC, term, o[u], m[u]);
      step(Opcode::VPU_ADD, sum, sum, term);
    }
  }
  step(Opcode::VPU_RECIP, total, total);
  step(Opcode::VPU_MULC, sum, sum, total);
  k.stores.push_back({sum, out.reshaped({all_rows, hd})});
  ctx.emit(k);
}

}  // namespace

void lower_attention(OpContext& ctx) {
  const std::string mask = ctx.attr_string("mask", "none");
  const bool where = mask == "where" || mask == "where_add";
  const bool add = mask == "add" || mask == "where_add";
  if (!where && !add && mask != "none") ctx.unsupported("unknown mask kind '" + mask + "'");
  const float scale = ctx.attr_float("scale", 1.0f);
  size_t next_input = 3;
  const ir::ValueId q_id = ctx.in(0), k_id = ctx.in(1), v_id = ctx.in(2), out_id = ctx.out(0);
  const ir::ValueId cond_id = where ? ctx.in(next_input++) : ir::kNoValue;
  const ir::ValueId add_id = add ? ctx.in(next_input++) : ir::kNoValue;
  using ir::ElementType;
  const auto is = [&](ir::ValueId v, std::initializer_list<ElementType> types) {
    return v != ir::kNoValue &&
           std::find(types.begin(), types.end(), ctx.type(v).element) != types.end();
  };
  if (!is(q_id, {ElementType::F32}) || !is(out_id, {ElementType::F32}) ||
      !is(k_id, {ElementType::F32, ElementType::BF16}) ||
      !is(v_id, {ElementType::F32, ElementType::BF16}) ||
      (where && !is(cond_id, {ElementType::Bool})) || (add && !is(add_id, {ElementType::F32})))
    ctx.unsupported("Attention takes f32 Q (and mask), f32 or bf16 K and V, a bool condition");

  const std::vector<int64_t>& out_dims = ctx.dims(out_id);
  const size_t rank = out_dims.size();
  if (rank < 2) ctx.unsupported("Attention needs [..., rows, head_dim] tensors");
  const std::vector<int64_t> batch(out_dims.begin(), out_dims.end() - 2);
  const int64_t rows = out_dims[rank - 2], hd = out_dims[rank - 1];
  const int64_t len = ctx.dims(k_id).back();
  if (ctx.dims(q_id).back() != hd)
    ctx.unsupported("Q's and V's head_dim differ; the kernel keeps one for both products");
  const int64_t items = product_of(batch, 0, batch.size());
  if (rows == 0 || hd == 0 || items == 0) return;
  if (len == 0) ctx.unsupported("Attention over an empty context");
  auto with = [&](int64_t a, int64_t b) {
    std::vector<int64_t> d = batch;
    d.insert(d.end(), {a, b});
    return d;
  };
  const TensorView q = ctx.view(q_id).broadcast_to(with(rows, hd));
  const TensorView k = ctx.view(k_id).broadcast_to(with(hd, len));
  const std::vector<int64_t> v_perm = ctx.attr_ints("v_perm");
  TensorView v_stored = ctx.view(v_id);
  if (!v_perm.empty()) {
    if (v_perm.size() != v_stored.dims.size()) ctx.unsupported("v_perm does not match V's rank");
    v_stored = v_stored.permuted(v_perm);
  }
  const TensorView v = v_stored.broadcast_to(with(len, hd));
  const TensorView out = ctx.view(out_id);
  const TensorView cond = where ? ctx.view(cond_id).broadcast_to(with(rows, len)) : TensorView{};
  const TensorView additive = add ? ctx.view(add_id).broadcast_to(with(rows, len)) : TensorView{};

  if ((ctx.type(k_id).element == ElementType::BF16 ||
       ctx.type(v_id).element == ElementType::BF16) &&
      ctx.options.matmul_precision != MatmulPrecision::kBf16)
    ctx.unsupported("a bf16 K or V needs --matmul-precision bf16, as MatMul's bf16 B does");
  Shape shape;
  shape.tile = std::min(ctx.chip.mxu.rows, ctx.chip.mxu.cols);
  shape.block = std::min(shape.tile, len);
  shape.hd = hd;
  shape.tiles = ceil_div(hd, shape.tile);
  shape.k_bytes = ctx.type(k_id).element == ElementType::BF16 ? 2 : 4;
  shape.v_bytes = ctx.type(v_id).element == ElementType::BF16 ? 2 : 4;
  shape.qk = parts_for(ctx.options.matmul_precision, shape.k_bytes == 2);
  shape.pv = parts_for(ctx.options.matmul_precision, shape.v_bytes == 2);
  shape.where = where;
  shape.add = add;

  // Query rows per task: as many as fit the SRAM, then fewer tiles of at least one MXU tile's
  // rows when that gives idle cores work.
  const int64_t cores = ctx.chip.core_count();
  int64_t fit = rows;
  for (;;) {
    shape.rows_per_task = fit;
    if (lay_out(shape).total <= ctx.chip.sram.bytes) break;
    if (fit == 1)
      ctx.unsupported("one query row of head_dim " + std::to_string(hd) + " does not fit the SRAM");
    fit = ceil_div(fit, 2);
  }
  int64_t row_tiles = ceil_div(rows, fit);
  if (items * row_tiles < cores)
    row_tiles = std::max(row_tiles, std::min(ceil_div(cores, items), rows / shape.tile));
  shape.rows_per_task = ceil_div(rows, row_tiles);
  row_tiles = ceil_div(rows, shape.rows_per_task);
  const Sram sram = lay_out(shape);
  // Context splits give the remaining cores work; each split is whole blocks.
  const int64_t blocks = ceil_div(len, shape.block);
  const int64_t wanted_splits =
      items * row_tiles < cores ? std::min(ceil_div(cores, items * row_tiles), blocks) : 1;
  const int64_t blocks_per_split = ceil_div(blocks, wanted_splits);
  const int64_t splits = ceil_div(blocks, blocks_per_split);  // none left empty

  std::vector<Task> tasks;
  for (int64_t it = 0; it < items; ++it)
    for (int64_t rt = 0; rt < row_tiles; ++rt) {
      const int64_t r0 = rt * shape.rows_per_task;
      const int64_t n = std::min(shape.rows_per_task, rows - r0);
      for (int64_t s = 0; s < splits; ++s) {
        const int64_t c0 = s * blocks_per_split * shape.block;
        tasks.push_back({it, r0, n, c0, std::min(len, c0 + blocks_per_split * shape.block), s});
      }
    }
  const int64_t all_rows = items * rows;
  // Partial results of split contexts: [splits, all_rows, hd] and [splits, all_rows] twice.
  const int64_t partial_o = splits > 1 ? ctx.scratch(splits * all_rows * hd * 4) : 0;
  const int64_t partial_m = splits > 1 ? ctx.scratch(splits * all_rows * 4) : 0;
  const int64_t partial_l = splits > 1 ? ctx.scratch(splits * all_rows * 4) : 0;
  const int64_t mt = shape.rows_per_task;
  const TensorView neg_inf_row =
      ctx.scalar_view(-std::numeric_limits<float>::infinity(), {mt * shape.block});
  // The running maximum starts at the lowest finite value, so that a block whose row is all
  // masked gives exp(-inf - m) = 0 rather than exp(-inf + inf).
  const TensorView floor_row = ctx.scalar_view(std::numeric_limits<float>::lowest(), {mt});

  const int64_t tile = shape.tile, hd_tiles = shape.tiles;
  for (int64_t core = 0; core < cores; ++core) {
    std::vector<Task> mine;
    for (size_t t = static_cast<size_t>(core); t < tasks.size(); t += static_cast<size_t>(cores))
      mine.push_back(tasks[t]);
    if (mine.empty()) continue;
    CoreCode c(ctx.program.core(static_cast<int>(core)));
    struct Step {
      size_t task;
      int64_t c0, cols;
      bool first, last;
    };
    std::vector<Step> steps;
    for (size_t t = 0; t < mine.size(); ++t)
      for (int64_t c0 = mine[t].c0; c0 < mine[t].c1; c0 += shape.block)
        steps.push_back({t, c0, std::min(shape.block, mine[t].c1 - c0), c0 == mine[t].c0,
                         c0 + shape.block >= mine[t].c1});

    int64_t init = c.transfer(Opcode::DMA_LOAD, floor_row, sram.floor, kNone, kSemInit);
    if (where) init += c.transfer(Opcode::DMA_LOAD, neg_inf_row, sram.neg_inf, kNone, kSemInit);
    for (int set = 0; set < 2; ++set) c.sem_signal(kSemFree + set);

    std::vector<int64_t> loads(steps.size(), 0);
    auto emit_loads = [&](size_t j) {
      const Step& st = steps[j];
      const Task& t = mine[st.task];
      const int set = static_cast<int>(j % 2);
      int64_t wait = kSemFree + set, n = 0;
      auto load = [&](const TensorView& view, int64_t at) {
        n += c.transfer(Opcode::DMA_LOAD, view, at, wait, kSemLoaded + set);
        wait = kNone;
      };
      if (st.first) load(block(q, batch, t.item, t.r0, t.rows, 0, hd), sram.qstage[set]);
      load(block(k, batch, t.item, 0, hd, st.c0, st.cols), sram.kstage[set]);
      for (int64_t nt = 0; nt < hd_tiles; ++nt)
        load(block(v, batch, t.item, st.c0, st.cols, nt * tile, std::min(tile, hd - nt * tile)),
             sram.vstage[set] + nt * sram.v_tile * shape.v_bytes);
      if (where) load(block(cond, batch, t.item, t.r0, t.rows, st.c0, st.cols), sram.cstage[set]);
      if (add) load(block(additive, batch, t.item, t.r0, t.rows, st.c0, st.cols), sram.astage[set]);
      loads[j] = n;
    };

    c.sem_wait(kSemInit, init);
    int64_t stored[2] = {0, 0};
    emit_loads(0);
    for (size_t j = 0; j < steps.size(); ++j) {
      const Step& st = steps[j];
      const Task& t = mine[st.task];
      const int set = static_cast<int>(j % 2);
      const int par = static_cast<int>(st.task % 2);
      const int64_t mr = t.rows, cols = st.cols, scores = mr * cols;
      if (j + 1 < steps.size()) emit_loads(j + 1);
      c.sem_wait(kSemLoaded + set, loads[j]);
      if (st.first) {  // this parity's O, m and l of two tasks ago are stored
        c.sem_wait(kSemStored + par, stored[par]);
        stored[par] = 0;
      }
      // VPU: split Q (a new task) and this block's K and V into BF16 parts. They need no MXU
      // result: the buffers they write were last read by products the VPU has waited for.
      if (st.first)
        c.split(sram.qstage[set], mr * hd, shape.qk.a, sram.qparts, sram.q_part_bytes, sram.tmp);
      if (shape.qk.split_b)
        c.split(sram.kstage[set], hd * cols, shape.qk.b, sram.kparts, sram.k_part_bytes, sram.tmp);
      if (shape.pv.split_b)
        for (int64_t nt = 0; nt < hd_tiles; ++nt)
          c.split(sram.vstage[set] + nt * sram.v_tile * 4, cols * std::min(tile, hd - nt * tile),
                  shape.pv.b, sram.vparts[set] + nt * sram.v_tile * 2, sram.v_part_bytes, sram.tmp);
      int64_t mxu_wait = kNone;
      if (c.holding()) {
        c.signal_last(kSemToMxu);
        mxu_wait = kSemToMxu;
      }
      // MXU: S = Q K, every pair of parts and head_dim tile accumulated in FP32.
      const size_t qk_count = shape.qk.pairs.size() * static_cast<size_t>(hd_tiles);
      size_t i = 0;
      for (const PartPair& p : shape.qk.pairs)
        for (int64_t kt = 0; kt < hd_tiles; ++kt, ++i) {
          const int64_t klen = std::min(tile, hd - kt * tile);
          const int64_t w =
              (shape.qk.split_b ? sram.kparts + p.b * sram.k_part_bytes : sram.kstage[set]) +
              kt * tile * cols * 2;
          c.mxu_load(w, klen, cols, mxu_wait);
          mxu_wait = kNone;
          c.mxu_matmul(sram.s, sram.qparts + p.a * sram.q_part_bytes + kt * tile * 2, mr, hd * 2,
                       cols * 4, i > 0, i + 1 == qk_count ? kSemToVpu : kNone);
        }
      // VPU: scale, mask, online softmax.
      c.scale(sram.s, sram.s, scores, scale, kSemToVpu);
      if (where) {
        c.cvt(sram.cond, sram.cstage[set], scores, DataType::INT8, DataType::FP32);
        c.select(sram.s, sram.s, sram.neg_inf, sram.cond, scores);
      }
      if (add) c.binary(Opcode::VPU_ADD, sram.s, sram.s, sram.astage[set], scores);
      const int64_t m = sram.m[par], l = sram.l[par], o = sram.o[par];
      c.reduce(Opcode::VPU_RMAX, sram.row, sram.s, mr, cols);
      if (st.first) {
        c.binary(Opcode::VPU_MAX, m, sram.row, sram.floor, mr);
      } else {
        c.binary(Opcode::VPU_MAX, sram.row, sram.row, m, mr);
        c.binary(Opcode::VPU_SUB, sram.alpha, m, sram.row, mr);
        c.unary(Opcode::VPU_EXP, sram.alpha, sram.alpha, mr);
        c.unary(Opcode::VPU_MOV, m, sram.row, mr);
      }
      c.by_row(Opcode::VPU_SUBC, sram.s, sram.s, m, mr, cols);
      c.unary(Opcode::VPU_EXP, sram.s, sram.s, scores);
      if (st.first) {
        c.reduce(Opcode::VPU_RSUM, l, sram.s, mr, cols);
      } else {
        c.reduce(Opcode::VPU_RSUM, sram.row, sram.s, mr, cols);
        c.binary(Opcode::VPU_MUL, l, l, sram.alpha, mr);
        c.binary(Opcode::VPU_ADD, l, l, sram.row, mr);
        c.by_row(Opcode::VPU_MULC, o, o, sram.alpha, mr, hd);
      }
      c.split(sram.s, scores, shape.pv.a, sram.pparts, sram.p_part_bytes, sram.tmp);
      c.signal_last(kSemToMxu);
      // MXU: O (+)= P V, tile by tile of head_dim columns. The block's last product frees its
      // DMA buffers, or at a task's end hands O to the VPU, which frees them.
      const size_t pv_count = shape.pv.pairs.size() * static_cast<size_t>(hd_tiles);
      i = 0;
      mxu_wait = kSemToMxu;
      for (int64_t nt = 0; nt < hd_tiles; ++nt) {
        const int64_t nlen = std::min(tile, hd - nt * tile);
        for (size_t pi = 0; pi < shape.pv.pairs.size(); ++pi, ++i) {
          const PartPair& p = shape.pv.pairs[pi];
          const int64_t w =
              (shape.pv.split_b ? sram.vparts[set] + p.b * sram.v_part_bytes : sram.vstage[set]) +
              nt * sram.v_tile * 2;
          c.mxu_load(w, cols, nlen, mxu_wait);
          mxu_wait = kNone;
          const bool last = i + 1 == pv_count;
          c.mxu_matmul(o + nt * tile * 4, sram.pparts + p.a * sram.p_part_bytes, mr, cols * 2,
                       hd * 4, !st.first || pi > 0,
                       last ? (st.last ? kSemToVpu : kSemFree + set) : kNone);
        }
      }
      if (!st.last) continue;
      if (splits == 1) {  // O / l
        c.unary(Opcode::VPU_RECIP, sram.alpha, l, mr, kSemToVpu);
        c.signal_last(kSemFree + set);
        c.by_row(Opcode::VPU_MULC, o, o, sram.alpha, mr, hd);
        c.signal_last(kSemToStore);
      } else {
        // O stays unnormalised: a split whose rows are all masked has l = 0 and O = 0, which the
        // combination weighs by 0, where O / l would be NaN. Two short copies take the product's
        // completion (one signal each) to the DMA buffers and to the stores.
        c.unary(Opcode::VPU_MOV, sram.alpha, l, mr, kSemToVpu);
        c.signal_last(kSemFree + set);
        c.unary(Opcode::VPU_MOV, sram.row, m, mr);
        c.signal_last(kSemToStore);
      }
      const int64_t at = t.item * rows + t.r0;
      if (splits == 1) {
        stored[par] += c.transfer(Opcode::DMA_STORE, block(out, batch, t.item, t.r0, mr, 0, hd), o,
                                  kSemToStore, kSemStored + par);
      } else {
        const int64_t row = t.split * all_rows + at;
        stored[par] += c.transfer(Opcode::DMA_STORE,
                                  TensorView::contiguous(partial_o + row * hd * 4, 4, {mr, hd}), o,
                                  kSemToStore, kSemStored + par);
        stored[par] +=
            c.transfer(Opcode::DMA_STORE, TensorView::contiguous(partial_m + row * 4, 4, {1, mr}),
                       m, kNone, kSemStored + par);
        stored[par] +=
            c.transfer(Opcode::DMA_STORE, TensorView::contiguous(partial_l + row * 4, 4, {1, mr}),
                       l, kNone, kSemStored + par);
      }
    }
    // Every semaphore back at zero: the stores done, the buffer credits returned.
    for (int p = 0; p < 2; ++p) c.sem_wait(kSemStored + p, stored[p]);
    for (int set = 0; set < 2; ++set) c.sem_wait(kSemFree + set, 1);
  }
  if (splits > 1) combine(ctx, splits, all_rows, hd, partial_o, partial_m, partial_l, out);
  ctx.mapping = "flash attention: " + std::to_string(tasks.size()) + " tasks of " +
                std::to_string(mt) + " rows x " + std::to_string(ceil_div(len, splits)) +
                " context in blocks of " + std::to_string(shape.block) +
                (splits > 1 ? ", " + std::to_string(splits) + " context splits combined" : "");
}

}  // namespace seedchip::compiler
