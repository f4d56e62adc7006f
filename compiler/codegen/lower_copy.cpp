// Data-movement operators: each is one or more copies between views, run by the stream kernel with
// no VPU program.
#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

#include "compiler/codegen/lowering.h"

namespace seedchip::compiler {

namespace {

// Whether a constant is one floating-point zero of either sign (every bit but the sign clear; the
// sign bit is the top bit of the last byte, little-endian).
bool is_float_zero(const ir::HostTensor* t) {
  if (!t || t->element_count() != 1 || t->bytes.empty()) return false;
  if (t->element != ir::ElementType::F32 && t->element != ir::ElementType::F64 &&
      t->element != ir::ElementType::F16 && t->element != ir::ElementType::BF16)
    return false;
  const std::vector<uint8_t>& b = t->bytes;
  return (b.back() & 0x7f) == 0 &&
         std::all_of(b.begin(), b.end() - 1, [](uint8_t x) { return x == 0; });
}

// A view with dims regrouped as [product before axis, dims[axis], product after].
TensorView around_axis(const TensorView& v, size_t axis) {
  int64_t pre = 1, post = 1;
  for (size_t d = 0; d < axis; ++d) pre *= v.dims[d];
  for (size_t d = axis + 1; d < v.dims.size(); ++d) post *= v.dims[d];
  return v.reshaped({pre, v.dims[axis], post});
}

}  // namespace

// Copies src's elements (in row-major order of its dims) to dst's (same element count).
void emit_copy(OpContext& ctx, const TensorView& src, const TensorView& dst) {
  StreamKernel k;
  k.rows = src.element_count();
  k.slots = {{src.element_bytes, SlotShape::kWide}};
  k.loads = {{0, src}};
  k.stores = {{0, dst}};
  ctx.emit(k);
}

// Writes one element value (`bytes` of it) to every element of `dst`.
void emit_fill(OpContext& ctx, const TensorView& dst, std::vector<uint8_t> element) {
  // The constant is one whole innermost row of the value (up to a cap), read with stride 0 for
  // every other axis: each row is then one long DMA run, and consecutive rows merge into one
  // transfer with pitch 0, rather than one tiny HBM request per element.
  constexpr int64_t kMaxRow = 4096;
  const int64_t inner = dst.dims.empty() ? 1 : std::max<int64_t>(1, dst.dims.back());
  const int64_t row = std::min(inner, kMaxRow);
  ir::HostTensor line;
  line.element = ir::ElementType::U8;
  line.dims = {row * static_cast<int64_t>(element.size())};
  for (int64_t i = 0; i < row; ++i)
    line.bytes.insert(line.bytes.end(), element.begin(), element.end());
  const int64_t at = ctx.add_constant(std::move(line));
  TensorView src{at, dst.element_bytes, dst.dims, std::vector<int64_t>(dst.dims.size(), 0)};
  // Rows longer than the cap read the constant's first element over and over (slower, same bytes).
  if (row == inner && !dst.dims.empty()) src.strides.back() = 1;
  emit_copy(ctx, src, dst);
}

void lower_identity(OpContext& ctx) {
  if (ctx.node.op == "Dropout" && ctx.in(2) != ir::kNoValue) {
    const ir::HostTensor* training = ctx.constant(ctx.in(2));
    if (!training) ctx.unsupported("training_mode is computed at run time");
    // Training drops elements at random, unless the ratio is 0 (which keeps them all).
    if (!training->bytes.empty() && training->bytes[0] != 0 &&
        !is_float_zero(ctx.constant(ctx.in(1))))
      ctx.unsupported("training mode with a ratio other than 0 drops elements at random");
  }
  emit_copy(ctx, ctx.view(ctx.in(0)), ctx.view(ctx.out(0)));
  // Inference (or a ratio of 0) keeps every element: the optional mask is all true.
  if (ctx.out(1) != ir::kNoValue) emit_fill(ctx, ctx.view(ctx.out(1)), {1});
  ctx.mapping = "copy";
}

void lower_depth_to_space(OpContext& ctx) {
  const TensorView in = ctx.view(ctx.in(0));
  if (in.dims.size() != 4) ctx.unsupported("the input must be 4-D");
  const int64_t b = ctx.attr_int("blocksize", 0);
  if (b < 1) ctx.unsupported("blocksize must be positive");
  const int64_t n = in.dims[0], c = in.dims[1], h = in.dims[2], w = in.dims[3];
  TensorView src = in;
  if (ctx.node.op == "DepthToSpace") {
    if (c % (b * b)) ctx.unsupported("channels are not a multiple of blocksize^2");
    if (ctx.attr_string("mode", "DCR") == "CRD")
      src = in.reshaped({n, c / (b * b), b, b, h, w}).permuted({0, 1, 4, 2, 5, 3});
    else
      src = in.reshaped({n, b, b, c / (b * b), h, w}).permuted({0, 3, 4, 1, 5, 2});
  } else {
    if (h % b || w % b) ctx.unsupported("height or width is not a multiple of blocksize");
    src = in.reshaped({n, c, h / b, b, w / b, b}).permuted({0, 3, 5, 1, 2, 4});
  }
  emit_copy(ctx, src, ctx.view(ctx.out(0)));
  ctx.mapping = "strided copy";
}

void lower_trilu(OpContext& ctx) {
  const TensorView in = ctx.view(ctx.in(0)), out = ctx.view(ctx.out(0));
  const size_t rank = in.dims.size();
  if (rank < 2) ctx.unsupported("the input needs two dimensions");
  int64_t k = 0;
  if (ctx.in(1) != ir::kNoValue) k = ctx.constant_ints(ctx.in(1), "k").at(0);
  const bool upper = ctx.attr_int("upper", 1) != 0;
  const int64_t rows = in.dims[rank - 2], cols = in.dims[rank - 1];
  // Zeros everywhere, then each row's kept columns (j - i >= k upper, <= k lower) copied
  // exactly, whatever the element type (a multiplication by a mask would turn inf into NaN).
  emit_fill(ctx, out, std::vector<uint8_t>(static_cast<size_t>(in.element_bytes), 0));
  ctx.sync();
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t lo = upper ? std::clamp(i + k, int64_t{0}, cols) : 0;
    const int64_t hi = upper ? cols : std::clamp(i + k + 1, int64_t{0}, cols);
    if (lo >= hi) continue;
    emit_copy(ctx, in.sliced(rank - 2, i, 1, 1).sliced(rank - 1, lo, hi - lo, 1),
              out.sliced(rank - 2, i, 1, 1).sliced(rank - 1, lo, hi - lo, 1));
  }
  ctx.mapping = "fill, then a strided copy per row";
}

void lower_reshape(OpContext& ctx) {
  // Same bytes in the same order: the output's dims only say how to read them.
  const TensorView out = ctx.view(ctx.out(0));
  emit_copy(ctx, ctx.view(ctx.in(0)).reshaped(out.dims), out);
  ctx.mapping = "copy";
}

void lower_transpose(OpContext& ctx) {
  const TensorView in = ctx.view(ctx.in(0));
  std::vector<int64_t> perm = ctx.attr_ints("perm");
  if (perm.empty()) {
    perm.resize(in.dims.size());
    std::iota(perm.rbegin(), perm.rend(), 0);
  }
  emit_copy(ctx, in.permuted(perm), ctx.view(ctx.out(0)));
  ctx.mapping = "strided copy";
}

void lower_expand(OpContext& ctx) {
  const TensorView out = ctx.view(ctx.out(0));
  emit_copy(ctx, ctx.view(ctx.in(0)).broadcast_to(out.dims), out);
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
    const auto axis = ctx.axis(axes[i], rank);
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
  emit_copy(ctx, v, ctx.view(ctx.out(0)));
  ctx.mapping = "strided copy";
}

void lower_concat(OpContext& ctx) {
  const TensorView out = ctx.view(ctx.out(0));
  const auto axis = ctx.axis(ctx.attr_int("axis", 0), out.dims.size());
  int64_t at = 0;
  for (size_t i = 0; i < ctx.inputs(); ++i) {
    const TensorView in = ctx.view(ctx.in(i));
    emit_copy(ctx, in, out.sliced(axis, at, in.dims[axis], 1));
    at += in.dims[axis];
  }
  ctx.mapping = "one strided copy per input";
}

void lower_split(OpContext& ctx) {
  const TensorView in = ctx.view(ctx.in(0));
  const auto axis = ctx.axis(ctx.attr_int("axis", 0), in.dims.size());
  int64_t at = 0;
  for (size_t o = 0; o < ctx.node.outputs.size(); ++o) {
    if (ctx.out(o) == ir::kNoValue) continue;
    const TensorView out = ctx.view(ctx.out(o));
    emit_copy(ctx, in.sliced(axis, at, out.dims[axis], 1), out);
    at += out.dims[axis];
  }
  ctx.mapping = "one strided copy per output";
}

void lower_gather(OpContext& ctx) {
  if (!ctx.constant(ctx.in(1))) return lower_gather_indexed(ctx);
  const TensorView in = ctx.view(ctx.in(0));
  const auto axis = ctx.axis(ctx.attr_int("axis", 0), in.dims.size());
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
    emit_copy(ctx, grouped.sliced(1, idx, 1, 1), out.sliced(1, p, 1, 1));
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
  emit_copy(ctx, src, dst);
  ctx.mapping = "broadcast copy";
}

void lower_pad(OpContext& ctx) {
  const TensorView in = ctx.view(ctx.in(0)), out = ctx.view(ctx.out(0));
  const size_t rank = in.dims.size();
  std::vector<int64_t> pads;
  if (ctx.graph.opset_version() >= 11) {
    pads = ctx.constant_ints(ctx.in(1), "pads");
  } else {
    pads = ctx.attr_ints("pads");
    if (pads.empty()) pads = ctx.attr_ints("paddings");  // opset 1's name
  }
  // pads: the begins of the padded axes (all, or opset 18's `axes`), then their ends.
  std::vector<size_t> axes;
  if (ctx.in(3) != ir::kNoValue) {
    for (int64_t a : ctx.constant_ints(ctx.in(3), "axes")) axes.push_back(ctx.axis(a, rank));
  } else {
    for (size_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  if (pads.size() != 2 * axes.size())
    ctx.unsupported("pads must hold a begin and an end for every padded axis");
  std::vector<int64_t> begin(rank, 0), end(rank, 0);
  for (size_t k = 0; k < axes.size(); ++k) {
    begin[axes[k]] = pads[k];
    end[axes[k]] = pads[k + axes.size()];
  }
  const std::string mode = ctx.attr_string("mode", "constant");
  if (mode != "constant" && mode != "edge" && mode != "reflect" && mode != "wrap")
    ctx.unsupported("mode '" + mode + "' is not one of constant, edge, reflect, wrap");
  // The part of the input that is kept (a negative pad crops) and where it lands.
  TensorView src = in, interior = out;
  bool padded = false;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t crop_begin = std::max<int64_t>(0, -begin[d]);
    const int64_t keep = in.dims[d] - crop_begin - std::max<int64_t>(0, -end[d]);
    if (keep < 0) ctx.unsupported("pads crop more than the input holds");
    if (mode != "constant" && (begin[d] < 0 || end[d] < 0))
      ctx.unsupported("negative pads (cropping) are lowered in constant mode only");
    src = src.sliced(d, crop_begin, keep, 1);
    interior = interior.sliced(d, std::max<int64_t>(0, begin[d]), keep, 1);
    padded = padded || begin[d] > 0 || end[d] > 0;
  }
  if (mode == "constant" && padded) {
    const ir::ValueId value = ctx.graph.opset_version() >= 11 ? ctx.in(2) : ir::kNoValue;
    const auto bytes = static_cast<size_t>(out.element_bytes);
    if (const ir::HostTensor* c = ctx.constant(value)) {
      if (c->bytes.size() < bytes) ctx.unsupported("constant_value holds no element");
      emit_fill(ctx, out, std::vector<uint8_t>(c->bytes.begin(), c->bytes.begin() + bytes));
    } else if (value != ir::kNoValue) {  // computed at run time: read with stride 0
      emit_copy(ctx, ctx.view(value).broadcast_to(out.dims), out);
    } else {
      const float v = ctx.attr_float("value", 0.0f);
      std::vector<uint8_t> element(bytes, 0);
      if (ctx.type(ctx.out(0)).element == ir::ElementType::F32)
        std::memcpy(element.data(), &v, 4);
      else if (v != 0)
        ctx.unsupported("a non-zero value attribute is lowered for f32 tensors only");
      emit_fill(ctx, out, element);
    }
    ctx.sync();
  }
  emit_copy(ctx, src, interior);
  if (mode == "constant") {
    ctx.mapping = padded ? "fill, then a strided copy" : "strided copy";
    return;
  }
  // Axis by axis, as numpy pads: axis d's borders are copied from its interior, across the whole
  // (already padded) extent of the axes before d and the interior of those after it.
  TensorView region = interior;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t n = in.dims[d], b = begin[d], e = end[d];
    if (b == 0 && e == 0) continue;
    if (mode == "edge" && n == 0) ctx.unsupported("edge padding of an empty axis");
    if (mode == "reflect" && std::max(b, e) > n - 1)
      ctx.unsupported("reflect pads beyond the axis size - 1 (reflecting again) are not lowered");
    if (mode == "wrap" && std::max(b, e) > n)
      ctx.unsupported("wrap pads beyond the axis size (wrapping again) are not lowered");
    ctx.sync();
    // Sources: edge repeats the first or last element (stride 0); reflect walks back from the
    // element next to the edge (stride -1); wrap takes the other end's elements.
    if (b > 0) {
      const TensorView from = mode == "edge"      ? region.sliced(d, 0, b, 0)
                              : mode == "reflect" ? region.sliced(d, b, b, -1)
                                                  : region.sliced(d, n - b, b, 1);
      emit_copy(ctx, from, region.sliced(d, -b, b, 1));
    }
    if (e > 0) {
      const TensorView from = mode == "edge"      ? region.sliced(d, n - 1, e, 0)
                              : mode == "reflect" ? region.sliced(d, n - 2, e, -1)
                                                  : region.sliced(d, 0, e, 1);
      emit_copy(ctx, from, region.sliced(d, n, e, 1));
    }
    region = region.sliced(d, -b, out.dims[d], 1);
  }
  ctx.mapping = "strided copy, then " + mode + " borders axis by axis";
}

void lower_constant_of_shape(OpContext& ctx) {
  const TensorView out = ctx.view(ctx.out(0));
  std::vector<uint8_t> element(static_cast<size_t>(out.element_bytes), 0);  // default: f32 0
  if (const auto* value = ctx.node.attribute<ir::HostTensorPtr>("value"); value && *value) {
    if ((*value)->element_count() != 1) ctx.unsupported("value must hold one element");
    element = (*value)->bytes;
  }
  if (out.element_count() > 0) emit_fill(ctx, out, element);
  ctx.mapping = "fill";
}

void lower_eye_like(OpContext& ctx) {
  const TensorView out = ctx.view(ctx.out(0));
  if (out.dims.size() != 2) ctx.unsupported("EyeLike takes a 2-D tensor");
  // One in the output's element type: integers and bool are 1, floats their encoding of 1.0.
  std::vector<uint8_t> one(static_cast<size_t>(out.element_bytes), 0);
  switch (ctx.type(ctx.out(0)).element) {
    case ir::ElementType::F32: {
      const float f = 1;
      std::memcpy(one.data(), &f, 4);
      break;
    }
    case ir::ElementType::F16:
      one = {0x00, 0x3c};
      break;
    case ir::ElementType::BF16:
      one = {0x80, 0x3f};
      break;
    case ir::ElementType::F64:
    case ir::ElementType::C64:
    case ir::ElementType::C128:
    case ir::ElementType::String:
    case ir::ElementType::Undefined:
      ctx.unsupported("EyeLike of element type " +
                      std::string(ir::element_name(ctx.type(ctx.out(0)).element)));
    default:
      one[0] = 1;  // little-endian integers and bool
  }
  emit_fill(ctx, out, std::vector<uint8_t>(one.size(), 0));
  const int64_t rows = out.dims[0], cols = out.dims[1], k = ctx.attr_int("k", 0);
  const int64_t first_row = std::max<int64_t>(0, -k), first_col = std::max<int64_t>(0, k);
  const int64_t length = std::min(rows - first_row, cols - first_col);
  if (length > 0) {
    ctx.sync();
    const TensorView diagonal{out.base + (first_row * cols + first_col) * out.element_bytes,
                              out.element_bytes,
                              {length},
                              {cols + 1}};
    emit_fill(ctx, diagonal, one);
  }
  ctx.mapping = "fill, then the diagonal";
}

}  // namespace seedchip::compiler
