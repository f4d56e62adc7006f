// Operators that read elements named by run-time indices: Gather, GatherElements and GatherND with
// computed indices, OneHot, and the losses that pick each sample's target class
// (NegativeLogLikelihoodLoss, SoftmaxCrossEntropyLoss). Each runs in two phases: an INT32 VPU
// program turns the indices into flat row numbers of the source (normalising negative indices, and
// marking any index that is out of range, or whose i64 high word is not the sign of its low word,
// with -1), then a stream kernel fetches those rows with dma.gather, which stops the chip on the -1
// rather than reading another tensor's memory. ScatterND writes rows the same way with
// dma.scatter, after a copy of its data (skipped when the output is stored over the data).
#include <array>
#include <cstring>
#include <functional>
#include <limits>

#include "compiler/codegen/lowering.h"

namespace seedchip::compiler {

namespace {

using isa::Opcode;

// An INT32 VPU program over `dims` (one element per row), built like the elementwise ones.
class IndexProgram {
 public:
  IndexProgram(OpContext& ctx, std::vector<int64_t> dims) : ctx_(ctx), dims_(std::move(dims)) {
    kernel_.rows = 1;
    for (int64_t d : dims_) kernel_.rows *= d;
  }
  int64_t rows() const { return kernel_.rows; }

  int load(const TensorView& view) {
    const int s = slot(4);
    kernel_.loads.push_back({s, view});
    return s;
  }
  int constant(int32_t value) {
    return load(TensorView{int_constant({value}), 4, dims_, std::vector<int64_t>(dims_.size(), 0)});
  }
  // position along dim d of `dims`, times `coef`, for every element.
  int position(size_t d, int64_t coef) {
    std::vector<int32_t> values(static_cast<size_t>(dims_[d]));
    for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int32_t>(i * coef);
    std::vector<int64_t> strides(dims_.size(), 0);
    strides[d] = 1;
    return load(TensorView{int_constant(values), 4, dims_, strides});
  }
  int binary(Opcode op, int a, int b) { return step({op, slot(4), a, b, 0, kInt, kInt}); }
  int select(int mask, int a, int b) {
    VpuStep s{Opcode::VPU_SEL, slot(4), a, b, 0, kInt, kInt};
    s.m = mask;
    return step(s);
  }
  int to_float(int a) { return step({Opcode::VPU_CVT, slot(4), a, -1, 0, kInt, DataType::FP32}); }
  void store(int s, const TensorView& view) { kernel_.stores.push_back({s, view}); }
  void emit() { ctx_.emit(kernel_); }

  // The index tensor `v` (i64 or i32) read as int32, broadcast to dims through `arrange`, which
  // maps the index tensor's dense view to one over dims. For i64 an index whose
  // high word does not extend its low word's sign is marked in `bad`.
  int index(ir::ValueId v, const std::function<TensorView(TensorView)>& arrange, int& bad) {
    const ir::TensorType& t = ctx_.type(v);
    if (t.element != ir::ElementType::I64 && t.element != ir::ElementType::I32)
      ctx_.unsupported("indices must be i32 or i64");
    const TensorView arranged = arrange(ctx_.view(v));
    if (t.element == ir::ElementType::I32) {
      bad = -1;
      return load(arranged);
    }
    // Little-endian i64: the low word at even int32 positions, the high word after it.
    TensorView low{arranged.base, 4, arranged.dims, arranged.strides};
    for (int64_t& s : low.strides) s *= 2;
    TensorView high = low;
    high.base += 4;
    const int lo = load(low), hi = load(high);
    const int zero = constant(0);
    const int sign = binary(Opcode::VPU_SUB, zero, binary(Opcode::VPU_CMPLT, lo, zero));
    bad = binary(Opcode::VPU_SUB, constant(1), binary(Opcode::VPU_CMPEQ, hi, sign));
    return lo;
  }
  // 1 where x is outside [0, extent), or where `bad` (a slot, or -1 for none) is 1.
  int outside(int x, int64_t extent, int bad) {
    int out = binary(Opcode::VPU_MAX, binary(Opcode::VPU_CMPLT, x, constant(0)),
                     binary(Opcode::VPU_CMPLE, constant(static_cast<int32_t>(extent)), x));
    if (bad >= 0) out = binary(Opcode::VPU_MAX, out, bad);
    return out;
  }
  // x + extent where x < 0.
  int wrap_negative(int x, int64_t extent) {
    const int negative = binary(Opcode::VPU_CMPLT, x, constant(0));
    return binary(Opcode::VPU_ADD, x,
                  binary(Opcode::VPU_MUL, negative, constant(static_cast<int32_t>(extent))));
  }

 private:
  static constexpr DataType kInt = DataType::INT32;
  int64_t int_constant(const std::vector<int32_t>& values) {
    ir::HostTensor t;
    t.element = ir::ElementType::I32;
    t.dims = {static_cast<int64_t>(values.size())};
    t.bytes.resize(values.size() * 4);
    std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
    return ctx_.add_constant(std::move(t));
  }
  int slot(int64_t bytes) {
    kernel_.slots.push_back({bytes, SlotShape::kWide});
    return static_cast<int>(kernel_.slots.size()) - 1;
  }
  int step(VpuStep s) {
    kernel_.steps.push_back(s);
    return s.dst;
  }

  OpContext& ctx_;
  std::vector<int64_t> dims_;
  StreamKernel kernel_;
};

// Flat indices must fit the int32 arithmetic of the VPU.
void check_int32(OpContext& ctx, int64_t limit) {
  if (limit > std::numeric_limits<int32_t>::max())
    ctx.unsupported("the source has " + std::to_string(limit) +
                    " rows, more than int32 indices can name");
}

// Rows of `width` elements of `element_bytes`, fetched from `base` + index x row pitch for the
// int32 row numbers at HBM `indices` (one per row), written densely to `out`.
void emit_row_gather(OpContext& ctx, int64_t indices, int64_t rows, int64_t width,
                     int64_t element_bytes, int64_t base, int64_t limit, const TensorView& out) {
  StreamKernel k;
  k.rows = rows;
  k.width = width;
  k.slots = {{4, SlotShape::kNarrow}, {element_bytes, SlotShape::kWide}};
  k.loads = {{0, TensorView::contiguous(indices, 4, {rows})}};
  k.gathers = {{1, 0, base, width * element_bytes, limit}};
  k.stores = {{1, out}};
  ctx.emit(k);
}

// The per-sample part of NegativeLogLikelihoodLoss on log-probabilities `log_prob` ([N, C, D],
// dense f32 at HBM), targets `target` ([N, D] in row-major order) and optional class weights:
// loss[n, d] = -w[t] log_prob[n, t, d] (0 where t is ignore_index), then the reduction.
void emit_nll(OpContext& ctx, int64_t log_prob, int64_t n, int64_t c, int64_t d, ir::ValueId target,
              ir::ValueId weight, ir::ValueId out) {
  const std::string reduction = ctx.attr_string("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    ctx.unsupported("reduction '" + reduction + "' is not none, sum or mean");
  const bool ignores = ctx.node.attribute<int64_t>("ignore_index") != nullptr;
  const auto ignore = static_cast<int32_t>(ctx.attr_int("ignore_index", 0));
  check_int32(ctx, n * c * d);
  const int64_t count = n * d;

  // Phase 1: row numbers of each sample's target in log_prob, and in the weights.
  IndexProgram p(ctx, {n, d});
  int bad = -1;
  int t = p.index(
      target,
      [&](TensorView v) {
        return v.reshaped({n, d});
      },
      bad);
  int keep = -1;
  if (ignores) {
    const int ignored = p.binary(Opcode::VPU_CMPEQ, t, p.constant(ignore));
    t = p.select(ignored, p.constant(0), t);
    keep = p.to_float(p.binary(Opcode::VPU_SUB, p.constant(1), ignored));
    if (bad >= 0) bad = p.select(ignored, p.constant(0), bad);
  }
  const int wrong = p.outside(t, c, bad);
  const int minus_one = p.constant(-1);
  const int flat =
      p.binary(Opcode::VPU_ADD, p.binary(Opcode::VPU_ADD, p.position(0, c * d), p.position(1, 1)),
               p.binary(Opcode::VPU_MUL, t, p.constant(static_cast<int32_t>(d))));
  const int64_t rows_at = ctx.scratch(count * 4), class_at = ctx.scratch(count * 4);
  p.store(p.select(wrong, minus_one, flat), TensorView::contiguous(rows_at, 4, {count}));
  if (weight != ir::kNoValue)
    p.store(p.select(wrong, minus_one, t), TensorView::contiguous(class_at, 4, {count}));
  const int64_t keep_at = ignores ? ctx.scratch(count * 4) : 0;
  if (ignores) p.store(keep, TensorView::contiguous(keep_at, 4, {count}));
  p.emit();
  ctx.sync();

  // Phase 2: the weighted, negated picks.
  StreamKernel k;
  k.rows = count;
  k.slots = {{4, SlotShape::kNarrow}, {4, SlotShape::kWide}};
  k.loads = {{0, TensorView::contiguous(rows_at, 4, {count})}};
  k.gathers = {{1, 0, log_prob, 4, n * c * d}};
  int w = -1;
  auto add_slot = [&](SlotShape shape) {
    k.slots.push_back({4, shape});
    return static_cast<int>(k.slots.size()) - 1;
  };
  if (weight != ir::kNoValue) {
    const int index = add_slot(SlotShape::kNarrow);
    w = add_slot(SlotShape::kWide);
    k.loads.push_back({index, TensorView::contiguous(class_at, 4, {count})});
    k.gathers.push_back({w, index, ctx.view(weight).base, 4, c});
  }
  if (ignores) {
    const int kept = add_slot(SlotShape::kWide);
    k.loads.push_back({kept, TensorView::contiguous(keep_at, 4, {count})});
    if (w < 0) {
      w = kept;
    } else {
      const int product_slot = add_slot(SlotShape::kWide);
      k.steps.push_back({Opcode::VPU_MUL, product_slot, w, kept, 0});
      w = product_slot;
    }
  }
  int loss = add_slot(SlotShape::kWide);
  k.steps.push_back({Opcode::VPU_MULS, loss, 1, -1, -1.0f});
  if (w >= 0) {
    const int weighted = add_slot(SlotShape::kWide);
    k.steps.push_back({Opcode::VPU_MUL, weighted, loss, w, 0});
    loss = weighted;
  }
  if (reduction == "none") {
    k.stores = {{loss, ctx.view(out)}};
    ctx.emit(k);
    ctx.mapping = "gather of " + std::to_string(count) + " targets";
    return;
  }
  const int64_t loss_at = ctx.scratch(count * 4), weight_at = ctx.scratch(count * 4);
  k.stores = {{loss, TensorView::contiguous(loss_at, 4, {count})}};
  const bool divide_by_weights = reduction == "mean" && w >= 0;
  if (divide_by_weights) k.stores.push_back({w, TensorView::contiguous(weight_at, 4, {count})});
  ctx.emit(k);
  ctx.sync();

  // Phase 3: one row of `count` summed on one core (ONNX's mean divides by the summed weights).
  StreamKernel r;
  r.rows = 1;
  r.width = count;
  r.slots = {{4, SlotShape::kWide}, {4, SlotShape::kNarrow}};
  r.loads = {{0, TensorView::contiguous(loss_at, 4, {1, count})}};
  r.steps = {{Opcode::VPU_RSUM, 1, 0}};
  int result = 1;
  if (divide_by_weights) {
    r.slots.insert(r.slots.end(),
                   {{4, SlotShape::kWide}, {4, SlotShape::kNarrow}, {4, SlotShape::kNarrow}});
    r.loads.push_back({2, TensorView::contiguous(weight_at, 4, {1, count})});
    r.steps.push_back({Opcode::VPU_RSUM, 3, 2});
    r.steps.push_back({Opcode::VPU_DIV, 4, 1, 3});
    result = 4;
  } else if (reduction == "mean") {
    r.slots.push_back({4, SlotShape::kNarrow});
    r.steps.push_back({Opcode::VPU_MULS, 2, 1, -1, 1.0f / static_cast<float>(count)});
    result = 2;
  }
  r.stores = {{result, TensorView::contiguous(ctx.view(out).base, 4, {1})}};
  if (2 * count * 4 * 2 > ctx.chip.sram.bytes)
    ctx.unsupported("the " + reduction + " of " + std::to_string(count) +
                    " losses is summed on one core, and does not fit its SRAM");
  ctx.emit(r);
  ctx.mapping = "gather of " + std::to_string(count) + " targets, " + reduction;
}

// Dims of a loss input [N, C, d1, ...] as {N, C, D}.
std::array<int64_t, 3> loss_dims(OpContext& ctx, ir::ValueId v) {
  const std::vector<int64_t>& dims = ctx.dims(v);
  if (dims.size() < 2) ctx.unsupported("the input needs batch and class axes");
  if (ctx.type(v).element != ir::ElementType::F32)
    ctx.unsupported("losses are lowered for f32 inputs");
  return {dims[0], dims[1], product_of(dims, 2, dims.size())};
}

}  // namespace

void lower_gather_indexed(OpContext& ctx) {
  const TensorView data = ctx.view(ctx.in(0));
  const auto axis = ctx.axis(ctx.attr_int("axis", 0), data.dims.size());
  const int64_t outer = product_of(data.dims, 0, axis), extent = data.dims[axis];
  const int64_t inner = product_of(data.dims, axis + 1, data.dims.size());
  const int64_t count = ctx.view(ctx.in(1)).element_count();
  check_int32(ctx, outer * extent);
  IndexProgram p(ctx, {outer, count});
  int bad = -1;
  const int raw = p.index(
      ctx.in(1),
      [&](TensorView v) {
        return v.reshaped({count}).broadcast_to({outer, count});
      },
      bad);
  const int i = p.wrap_negative(raw, extent);
  const int row = p.binary(Opcode::VPU_ADD, i, p.position(0, extent));
  const int64_t rows_at = ctx.scratch(p.rows() * 4);
  p.store(p.select(p.outside(i, extent, bad), p.constant(-1), row),
          TensorView::contiguous(rows_at, 4, {p.rows()}));
  p.emit();
  ctx.sync();
  emit_row_gather(ctx, rows_at, p.rows(), inner, data.element_bytes, data.base, outer * extent,
                  ctx.view(ctx.out(0)));
  ctx.mapping = "dma.gather of " + std::to_string(p.rows()) + " rows of " + std::to_string(inner);
}

void lower_gather_elements(OpContext& ctx) {
  const TensorView data = ctx.view(ctx.in(0));
  const std::vector<int64_t>& dims = ctx.dims(ctx.in(1));
  if (dims.size() != data.dims.size()) ctx.unsupported("indices must have the rank of the data");
  const auto axis = ctx.axis(ctx.attr_int("axis", 0), dims.size());
  check_int32(ctx, data.element_count());
  // Output element p reads data at p with its axis coordinate replaced by the index.
  IndexProgram p(ctx, dims);
  int bad = -1;
  const int raw = p.index(
      ctx.in(1), [](TensorView v) { return v; }, bad);
  const int i = p.wrap_negative(raw, data.dims[axis]);
  int flat = p.binary(Opcode::VPU_MUL, i, p.constant(static_cast<int32_t>(data.strides[axis])));
  for (size_t d = 0; d < dims.size(); ++d)
    if (d != axis && dims[d] > 1)
      flat = p.binary(Opcode::VPU_ADD, flat, p.position(d, data.strides[d]));
  const int64_t rows_at = ctx.scratch(p.rows() * 4);
  p.store(p.select(p.outside(i, data.dims[axis], bad), p.constant(-1), flat),
          TensorView::contiguous(rows_at, 4, {p.rows()}));
  p.emit();
  ctx.sync();
  emit_row_gather(ctx, rows_at, p.rows(), 1, data.element_bytes, data.base, data.element_count(),
                  ctx.view(ctx.out(0)));
  ctx.mapping = "dma.gather of " + std::to_string(p.rows()) + " elements";
}

void lower_gather_nd(OpContext& ctx) {
  const TensorView data = ctx.view(ctx.in(0));
  const std::vector<int64_t>& index_dims = ctx.dims(ctx.in(1));
  const auto batch = static_cast<size_t>(ctx.attr_int("batch_dims", 0));
  if (index_dims.empty()) ctx.unsupported("indices must have at least one axis");
  const auto depth = static_cast<size_t>(index_dims.back());
  if (batch + depth > data.dims.size() || batch >= index_dims.size())
    ctx.unsupported("batch_dims and the index depth exceed the data's rank");
  check_int32(ctx, data.element_count());
  // Each index tuple names a slice of the trailing data axes: a row of `inner` elements.
  const int64_t inner = product_of(data.dims, batch + depth, data.dims.size());
  const int64_t per_batch = product_of(data.dims, batch, batch + depth);
  if (depth == 0) ctx.unsupported("index tuples of length 0");
  const std::vector<int64_t> tuples(index_dims.begin(), index_dims.end() - 1);
  IndexProgram p(ctx, tuples);
  int row = -1, wrong = -1;
  for (size_t j = 0; j < depth; ++j) {
    int bad = -1;
    const int raw = p.index(
        ctx.in(1),
        [&](TensorView v) {
          v.base += static_cast<int64_t>(j) * v.strides.back() * v.element_bytes;
          v.dims.pop_back();
          v.strides.pop_back();
          return v;
        },
        bad);
    const int64_t extent = data.dims[batch + j];
    const int i = p.wrap_negative(raw, extent);
    const int64_t step = product_of(data.dims, batch + j + 1, batch + depth);
    const int term = p.binary(Opcode::VPU_MUL, i, p.constant(static_cast<int32_t>(step)));
    row = row < 0 ? term : p.binary(Opcode::VPU_ADD, row, term);
    const int outside = p.outside(i, extent, bad);
    wrong = wrong < 0 ? outside : p.binary(Opcode::VPU_MAX, wrong, outside);
  }
  // The batch axes of the indices select the matching batch of the data.
  int64_t coef = per_batch;
  for (size_t d = batch; d-- > 0;) {
    if (tuples[d] > 1) row = p.binary(Opcode::VPU_ADD, row, p.position(d, coef));
    coef *= tuples[d];
  }
  const int64_t rows_at = ctx.scratch(p.rows() * 4);
  p.store(p.select(wrong, p.constant(-1), row), TensorView::contiguous(rows_at, 4, {p.rows()}));
  p.emit();
  ctx.sync();
  emit_row_gather(ctx, rows_at, p.rows(), inner, data.element_bytes, data.base,
                  data.element_count() / std::max<int64_t>(inner, 1), ctx.view(ctx.out(0)));
  ctx.mapping = "dma.gather of " + std::to_string(p.rows()) + " rows of " + std::to_string(inner);
}

void lower_scatter_nd(OpContext& ctx) {
  const TensorView data = ctx.view(ctx.in(0));
  const TensorView out = ctx.view(ctx.out(0));
  const std::vector<int64_t>& index_dims = ctx.dims(ctx.in(1));
  const std::string reduction = ctx.attr_string("reduction", "none");
  if (index_dims.empty()) ctx.unsupported("indices must have at least one axis");
  const auto depth = static_cast<size_t>(index_dims.back());
  if (depth == 0 || depth > data.dims.size())
    ctx.unsupported("index tuples of length " + std::to_string(depth) + " for data of rank " +
                    std::to_string(data.dims.size()));
  // Each index tuple names a slice of the trailing data axes: a row of `inner` elements.
  const int64_t inner = product_of(data.dims, depth, data.dims.size());
  const int64_t limit = product_of(data.dims, 0, depth);
  std::vector<int64_t> tuples(index_dims.begin(), index_dims.end() - 1);
  const int64_t count = product_of(tuples, 0, tuples.size());
  if (ctx.view(ctx.in(2)).element_count() != count * inner ||
      ctx.type(ctx.in(2)).element != ctx.type(ctx.in(0)).element)
    ctx.unsupported("updates must hold one row of the data's trailing axes per index tuple");
  check_int32(ctx, limit);
  // Stored over the data (CompileOptions::in_place): only the addressed rows change.
  const bool in_place = out.base == data.base;
  if (!in_place) emit_copy(ctx, data, out);
  ctx.mapping = in_place ? "in place, " : "copy, ";
  if (count == 0 || inner == 0) {
    ctx.mapping += "no updates";
    return;
  }
  if (tuples.empty()) tuples = {1};

  // Phase 1 (beside the copy): the row each tuple names, -1 where an index is out of range.
  IndexProgram p(ctx, tuples);
  int row = -1, wrong = -1;
  for (size_t j = 0; j < depth; ++j) {
    int bad = -1;
    const int raw = p.index(
        ctx.in(1),
        [&](TensorView v) {
          v.base += static_cast<int64_t>(j) * v.strides.back() * v.element_bytes;
          v.dims.pop_back();
          v.strides.pop_back();
          if (v.dims.empty()) v = TensorView{v.base, v.element_bytes, {1}, {0}};
          return v;
        },
        bad);
    const int64_t extent = data.dims[j];
    const int i = p.wrap_negative(raw, extent);
    const int64_t step = product_of(data.dims, j + 1, depth);
    const int term = p.binary(Opcode::VPU_MUL, i, p.constant(static_cast<int32_t>(step)));
    row = row < 0 ? term : p.binary(Opcode::VPU_ADD, row, term);
    const int outside = p.outside(i, extent, bad);
    wrong = wrong < 0 ? outside : p.binary(Opcode::VPU_MAX, wrong, outside);
  }
  const int64_t rows_at = ctx.scratch(count * 4);
  p.store(p.select(wrong, p.constant(-1), row), TensorView::contiguous(rows_at, 4, {count}));
  p.emit();
  ctx.sync();

  // Phase 2: the update rows scattered over the output's rows with dma.scatter.
  const int64_t row_bytes = inner * out.element_bytes;
  const TensorView updates =
      TensorView::contiguous(ctx.view(ctx.in(2)).base, out.element_bytes, {count * inner});
  if (reduction == "none") {
    StreamKernel k;
    k.rows = count;
    k.width = inner;
    k.slots = {{4, SlotShape::kNarrow}, {out.element_bytes, SlotShape::kWide}};
    k.loads = {{0, TensorView::contiguous(rows_at, 4, {count})}, {1, updates}};
    k.scatters = {{1, 0, out.base, row_bytes, limit}};
    ctx.emit(k);
    ctx.mapping += "dma.scatter of " + std::to_string(count) + " rows of " + std::to_string(inner);
    return;
  }
  // A reduction combines rows that repeat an index in order: one core reads, combines and writes
  // back each update row in turn.
  const ir::ElementType element = ctx.type(ctx.out(0)).element;
  const bool integer = element == ir::ElementType::I32 || element == ir::ElementType::I8;
  const auto format = integer ? vpu_ordering_type(element) : vpu_type(element);
  if (!format)
    ctx.unsupported("reduction on element type " + std::string(ir::element_name(element)));
  Opcode op = Opcode::NOP;
  if (reduction == "add") op = integer ? Opcode::VPU_ADDW : Opcode::VPU_ADD;
  if (reduction == "mul") op = integer ? Opcode::VPU_MULW : Opcode::VPU_MUL;
  if (reduction == "max") op = Opcode::VPU_MAX;
  if (reduction == "min") op = Opcode::VPU_MIN;
  if (op == Opcode::NOP) ctx.unsupported("reduction '" + reduction + "'");
  constexpr int64_t kAlign = 256;
  const int64_t index_bytes = (count * 4 + kAlign - 1) / kAlign * kAlign;
  const int64_t row_space = (row_bytes + kAlign - 1) / kAlign * kAlign;
  if (index_bytes + 2 * row_space > ctx.chip.sram.bytes)
    ctx.unsupported("the " + std::to_string(count) + " indices and two rows of " +
                    std::to_string(row_bytes) + " bytes do not fit one core's SRAM");
  const int64_t acc = index_bytes, upd = index_bytes + row_space;
  constexpr int64_t kNone = isa::kNoSemaphore;
  Emitter& e = ctx.program.core(0);
  e.dma(Opcode::DMA_LOAD, 0, rows_at, 1, count * 4, 0, kNone, 0);
  wait_semaphore(e, 0, 1);
  for (int64_t r = 0; r < count; ++r) {
    e.emit(Opcode::DMA_GATHER,
           {e.reg(0, acc), e.reg(1, out.base), e.reg(5, r * 4), e.reg(2, 1), e.reg(3, row_bytes),
            e.reg(4, row_bytes), e.reg(6, limit), kNone, 1});
    e.dma(Opcode::DMA_LOAD, upd, updates.base + r * row_bytes, 1, row_bytes, row_bytes, kNone, 1);
    wait_semaphore(e, 1, 2);
    e.emit(op, {e.reg(0, acc), e.reg(0, acc), e.reg(1, upd), e.reg(2, inner),
                static_cast<int64_t>(*format), kNone, 2});
    e.emit(Opcode::DMA_SCATTER, {e.reg(0, out.base), e.reg(1, acc), e.reg(5, r * 4), e.reg(2, 1),
                                 e.reg(3, row_bytes), e.reg(4, row_bytes), e.reg(6, limit), 2, 3});
    wait_semaphore(e, 3, 1);
  }
  ctx.mapping += std::to_string(count) + " rows of " + std::to_string(inner) + " combined (" +
                 reduction + ") on core 0";
}

void lower_one_hot(OpContext& ctx) {
  const ir::ElementType index_type = ctx.type(ctx.in(0)).element;
  const ir::ElementType value_type = ctx.type(ctx.out(0)).element;
  const auto format = vpu_ordering_type(value_type);
  if (!format)
    ctx.unsupported("values of element type " + std::string(ir::element_name(value_type)));
  const std::vector<int64_t>& out_dims = ctx.dims(ctx.out(0));
  const size_t a = ctx.axis(ctx.attr_int("axis", -1), out_dims.size());
  const int64_t depth = out_dims[a];
  if (const ir::HostTensor* given = ctx.constant(ctx.in(1))) {
    double value = 0;
    if (given->element == ir::ElementType::F32) {
      float f;
      std::memcpy(&f, given->bytes.data(), 4);
      value = f;
    } else {
      value = static_cast<double>(ctx.constant_ints(ctx.in(1), "depth").at(0));
    }
    if (static_cast<int64_t>(value) != depth)
      ctx.unsupported("depth " + std::to_string(value) + " differs from the output's axis (" +
                      std::to_string(depth) + ")");
  }
  // The indices as f32, read over the output's dims (stride 0 along the new axis).
  auto spread = [&](TensorView v) {
    v.dims.insert(v.dims.begin() + static_cast<int64_t>(a), depth);
    v.strides.insert(v.strides.begin() + static_cast<int64_t>(a), 0);
    return v;
  };
  TensorView indices;
  if (index_type == ir::ElementType::F32) {
    indices = spread(ctx.view(ctx.in(0)));
  } else {
    // Integer indices to f32 in a first pass; one whose i64 high word is not its sign becomes
    // -(depth + 1), which matches no position even after negative indices wrap.
    const int64_t count = ctx.view(ctx.in(0)).element_count();
    IndexProgram p(ctx, {count});
    int bad = -1;
    const int raw = p.index(
        ctx.in(0), [&](TensorView v) { return v.reshaped({count}); }, bad);
    const int safe =
        bad < 0 ? raw : p.select(bad, p.constant(static_cast<int32_t>(-(depth + 1))), raw);
    const int64_t at = ctx.scratch(count * 4);
    p.store(p.to_float(safe), TensorView::contiguous(at, 4, {count}));
    p.emit();
    ctx.sync();
    indices = spread(TensorView::contiguous(at, 4, ctx.dims(ctx.in(0))));
  }
  // y = values[1] where (index < 0 ? index + depth : index) equals the position on the axis, else
  // values[0]: an index outside [-depth, depth) matches nowhere.
  StreamKernel k;
  k.rows = 1;
  for (int64_t d : out_dims) k.rows *= d;
  const int64_t value_bytes = dtype_bytes(*format);
  auto slot = [&](int64_t bytes) {
    k.slots.push_back({bytes, SlotShape::kWide});
    return static_cast<int>(k.slots.size()) - 1;
  };
  auto load = [&](const TensorView& v) {
    const int s = slot(v.element_bytes);
    k.loads.push_back({s, v});
    return s;
  };
  auto step = [&](Opcode op, int x, int y, DataType type = DataType::FP32) {
    const int d = slot(4);
    k.steps.push_back({op, d, x, y, 0, type, type});
    return d;
  };
  ir::HostTensor positions;
  positions.element = ir::ElementType::F32;
  positions.dims = {depth};
  positions.bytes.resize(static_cast<size_t>(depth) * 4);
  for (int64_t i = 0; i < depth; ++i) {
    const auto f = static_cast<float>(i);
    std::memcpy(positions.bytes.data() + i * 4, &f, 4);
  }
  std::vector<int64_t> along(out_dims.size(), 0);
  along[a] = 1;
  const int x = load(indices);
  const int negative = step(Opcode::VPU_CMPLT, x, load(ctx.scalar_view(0, out_dims)));
  const int wrapped = step(
      Opcode::VPU_ADD, x,
      step(Opcode::VPU_MUL, negative, load(ctx.scalar_view(static_cast<float>(depth), out_dims))));
  int hit = step(Opcode::VPU_CMPEQ, wrapped,
                 load(TensorView{ctx.add_constant(std::move(positions)), 4, out_dims, along}));
  if (*format != DataType::FP32) {
    const int converted = slot(value_bytes);
    k.steps.push_back({Opcode::VPU_CVT, converted, hit, -1, 0, DataType::FP32, *format});
    hit = converted;
  }
  const TensorView values = ctx.view(ctx.in(2));
  const std::vector<int64_t> broadcast(out_dims.size(), 0);
  const int off = load(TensorView{values.base, value_bytes, out_dims, broadcast});
  const int on = load(TensorView{values.base + value_bytes, value_bytes, out_dims, broadcast});
  const int y = slot(value_bytes);
  VpuStep select{Opcode::VPU_SEL, y, on, off, 0, *format, *format};
  select.m = hit;
  k.steps.push_back(select);
  k.stores = {{y, ctx.view(ctx.out(0))}};
  ctx.emit(k);
  ctx.mapping = "VPU compare against the positions";
}

void lower_nll_loss(OpContext& ctx) {
  const auto [n, c, d] = loss_dims(ctx, ctx.in(0));
  emit_nll(ctx, ctx.view(ctx.in(0)).base, n, c, d, ctx.in(1), ctx.in(2), ctx.out(0));
}

void lower_softmax_cross_entropy(OpContext& ctx) {
  const auto [n, c, d] = loss_dims(ctx, ctx.in(0));
  // log_softmax over the class axis, read last through a permuted view: rows (n, d), width c.
  const int64_t log_prob =
      ctx.out(1) != ir::kNoValue ? ctx.view(ctx.out(1)).base : ctx.scratch(n * c * d * 4);
  const TensorView dense = TensorView::contiguous(ctx.view(ctx.in(0)).base, 4, {n, c, d});
  StreamKernel k;
  k.rows = n * d;
  k.width = c;
  using S = SlotShape;
  k.slots = {{4, S::kWide},   {4, S::kNarrow}, {4, S::kWide}, {4, S::kWide},
             {4, S::kNarrow}, {4, S::kNarrow}, {4, S::kWide}};
  k.loads = {{0, dense.permuted({0, 2, 1})}};
  k.steps = {{Opcode::VPU_RMAX, 1, 0}, {Opcode::VPU_SUBC, 2, 0, 1}, {Opcode::VPU_EXP, 3, 2},
             {Opcode::VPU_RSUM, 4, 3}, {Opcode::VPU_LOG, 5, 4},     {Opcode::VPU_SUBC, 6, 2, 5}};
  k.stores = {{6, TensorView::contiguous(log_prob, 4, {n, c, d}).permuted({0, 2, 1})}};
  ctx.emit(k);
  ctx.sync();
  emit_nll(ctx, log_prob, n, c, d, ctx.in(1), ctx.in(2), ctx.out(0));
}

}  // namespace seedchip::compiler
