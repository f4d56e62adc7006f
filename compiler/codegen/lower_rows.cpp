// Row-wise operators: the reduced axes of the input are read as the last ones (through a permuted
// view), so each row of the stream kernel is one output element's reduction, computed with the
// VPU's row instructions (vpu.rsum, vpu.rmax) and its row/column broadcasts.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "compiler/codegen/lowering.h"

namespace seedchip::compiler {

namespace {

using isa::Opcode;

class RowProgram {
 public:
  RowProgram(OpContext& ctx, DataType type, int64_t rows, int64_t width) : ctx_(ctx), type_(type) {
    kernel_.rows = rows;
    kernel_.width = width;
  }
  int load(const TensorView& view, SlotShape shape) {
    const int s = slot(shape);
    kernel_.loads.push_back({s, view});
    return s;
  }
  int wide(Opcode op, int a, int b = -1, float c = 0) {
    return step(op, SlotShape::kWide, a, b, c);
  }
  int narrow(Opcode op, int a, int b = -1, float c = 0) {
    return step(op, SlotShape::kNarrow, a, b, c);
  }
  // Each row's mean, the row minus it, and 1 / sqrt(variance + eps) (normalisation layers).
  struct Moments {
    int mean, centred, inv_std;
  };
  Moments moments(int x, float inv_width, float eps) {
    const int mean = narrow(Opcode::VPU_MULS, narrow(Opcode::VPU_RSUM, x), -1, inv_width);
    const int d = wide(Opcode::VPU_SUBC, x, mean);
    const int var = narrow(Opcode::VPU_MULS, narrow(Opcode::VPU_RSUM, wide(Opcode::VPU_MUL, d, d)),
                           -1, inv_width);
    return {mean, d, narrow(Opcode::VPU_RSQRT, narrow(Opcode::VPU_ADDS, var, -1, eps))};
  }
  void store(int s, const TensorView& view) { kernel_.stores.push_back({s, view}); }
  // Stores narrow slot `s` converted to `format`.
  void store_converted(int s, DataType format, const TensorView& view) {
    kernel_.slots.push_back({dtype_bytes(format), SlotShape::kNarrow});
    const int d = static_cast<int>(kernel_.slots.size()) - 1;
    kernel_.steps.push_back({Opcode::VPU_CVT, d, s, -1, 0, type_, format});
    store(d, view);
  }
  void emit() { ctx_.emit(kernel_); }

 private:
  int slot(SlotShape shape) {
    kernel_.slots.push_back({dtype_bytes(type_), shape});
    return static_cast<int>(kernel_.slots.size()) - 1;
  }
  int step(Opcode op, SlotShape shape, int a, int b, float c) {
    const int d = slot(shape);
    kernel_.steps.push_back({op, d, a, b, c, type_, type_});
    return d;
  }

  OpContext& ctx_;
  DataType type_;
  StreamKernel kernel_;
};

DataType row_type(OpContext& ctx) {
  const auto t = vpu_type(ctx.type(ctx.in(0)).element);
  if (!t || dtype_is_integer(*t)) ctx.unsupported("row operators run on f32, f16 and bf16 only");
  return *t;
}

// The input read with `axes` last: {view, rows, width}, and the same permutation for the output.
struct Reordered {
  TensorView in, out;
  int64_t rows = 0, width = 1;
};

Reordered axes_last(OpContext& ctx, std::vector<int64_t> axes) {
  Reordered r{ctx.view(ctx.in(0)), ctx.view(ctx.out(0))};
  const size_t rank = r.in.dims.size();
  std::vector<bool> last(rank, false);
  for (int64_t a : axes) last[ctx.axis(a, rank)] = true;
  std::vector<int64_t> perm;
  for (size_t d = 0; d < rank; ++d)
    if (!last[d]) perm.push_back(static_cast<int64_t>(d));
  for (size_t d = 0; d < rank; ++d)
    if (last[d]) {
      perm.push_back(static_cast<int64_t>(d));
      r.width *= r.in.dims[d];
    }
  r.in = r.in.permuted(perm);
  if (r.out.dims.size() == rank) r.out = r.out.permuted(perm);  // a reduction's output has fewer
  if (r.width == 0) ctx.unsupported("a reduction or normalisation over an empty axis");
  r.rows = r.in.element_count() / r.width;
  return r;
}

// The rows of Softmax-like operators: before opset 13 the input coerced to 2-D [product before
// axis, product from axis]; since then the axis alone, read last.
Reordered softmax_rows(OpContext& ctx) {
  Reordered r{ctx.view(ctx.in(0)), ctx.view(ctx.out(0))};
  const size_t rank = r.in.dims.size();
  const bool legacy = ctx.graph.opset_version() < 13;
  const size_t axis = ctx.axis(ctx.attr_int("axis", legacy ? 1 : -1), rank);
  if (legacy) {
    r.rows = product_of(r.in.dims, 0, axis);
    r.width = product_of(r.in.dims, axis, rank);
  } else {
    std::vector<int64_t> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    perm.erase(perm.begin() + static_cast<int64_t>(axis));
    perm.push_back(static_cast<int64_t>(axis));
    r.in = r.in.permuted(perm);
    r.out = r.out.permuted(perm);
    r.width = r.in.dims.back();
    r.rows = r.in.element_count() / std::max<int64_t>(r.width, 1);
  }
  return r;
}

// A row of f32 weights for finding the first (w - i at position i) or last (i + 1) maximum: among
// a row's maxima, the largest weight names the index.
TensorView index_weights(OpContext& ctx, int64_t width, bool last) {
  ir::HostTensor weights;
  weights.element = ir::ElementType::F32;
  weights.dims = {width};
  weights.bytes.resize(static_cast<size_t>(width) * 4);
  for (int64_t i = 0; i < width; ++i) {
    const float v = last ? static_cast<float>(i + 1) : static_cast<float>(width - i);
    std::memcpy(weights.bytes.data() + i * 4, &v, 4);
  }
  return TensorView::contiguous(ctx.add_constant(std::move(weights)), 4, {width});
}

// The axes a reduction runs over: an input from opset 18 (ReduceSum: 13), an attribute before.
std::vector<int64_t> reduce_axes(OpContext& ctx) {
  const int64_t since = ctx.node.op == "ReduceSum" ? 13 : 18;
  if (ctx.graph.opset_version() < since) return ctx.attr_ints("axes");
  if (ctx.in(1) == ir::kNoValue) return {};
  return ctx.constant_ints(ctx.in(1), "axes");
}

}  // namespace

void lower_softmax(OpContext& ctx) {
  const DataType t = row_type(ctx);
  const Reordered r = softmax_rows(ctx);
  RowProgram p(ctx, t, r.rows, r.width);
  const int x = p.load(r.in, SlotShape::kWide);
  const int m = p.narrow(Opcode::VPU_RMAX, x);
  const int s = p.wide(Opcode::VPU_SUBC, x, m);
  const int e = p.wide(Opcode::VPU_EXP, s);
  const int z = p.narrow(Opcode::VPU_RSUM, e);
  const int y = ctx.node.op == "LogSoftmax"
                    ? p.wide(Opcode::VPU_SUBC, s, p.narrow(Opcode::VPU_LOG, z))
                    : p.wide(Opcode::VPU_MULC, e, p.narrow(Opcode::VPU_RECIP, z));
  p.store(y, r.out);
  p.emit();
  ctx.mapping = "VPU rows of " + std::to_string(r.width);
}

void lower_hardmax(OpContext& ctx) {
  const DataType t = row_type(ctx);
  if (t != DataType::FP32) ctx.unsupported("Hardmax is lowered for f32 inputs");
  const Reordered r = softmax_rows(ctx);
  RowProgram p(ctx, t, r.rows, r.width);
  const int x = p.load(r.in, SlotShape::kWide);
  // As in ArgMax, the maxima (mask 1) weighted w - i leave the first one the largest; less that
  // largest value, the first maximum is 0 and every other position negative.
  const int m = p.narrow(Opcode::VPU_RMAX, x);
  const int mask =
      p.wide(Opcode::VPU_ADDS, p.wide(Opcode::VPU_SIGN, p.wide(Opcode::VPU_SUBC, x, m)), -1, 1);
  const int weighted =
      p.wide(Opcode::VPU_MULB, mask, p.load(index_weights(ctx, r.width, false), SlotShape::kRow));
  const int d = p.wide(Opcode::VPU_SUBC, weighted, p.narrow(Opcode::VPU_RMAX, weighted));
  p.store(p.wide(Opcode::VPU_ADDS, p.wide(Opcode::VPU_SIGN, d), -1, 1), r.out);
  p.emit();
  ctx.mapping = "VPU rows of " + std::to_string(r.width);
}

void lower_reduce(OpContext& ctx) {
  const DataType t = row_type(ctx);
  TensorView in = ctx.view(ctx.in(0));
  const size_t rank = in.dims.size();
  const std::vector<int64_t> axes = reduce_axes(ctx);
  const TensorView out = ctx.view(ctx.out(0));
  if (axes.empty() && ctx.attr_int("noop_with_empty_axes", 0) != 0) {
    StreamKernel k;
    k.rows = in.element_count();
    k.slots = {{in.element_bytes, SlotShape::kWide}};
    k.loads = {{0, in}};
    k.stores = {{0, out}};
    ctx.emit(k);
    ctx.mapping = "copy";
    return;
  }
  std::vector<bool> reduced(rank, axes.empty());
  for (int64_t a : axes) reduced[ctx.axis(a, rank)] = true;
  std::vector<int64_t> perm;
  for (size_t d = 0; d < rank; ++d)
    if (!reduced[d]) perm.push_back(static_cast<int64_t>(d));
  int64_t width = 1;
  for (size_t d = 0; d < rank; ++d)
    if (reduced[d]) {
      perm.push_back(static_cast<int64_t>(d));
      width *= in.dims[d];
    }
  in = in.permuted(perm);
  const int64_t rows = width == 0 ? 0 : in.element_count() / width;
  if (width == 0) ctx.unsupported("a reduction over an empty axis");
  RowProgram p(ctx, t, rows, width);
  const int x = p.load(in, SlotShape::kWide);
  const std::string& op = ctx.node.op;
  int y = -1;
  if (op == "ReduceSum") {
    y = p.narrow(Opcode::VPU_RSUM, x);
  } else if (op == "ReduceMean") {
    y = p.narrow(Opcode::VPU_MULS, p.narrow(Opcode::VPU_RSUM, x), -1,
                 1.0f / static_cast<float>(width));
  } else if (op == "ReduceMax") {
    y = p.narrow(Opcode::VPU_RMAX, x);
  } else if (op == "ReduceMin") {
    const int neg = p.wide(Opcode::VPU_MULS, x, -1, -1);
    y = p.narrow(Opcode::VPU_MULS, p.narrow(Opcode::VPU_RMAX, neg), -1, -1);
  } else if (op == "ReduceSumSquare" || op == "ReduceL2") {
    y = p.narrow(Opcode::VPU_RSUM, p.wide(Opcode::VPU_MUL, x, x));
    if (op == "ReduceL2") y = p.narrow(Opcode::VPU_SQRT, y);
  } else if (op == "ReduceL1") {
    const int a = p.wide(Opcode::VPU_MAX, x, p.wide(Opcode::VPU_MULS, x, -1, -1));
    y = p.narrow(Opcode::VPU_RSUM, a);
  } else if (op == "ReduceLogSum") {
    y = p.narrow(Opcode::VPU_LOG, p.narrow(Opcode::VPU_RSUM, x));
  } else if (op == "ReduceLogSumExp") {
    const int m = p.narrow(Opcode::VPU_RMAX, x);
    const int z =
        p.narrow(Opcode::VPU_RSUM, p.wide(Opcode::VPU_EXP, p.wide(Opcode::VPU_SUBC, x, m)));
    y = p.narrow(Opcode::VPU_ADD, p.narrow(Opcode::VPU_LOG, z), m);
  } else {
    ctx.unsupported("no VPU recipe");
  }
  p.store(y, out);
  p.emit();
  ctx.mapping = "VPU rows of " + std::to_string(width);
}

void lower_reduce_prod(OpContext& ctx) {
  const DataType t = row_type(ctx);
  std::vector<int64_t> axes = reduce_axes(ctx);
  const TensorView out = ctx.view(ctx.out(0));
  if (axes.empty()) {
    if (ctx.attr_int("noop_with_empty_axes", 0) != 0) {
      emit_copy(ctx, ctx.view(ctx.in(0)), out);
      ctx.mapping = "copy";
      return;
    }
    axes.resize(ctx.dims(ctx.in(0)).size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  const Reordered r = axes_last(ctx, axes);
  if (r.width == 1) {
    emit_copy(ctx, r.in, out);
    ctx.mapping = "copy";
    return;
  }
  // The VPU reduces rows by sum and max only. The rows, copied dense to scratch, are halved in
  // place instead: each pass multiplies the first h = w / 2 elements of every row by the last h
  // (the middle one of an odd row stays put), until one is left. A pass reads what the one before
  // wrote, hence a sync between them; within a pass the written and read elements are disjoint.
  const int64_t e = r.in.element_bytes;
  const TensorView s =
      TensorView::contiguous(ctx.scratch(r.rows * r.width * e), e, {r.rows, r.width});
  emit_copy(ctx, r.in, s);
  for (int64_t w = r.width; w > 1; w -= w / 2) {
    ctx.sync();
    const int64_t h = w / 2;
    StreamKernel k;
    k.rows = r.rows * h;
    k.slots.assign(3, {e, SlotShape::kWide});
    k.loads = {{0, s.sliced(1, 0, h, 1)}, {1, s.sliced(1, w - h, h, 1)}};
    k.steps = {{Opcode::VPU_MUL, 2, 0, 1, 0, t, t}};
    k.stores = {{2, w == 2 ? out.reshaped({r.rows, 1}) : s.sliced(1, 0, h, 1)}};
    ctx.emit(k);
  }
  ctx.mapping = "VPU products of row halves, rows of " + std::to_string(r.width);
}

void lower_layernorm(OpContext& ctx) {
  const DataType t = row_type(ctx);
  const TensorView in = ctx.view(ctx.in(0));
  const size_t rank = in.dims.size();
  const size_t axis = ctx.axis(ctx.attr_int("axis", -1), rank);
  const int64_t rows = product_of(in.dims, 0, axis), width = product_of(in.dims, axis, rank);
  const float inv_width = 1.0f / static_cast<float>(width);
  RowProgram p(ctx, t, rows, width);
  const int x = p.load(in, SlotShape::kWide);
  const auto [mean, d, inv] = p.moments(x, inv_width, ctx.attr_float("epsilon", 1e-5f));
  // Scale and bias have the normalised axes' shape: one row shared by every row.
  auto row = [&](ir::ValueId v) {
    return p.load(ctx.view(v).reshaped({width}).broadcast_to({width}), SlotShape::kRow);
  };
  int y = p.wide(Opcode::VPU_MULB, p.wide(Opcode::VPU_MULC, d, inv), row(ctx.in(1)));
  if (ctx.in(2) != ir::kNoValue) y = p.wide(Opcode::VPU_ADDB, y, row(ctx.in(2)));
  p.store(y, ctx.view(ctx.out(0)));
  if (ctx.out(1) != ir::kNoValue) p.store(mean, ctx.view(ctx.out(1)));
  if (ctx.out(2) != ir::kNoValue) p.store(inv, ctx.view(ctx.out(2)));
  p.emit();
  ctx.mapping = "VPU rows of " + std::to_string(width);
}

// The operations of the nodes the fuse pass replaced, in their order, in one row kernel.
void lower_rms_norm(OpContext& ctx) {
  const DataType t = row_type(ctx);
  const TensorView in = ctx.view(ctx.in(0));
  const int64_t width = in.dims.back(), rows = in.element_count() / std::max<int64_t>(width, 1);
  RowProgram p(ctx, t, rows, width);
  const int x = p.load(in, SlotShape::kWide);
  const int mean =
      p.narrow(Opcode::VPU_MULS, p.narrow(Opcode::VPU_RSUM, p.wide(Opcode::VPU_MUL, x, x)), -1,
               1.0f / static_cast<float>(width));
  const int inv = p.narrow(Opcode::VPU_RECIP,
                           p.narrow(Opcode::VPU_SQRT, p.narrow(Opcode::VPU_ADDS, mean, -1,
                                                               ctx.attr_float("epsilon", 1e-5f))));
  const int w = p.load(ctx.view(ctx.in(1)).broadcast_to({width}), SlotShape::kRow);
  p.store(p.wide(Opcode::VPU_MULB, p.wide(Opcode::VPU_MULC, x, inv), w), ctx.view(ctx.out(0)));
  p.emit();
  ctx.mapping = "VPU rows of " + std::to_string(width);
}

void lower_instancenorm(OpContext& ctx) {
  const DataType t = row_type(ctx);
  const TensorView in = ctx.view(ctx.in(0));
  if (in.dims.size() < 3) ctx.unsupported("the input needs batch, channel and spatial axes");
  const int64_t n = in.dims[0], c = in.dims[1];
  const int64_t width = product_of(in.dims, 2, in.dims.size());
  const float inv_width = 1.0f / static_cast<float>(width);
  RowProgram p(ctx, t, n * c, width);
  // Per-channel vectors as one value per row (n, c): stride 0 over the batch.
  auto per_row = [&](ir::ValueId v) {
    const TensorView vec = ctx.view(v);
    return p.load(TensorView{vec.base, vec.element_bytes, {n, c}, {0, 1}}, SlotShape::kNarrow);
  };
  const int x = p.load(in, SlotShape::kWide);
  const auto [mean, d, inv] = p.moments(x, inv_width, ctx.attr_float("epsilon", 1e-5f));
  const int gain = p.narrow(Opcode::VPU_MUL, inv, per_row(ctx.in(1)));
  const int neg_bias = p.narrow(Opcode::VPU_MULS, per_row(ctx.in(2)), -1, -1);
  // y = d * gain + bias, the addition as a subtraction of -bias (the VPU's column broadcasts are
  // subtract and multiply).
  const int y = p.wide(Opcode::VPU_SUBC, p.wide(Opcode::VPU_MULC, d, gain), neg_bias);
  p.store(y, ctx.view(ctx.out(0)));
  p.emit();
  ctx.mapping = "VPU rows of " + std::to_string(width);
}

void lower_mvn(OpContext& ctx) {
  const DataType t = row_type(ctx);
  std::vector<int64_t> axes = ctx.attr_ints("axes");
  if (axes.empty()) axes = {0, 2, 3};
  const Reordered r = axes_last(ctx, axes);
  const float inv_width = 1.0f / static_cast<float>(r.width);
  RowProgram p(ctx, t, r.rows, r.width);
  // ONNX's definition: (x - E[x]) / (sqrt(E[x^2] - E[x]^2) + 1e-9).
  const int x = p.load(r.in, SlotShape::kWide);
  const int mean = p.narrow(Opcode::VPU_MULS, p.narrow(Opcode::VPU_RSUM, x), -1, inv_width);
  const int mean_sq = p.narrow(
      Opcode::VPU_MULS, p.narrow(Opcode::VPU_RSUM, p.wide(Opcode::VPU_MUL, x, x)), -1, inv_width);
  const int var = p.narrow(Opcode::VPU_SUB, mean_sq, p.narrow(Opcode::VPU_MUL, mean, mean));
  const int inv = p.narrow(Opcode::VPU_RECIP,
                           p.narrow(Opcode::VPU_ADDS, p.narrow(Opcode::VPU_SQRT, var), -1, 1e-9f));
  p.store(p.wide(Opcode::VPU_MULC, p.wide(Opcode::VPU_SUBC, x, mean), inv), r.out);
  p.emit();
  ctx.mapping = "VPU rows of " + std::to_string(r.width);
}

void lower_lpnorm(OpContext& ctx) {
  const DataType t = row_type(ctx);
  const int64_t order = ctx.attr_int("p", 2);
  if (order != 1 && order != 2) ctx.unsupported("p must be 1 or 2");
  const Reordered r = axes_last(ctx, {ctx.attr_int("axis", -1)});
  RowProgram p(ctx, t, r.rows, r.width);
  const int x = p.load(r.in, SlotShape::kWide);
  const int norm =
      order == 2
          ? p.narrow(Opcode::VPU_SQRT, p.narrow(Opcode::VPU_RSUM, p.wide(Opcode::VPU_MUL, x, x)))
          : p.narrow(Opcode::VPU_RSUM,
                     p.wide(Opcode::VPU_MAX, x, p.wide(Opcode::VPU_MULS, x, -1, -1)));
  p.store(p.wide(Opcode::VPU_MULC, x, p.narrow(Opcode::VPU_RECIP, norm)), r.out);
  p.emit();
  ctx.mapping = "VPU rows of " + std::to_string(r.width);
}

void lower_global_pool(OpContext& ctx) {
  const DataType t = row_type(ctx);
  const TensorView in = ctx.view(ctx.in(0));
  if (in.dims.size() < 3) ctx.unsupported("the input needs batch, channel and spatial axes");
  const int64_t width = product_of(in.dims, 2, in.dims.size());
  RowProgram p(ctx, t, in.dims[0] * in.dims[1], width);
  const int x = p.load(in, SlotShape::kWide);
  const int y = ctx.node.op == "GlobalMaxPool"
                    ? p.narrow(Opcode::VPU_RMAX, x)
                    : p.narrow(Opcode::VPU_MULS, p.narrow(Opcode::VPU_RSUM, x), -1,
                               1.0f / static_cast<float>(width));
  p.store(y, ctx.view(ctx.out(0)));
  p.emit();
  ctx.mapping = "VPU rows of " + std::to_string(width);
}

void lower_argmax(OpContext& ctx) {
  const DataType t = row_type(ctx);
  if (t != DataType::FP32) ctx.unsupported("ArgMax and ArgMin are lowered for f32 inputs");
  if (ctx.type(ctx.out(0)).element != ir::ElementType::I64)
    ctx.unsupported("the output must be i64");
  const Reordered r = axes_last(ctx, {ctx.attr_int("axis", 0)});
  const bool last = ctx.attr_int("select_last_index", 0) != 0;
  const auto width = static_cast<float>(r.width);
  const TensorView weight_row = index_weights(ctx, r.width, last);
  // The i64 output is zeroed, then each index is written as the low 32-bit word of its element
  // (indices are non-negative, so the high word stays zero).
  const TensorView out = ctx.view(ctx.out(0));
  emit_fill(ctx, out, std::vector<uint8_t>(8, 0));
  ctx.sync();
  RowProgram p(ctx, t, r.rows, r.width);
  int x = p.load(r.in, SlotShape::kWide);
  if (ctx.node.op == "ArgMin") x = p.wide(Opcode::VPU_MULS, x, -1, -1);
  const int m = p.narrow(Opcode::VPU_RMAX, x);
  // sign(x - max) is 0 at the maxima and -1 elsewhere: +1 makes the mask.
  const int mask =
      p.wide(Opcode::VPU_ADDS, p.wide(Opcode::VPU_SIGN, p.wide(Opcode::VPU_SUBC, x, m)), -1, 1);
  const int best = p.narrow(Opcode::VPU_RMAX,
                            p.wide(Opcode::VPU_MULB, mask, p.load(weight_row, SlotShape::kRow)));
  const int index =
      last ? p.narrow(Opcode::VPU_ADDS, best, -1, -1)
           : p.narrow(Opcode::VPU_ADDS, p.narrow(Opcode::VPU_MULS, best, -1, -1), -1, width);
  p.store_converted(index, DataType::INT32, TensorView{out.base, 4, {r.rows}, {2}});
  p.emit();
  ctx.mapping = "VPU rows of " + std::to_string(r.width);
}

}  // namespace seedchip::compiler
