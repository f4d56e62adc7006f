// Data-movement operators: each is one or more copies between views, run by the stream kernel with
// no VPU program.
#include <algorithm>
#include <limits>
#include <numeric>

#include "compiler/codegen/lowering.h"

namespace seedchip::compiler {

namespace {

// Copies src's elements (in row-major order of its dims) to dst's (same element count).
void copy(OpContext& ctx, const TensorView& src, const TensorView& dst) {
  StreamKernel k;
  k.rows = src.element_count();
  k.slots = {{src.element_bytes, SlotShape::kWide}};
  k.loads = {{0, src}};
  k.stores = {{0, dst}};
  ctx.emit(k);
}

int64_t normalize_axis(OpContext& ctx, int64_t axis, size_t rank) {
  const auto r = static_cast<int64_t>(rank);
  if (axis < -r || axis >= r)
    ctx.unsupported("axis " + std::to_string(axis) + " is outside [-" + std::to_string(r) + ", " +
                    std::to_string(r) + ")");
  return axis < 0 ? axis + r : axis;
}

// A view with dims regrouped as [product before axis, dims[axis], product after].
TensorView around_axis(const TensorView& v, size_t axis) {
  int64_t pre = 1, post = 1;
  for (size_t d = 0; d < axis; ++d) pre *= v.dims[d];
  for (size_t d = axis + 1; d < v.dims.size(); ++d) post *= v.dims[d];
  return v.reshaped({pre, v.dims[axis], post});
}

}  // namespace

void lower_identity(OpContext& ctx) {
  if (ctx.out(1) != ir::kNoValue) ctx.unsupported("the dropout mask output is not supported");
  if (ctx.node.op == "Dropout" && ctx.in(2) != ir::kNoValue) {
    const ir::HostTensor* training = ctx.constant(ctx.in(2));
    if (!training || (!training->bytes.empty() && training->bytes[0] != 0))
      ctx.unsupported("training mode is not supported");
  }
  copy(ctx, ctx.view(ctx.in(0)), ctx.view(ctx.out(0)));
  ctx.mapping = "copy";
}

void lower_reshape(OpContext& ctx) {
  // Same bytes in the same order: the output's dims only say how to read them.
  const TensorView out = ctx.view(ctx.out(0));
  copy(ctx, ctx.view(ctx.in(0)).reshaped(out.dims), out);
  ctx.mapping = "copy";
}

void lower_transpose(OpContext& ctx) {
  const TensorView in = ctx.view(ctx.in(0));
  std::vector<int64_t> perm = ctx.attr_ints("perm");
  if (perm.empty()) {
    perm.resize(in.dims.size());
    std::iota(perm.rbegin(), perm.rend(), 0);
  }
  copy(ctx, in.permuted(perm), ctx.view(ctx.out(0)));
  ctx.mapping = "strided copy";
}

void lower_expand(OpContext& ctx) {
  const TensorView out = ctx.view(ctx.out(0));
  copy(ctx, ctx.view(ctx.in(0)).broadcast_to(out.dims), out);
  ctx.mapping = "broadcast copy (stride-0 loads)";
}

void lower_slice(OpContext& ctx) {
  TensorView v = ctx.view(ctx.in(0));
  const size_t rank = v.dims.size();
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.graph.opset_version() >= 10) {
    starts = ctx.constant_ints(ctx.in(1), "starts");
    ends = ctx.constant_ints(ctx.in(2), "ends");
    if (ctx.in(3) != ir::kNoValue) axes = ctx.constant_ints(ctx.in(3), "axes");
    if (ctx.in(4) != ir::kNoValue) steps = ctx.constant_ints(ctx.in(4), "steps");
  } else {
    starts = ctx.attr_ints("starts");
    ends = ctx.attr_ints("ends");
    axes = ctx.attr_ints("axes");
  }
  if (axes.empty()) {
    axes.resize(starts.size());
    std::iota(axes.begin(), axes.end(), 0);
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    ctx.unsupported("starts, ends, axes and steps differ in length");
  for (size_t i = 0; i < starts.size(); ++i) {
    const auto axis = static_cast<size_t>(normalize_axis(ctx, axes[i], rank));
    const int64_t d = v.dims[axis], step = steps[i];
    if (step == 0) ctx.unsupported("a slice step of 0");
    auto clamp = [](int64_t x, int64_t lo, int64_t hi) { return std::max(lo, std::min(x, hi)); };
    int64_t s = starts[i], e = ends[i];
    if (s < 0) s = s < -d ? -1 : s + d;  // clamped below, so -infinity stays at the low end
    if (e < 0) e = e < -d ? -1 : e + d;
    int64_t count = 0;
    if (step > 0) {
      s = clamp(s, 0, d);
      e = clamp(e, 0, d);
      count = e > s ? (e - s + step - 1) / step : 0;
    } else {
      s = clamp(s, 0, d - 1);
      e = clamp(e, -1, d - 1);
      count = s > e ? (s - e + (-step) - 1) / (-step) : 0;
    }
    v = v.sliced(axis, s, count, step);
  }
  copy(ctx, v, ctx.view(ctx.out(0)));
  ctx.mapping = "strided copy";
}

void lower_concat(OpContext& ctx) {
  const TensorView out = ctx.view(ctx.out(0));
  const auto axis =
      static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), out.dims.size()));
  int64_t at = 0;
  for (size_t i = 0; i < ctx.inputs(); ++i) {
    const TensorView in = ctx.view(ctx.in(i));
    copy(ctx, in, out.sliced(axis, at, in.dims[axis], 1));
    at += in.dims[axis];
  }
  ctx.mapping = "one strided copy per input";
}

void lower_split(OpContext& ctx) {
  const TensorView in = ctx.view(ctx.in(0));
  const auto axis =
      static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), in.dims.size()));
  int64_t at = 0;
  for (size_t o = 0; o < ctx.node.outputs.size(); ++o) {
    if (ctx.out(o) == ir::kNoValue) continue;
    const TensorView out = ctx.view(ctx.out(o));
    copy(ctx, in.sliced(axis, at, out.dims[axis], 1), out);
    at += out.dims[axis];
  }
  ctx.mapping = "one strided copy per output";
}

void lower_gather(OpContext& ctx) {
  const TensorView in = ctx.view(ctx.in(0));
  const auto axis =
      static_cast<size_t>(normalize_axis(ctx, ctx.attr_int("axis", 0), in.dims.size()));
  const std::vector<int64_t> indices = ctx.constant_ints(ctx.in(1), "indices");
  const TensorView grouped = around_axis(in, axis);
  const int64_t count = static_cast<int64_t>(indices.size());
  const TensorView out = ctx.view(ctx.out(0)).reshaped({grouped.dims[0], count, grouped.dims[2]});
  for (int64_t p = 0; p < count; ++p) {
    int64_t idx = indices[static_cast<size_t>(p)];
    const int64_t d = grouped.dims[1];
    if (idx < -d || idx >= d)
      throw InputError("graph '" + ctx.graph.name + "': " + ctx.node.label(ctx.index) + ": index " +
                       std::to_string(idx) + " is outside [-" + std::to_string(d) + ", " +
                       std::to_string(d) + ")");
    if (idx < 0) idx += d;
    copy(ctx, grouped.sliced(1, idx, 1, 1), out.sliced(1, p, 1, 1));
  }
  ctx.mapping = std::to_string(count) + " strided copies";
}

void lower_tile(OpContext& ctx) {
  const TensorView in = ctx.view(ctx.in(0));
  const std::vector<int64_t> repeats = ctx.constant_ints(ctx.in(1), "repeats");
  if (repeats.size() != in.dims.size()) ctx.unsupported("repeats must have one entry per axis");
  const TensorView out = ctx.view(ctx.out(0));
  // Output axis k as [repeat, dim]: the input read with stride 0 along each repeat.
  TensorView src{in.base, in.element_bytes, {}, {}}, dst{out.base, out.element_bytes, {}, {}};
  for (size_t k = 0; k < in.dims.size(); ++k) {
    src.dims.insert(src.dims.end(), {repeats[k], in.dims[k]});
    src.strides.insert(src.strides.end(), {0, in.strides[k]});
    dst.dims.insert(dst.dims.end(), {repeats[k], in.dims[k]});
    dst.strides.insert(dst.strides.end(), {in.dims[k] * out.strides[k], out.strides[k]});
  }
  copy(ctx, src, dst);
  ctx.mapping = "broadcast copy";
}

}  // namespace seedchip::compiler
