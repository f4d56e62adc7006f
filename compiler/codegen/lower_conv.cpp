// Convolution and pooling. Both read the (padded) input through one strided view of every window,
// dims [N, C, O1..Ok, K1..Kk]: output position o and kernel offset j of axis i sit at
// o * stride + j * dilation of the padded axis. Convolution feeds that view, reordered to
// [N, O..., C, K...], to the MXU as the im2col matrix (no copy of it is ever made: the BF16 split
// kernel reads through the view) against the weights read as [C x K..., M]; pooling reduces the
// kernel axes of each row with vpu.rmax or vpu.rsum.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "compiler/codegen/lowering.h"

namespace seedchip::compiler {

namespace {

using isa::Opcode;

struct Window {
  int64_t in = 0, out = 0, kernel = 1, stride = 1, dilation = 1, pad_begin = 0, pad_end = 0;
  int64_t explicit_pad_end = 0;  // pad_end before widening for ceil_mode
};

// The window geometry of each spatial axis, from the attributes and the inferred output dims.
// Padding is widened at the end where the output (ceil_mode) needs windows past the pads.
std::vector<Window> windows_of(OpContext& ctx, const std::vector<int64_t>& x_dims,
                               const std::vector<int64_t>& y_dims,
                               const std::vector<int64_t>& kernel) {
  const size_t k = x_dims.size() - 2;
  if (kernel.size() != k) ctx.unsupported("kernel_shape does not match the spatial axes");
  const std::vector<int64_t> strides = ctx.attr_ints("strides"),
                             dilations = ctx.attr_ints("dilations"), pads = ctx.attr_ints("pads");
  const std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  std::vector<Window> w(k);
  for (size_t i = 0; i < k; ++i) {
    Window& a = w[i];
    a.in = x_dims[2 + i];
    a.out = y_dims[2 + i];
    a.kernel = kernel[i];
    a.stride = strides.empty() ? 1 : strides.at(i);
    a.dilation = dilations.empty() ? 1 : dilations.at(i);
    const int64_t needed = (a.out - 1) * a.stride + (a.kernel - 1) * a.dilation + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t total = std::max<int64_t>(0, needed - a.in);
      a.pad_begin = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      a.pad_end = total - a.pad_begin;
    } else if (auto_pad == "NOTSET") {
      if (!pads.empty()) {
        a.pad_begin = pads.at(i);
        a.pad_end = pads.at(i + k);
      }
    } else if (auto_pad != "VALID") {
      ctx.unsupported("auto_pad '" + auto_pad + "'");
    }
    if (a.pad_begin < 0 || a.pad_end < 0) ctx.unsupported("negative pads");
    a.explicit_pad_end = a.pad_end;
    a.pad_end = std::max(a.pad_end, needed - a.in - a.pad_begin);
  }
  return w;
}

// The input with its padding materialised in scratch (filled with `pad_value` first), or the
// input itself when no axis is padded.
TensorView padded(OpContext& ctx, const TensorView& x, const std::vector<Window>& w,
                  const std::vector<uint8_t>& pad_value) {
  const bool any = std::any_of(w.begin(), w.end(),
                               [](const Window& a) { return a.pad_begin > 0 || a.pad_end > 0; });
  if (!any) return x;
  std::vector<int64_t> dims = {x.dims[0], x.dims[1]};
  for (const Window& a : w) dims.push_back(a.pad_begin + a.in + a.pad_end);
  int64_t count = 1;
  for (int64_t d : dims) count *= d;
  const TensorView p =
      TensorView::contiguous(ctx.scratch(count * x.element_bytes), x.element_bytes, dims);
  emit_fill(ctx, p, pad_value);
  ctx.sync();
  TensorView interior = p;
  for (size_t i = 0; i < w.size(); ++i)
    interior = interior.sliced(2 + i, w[i].pad_begin, w[i].in, 1);
  emit_copy(ctx, x, interior);
  ctx.sync();
  return p;
}

// Every window of the padded input: dims [N, C, O1..Ok, K1..Kk].
TensorView windows_view(const TensorView& p, const std::vector<Window>& w) {
  TensorView v{p.base, p.element_bytes, {p.dims[0], p.dims[1]}, {p.strides[0], p.strides[1]}};
  for (size_t i = 0; i < w.size(); ++i) {
    v.dims.push_back(w[i].out);
    v.strides.push_back(w[i].stride * p.strides[2 + i]);
  }
  for (size_t i = 0; i < w.size(); ++i) {
    v.dims.push_back(w[i].kernel);
    v.strides.push_back(w[i].dilation * p.strides[2 + i]);
  }
  return v;
}

std::vector<uint8_t> f32_bytes(float v) {
  std::vector<uint8_t> b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}

// The products of each group, `a_of(g)` ([N x O..., C/g x K...]) times `b_of(g)`
// ([C/g x K..., M/g]), written into y ([N, M, O...]) with the bias added and the activation of a
// seedchip::FusedConv applied.
template <class AOf, class BOf>
void grouped_products(OpContext& ctx, const TensorView& y, int64_t group, int64_t rows, int64_t k,
                      AOf a_of, BOf b_of) {
  const int64_t n = y.dims[0], mg = y.dims[1] / group;
  const size_t spatial = y.dims.size() - 2;
  // A seedchip::FusedConv's activation runs in the pass that adds the bias (or copies).
  const std::vector<GemmEpilogue::Step> activation = activation_steps(ctx);
  std::vector<int64_t> results;
  for (int64_t g = 0; g < group; ++g) {
    results.push_back(ctx.scratch(rows * mg * 4));
    emit_matmul_2d(ctx, a_of(g), rows, k, b_of(g), mg, results.back());
  }
  ctx.sync();
  // Each group's [N, O..., M/g] result into the output's [N, M, O...], adding the bias.
  std::vector<int64_t> to_output = {0, static_cast<int64_t>(spatial + 1)};
  for (size_t i = 0; i < spatial; ++i) to_output.push_back(static_cast<int64_t>(1 + i));
  for (int64_t g = 0; g < group; ++g) {
    std::vector<int64_t> result_dims = {n};
    for (size_t i = 0; i < spatial; ++i) result_dims.push_back(y.dims[2 + i]);
    result_dims.push_back(mg);
    const TensorView result =
        TensorView::contiguous(results[static_cast<size_t>(g)], 4, result_dims).permuted(to_output);
    const TensorView out = y.sliced(1, g * mg, mg, 1);
    const bool with_bias = ctx.in(2) != ir::kNoValue;
    if (!with_bias && activation.empty()) {
      emit_copy(ctx, result, out);
      continue;
    }
    StreamKernel pass;
    pass.rows = out.element_count();
    pass.slots = {{4, SlotShape::kWide}, {4, SlotShape::kWide}, {4, SlotShape::kWide}};
    pass.loads = {{0, result}};
    int last = 0;
    if (with_bias) {
      const TensorView bias_vec = ctx.view(ctx.in(2));
      TensorView bias{bias_vec.base + g * mg * 4, 4, out.dims,
                      std::vector<int64_t>(out.dims.size(), 0)};
      bias.strides[1] = 1;
      pass.loads.push_back({1, bias});
      pass.steps = {{Opcode::VPU_ADD, 2, 0, 1}};
      last = 2;
    }
    for (const GemmEpilogue::Step& a : activation)
      pass.steps.push_back({a.op, last, last, -1, a.c});
    pass.stores = {{last, out}};
    ctx.emit(pass);
  }
}

void require_f32_conv(OpContext& ctx) {
  for (size_t i = 0; i < 3; ++i)
    if (ctx.in(i) != ir::kNoValue && ctx.type(ctx.in(i)).element != ir::ElementType::F32)
      ctx.unsupported("convolution is lowered for f32 tensors");
}

}  // namespace

void lower_conv(OpContext& ctx) {
  require_f32_conv(ctx);
  const TensorView x = ctx.view(ctx.in(0)), w = ctx.view(ctx.in(1)), y = ctx.view(ctx.out(0));
  if (x.dims.size() < 3) ctx.unsupported("the input needs batch, channel and spatial axes");
  const size_t k = x.dims.size() - 2;
  std::vector<int64_t> kernel = ctx.attr_ints("kernel_shape");
  if (kernel.empty()) kernel.assign(w.dims.begin() + 2, w.dims.end());
  const std::vector<Window> win = windows_of(ctx, x.dims, y.dims, kernel);
  const int64_t group = ctx.attr_int("group", 1);
  const int64_t n = x.dims[0], c = x.dims[1], m = w.dims[0];
  if (group < 1 || c % group || m % group) ctx.unsupported("group does not divide the channels");
  const int64_t cg = c / group, mg = m / group;
  int64_t positions = 1, taps = 1;
  for (const Window& a : win) {
    positions *= a.out;
    taps *= a.kernel;
  }
  const TensorView all = windows_view(padded(ctx, x, win, f32_bytes(0.0f)), win);
  // [N, C, O..., K...] -> [N, O..., C, K...]: rows are output positions, columns C x K.
  std::vector<int64_t> im2col = {0};
  for (size_t i = 0; i < k; ++i) im2col.push_back(static_cast<int64_t>(2 + i));
  im2col.push_back(1);
  for (size_t i = 0; i < k; ++i) im2col.push_back(static_cast<int64_t>(2 + k + i));
  // Weights [M, C/g, K...] read as [C/g, K..., M/g] per group.
  std::vector<int64_t> weights_t;
  for (size_t i = 1; i < w.dims.size(); ++i) weights_t.push_back(static_cast<int64_t>(i));
  weights_t.push_back(0);
  grouped_products(
      ctx, y, group, n * positions, cg * taps,
      [&](int64_t g) { return all.sliced(1, g * cg, cg, 1).permuted(im2col); },
      [&](int64_t g) { return w.sliced(0, g * mg, mg, 1).permuted(weights_t); });
  ctx.mapping = "im2col view, " + ctx.mapping + ", bias" +
                (ctx.attr_string("activation", "none") != "none" ? ", activation" : "") +
                " and layout on the VPU";
}

namespace {

// An i8 or u8 tensor as f32 in scratch (exact), for max pooling: the VPU orders INT8 as signed, so
// u8 bytes, which the conversion sign-extends, get 256 added where negative:
// x - 256 sign(min(x, 0)), with min(x, 0) = x - relu(x).
TensorView widened_to_f32(OpContext& ctx, const TensorView& x, bool is_unsigned) {
  const TensorView wide = TensorView::contiguous(ctx.scratch(x.element_count() * 4), 4, x.dims);
  StreamKernel k;
  k.rows = x.element_count();
  k.slots = {{1, SlotShape::kWide}, {4, SlotShape::kWide}};
  k.loads = {{0, x}};
  k.steps = {{Opcode::VPU_CVT, 1, 0, -1, 0, DataType::INT8, DataType::FP32}};
  if (is_unsigned) {
    for (int i = 0; i < 5; ++i) k.slots.push_back({4, SlotShape::kWide});
    k.steps.insert(k.steps.end(), {{Opcode::VPU_RELU, 2, 1},
                                   {Opcode::VPU_SUB, 3, 1, 2},
                                   {Opcode::VPU_SIGN, 4, 3},
                                   {Opcode::VPU_MULS, 5, 4, -1, -256},
                                   {Opcode::VPU_ADD, 6, 1, 5}});
  }
  k.stores = {{static_cast<int>(k.slots.size()) - 1, wide}};
  ctx.emit(k);
  ctx.sync();
  return wide;
}

// A constant f32 tensor of `dims` with `values`, as a dense view.
TensorView f32_constant(OpContext& ctx, const std::vector<int64_t>& dims,
                        const std::vector<float>& values) {
  return TensorView::contiguous(
      ctx.add_constant(ir::host_tensor(ir::ElementType::F32, dims, values)), 4, dims);
}

// MaxPool's Indices output: for each window, the flat input index of its first maximum in the
// window's tap order (ONNX's reference keeps the first of equal maxima), counted over N x C x
// spatial, row-major (storage_order 0) or with the spatial axes column-major (1). Continues the
// pooling kernel `k`, whose slot 0 holds the window's taps and slot 1 their maximum:
//   mask   = sign(x - max) + 1               (1 at the maxima)
//   first  = mask x (taps - j), its row max  (the first maximum scores highest)
//   onehot = sign(first_j - best) + 1
//   index  = sum(onehot x spatial index of tap j) + (n C + c) x spatial size
// in f32, exact while the indices stay below 2^24; stored as the low words of the zeroed i64
// output (indices are non-negative, so the high words stay zero).
void add_pool_indices(OpContext& ctx, StreamKernel& k, const std::vector<Window>& win,
                      const std::vector<int64_t>& x_dims, int64_t positions, int64_t taps) {
  const int64_t planes = x_dims[0] * x_dims[1];
  int64_t spatial = 1;
  for (const Window& a : win) spatial *= a.in;
  if (planes * spatial >= (int64_t{1} << 24))
    ctx.unsupported("the Indices output needs flat indices below 2^24 (f32 on the VPU)");
  const bool column_major = ctx.attr_int("storage_order", 0) != 0;
  // Each spatial axis's weight in the flat index.
  std::vector<int64_t> axis_weight(win.size(), 1);
  if (column_major)
    for (size_t i = 1; i < win.size(); ++i) axis_weight[i] = axis_weight[i - 1] * win[i - 1].in;
  else
    for (size_t i = win.size() - 1; i-- > 0;) axis_weight[i] = axis_weight[i + 1] * win[i + 1].in;
  std::vector<float> tap_index(static_cast<size_t>(positions * taps), 0.0f);
  for (int64_t pos = 0; pos < positions; ++pos)
    for (int64_t tap = 0; tap < taps; ++tap) {
      int64_t pos_rest = pos, tap_rest = tap, index = 0;
      bool inside = true;
      for (size_t i = win.size(); i-- > 0;) {
        const Window& a = win[i];
        const int64_t o = pos_rest % a.out, j = tap_rest % a.kernel;
        pos_rest /= a.out;
        tap_rest /= a.kernel;
        const int64_t at = o * a.stride + j * a.dilation - a.pad_begin;
        inside = inside && at >= 0 && at < a.in;
        index += at * axis_weight[i];
      }
      // A padding tap holds -inf and is never the first maximum of a window with an input in it.
      tap_index[static_cast<size_t>(pos * taps + tap)] = inside ? static_cast<float>(index) : 0.0f;
    }
  std::vector<float> tie_weight(static_cast<size_t>(taps)),
      plane_offset(static_cast<size_t>(planes));
  for (int64_t j = 0; j < taps; ++j)
    tie_weight[static_cast<size_t>(j)] = static_cast<float>(taps - j);
  for (int64_t q = 0; q < planes; ++q)
    plane_offset[static_cast<size_t>(q)] = static_cast<float>(q * spatial);
  // Views over the kernel's rows (N, C, positions) and taps: tap indices repeat for every plane,
  // plane offsets for every position.
  const TensorView tap_view{f32_constant(ctx, {positions, taps}, tap_index).base,
                            4,
                            {planes, positions, taps},
                            {0, taps, 1}};
  const TensorView offset_view{
      f32_constant(ctx, {planes}, plane_offset).base, 4, {planes, positions}, {1, 0}};
  const TensorView tie_view = f32_constant(ctx, {taps}, tie_weight);

  auto slot = [&](SlotShape shape, int64_t bytes = 4) {
    k.slots.push_back({bytes, shape});
    return static_cast<int>(k.slots.size()) - 1;
  };
  auto step = [&](Opcode op, SlotShape shape, int a, int b = -1, float c = 0) {
    const int d = slot(shape);
    k.steps.push_back({op, d, a, b, c});
    return d;
  };
  auto load = [&](const TensorView& view, SlotShape shape) {
    const int d = slot(shape);
    k.loads.push_back({d, view});
    return d;
  };
  using enum SlotShape;
  const int mask = step(Opcode::VPU_ADDS, kWide,
                        step(Opcode::VPU_SIGN, kWide, step(Opcode::VPU_SUBC, kWide, 0, 1)), -1, 1);
  const int first = step(Opcode::VPU_MULB, kWide, mask, load(tie_view, kRow));
  const int best = step(Opcode::VPU_RMAX, kNarrow, first);
  const int onehot =
      step(Opcode::VPU_ADDS, kWide,
           step(Opcode::VPU_SIGN, kWide, step(Opcode::VPU_SUBC, kWide, first, best)), -1, 1);
  const int chosen =
      step(Opcode::VPU_RSUM, kNarrow, step(Opcode::VPU_MUL, kWide, onehot, load(tap_view, kWide)));
  const int index = step(Opcode::VPU_ADD, kNarrow, chosen, load(offset_view, kNarrow));
  const int word = slot(kNarrow);
  k.steps.push_back({Opcode::VPU_CVT, word, index, -1, 0, DataType::FP32, DataType::INT32});
  const TensorView out = ctx.view(ctx.out(1));
  emit_fill(ctx, out, std::vector<uint8_t>(8, 0));
  ctx.sync();
  k.stores.push_back({word, TensorView{out.base, 4, {planes * positions}, {2}}});
}

}  // namespace

void lower_pool(OpContext& ctx) {
  const std::string& op = ctx.node.op;
  const bool indices = ctx.out(1) != ir::kNoValue;
  if (indices && ctx.type(ctx.out(1)).element != ir::ElementType::I64)
    ctx.unsupported("the Indices output must be i64");
  const ir::ElementType element = ctx.type(ctx.in(0)).element;
  const bool bytes =
      op == "MaxPool" && (element == ir::ElementType::U8 || element == ir::ElementType::I8);
  if (element != ir::ElementType::F32 && !bytes)
    ctx.unsupported("pooling is lowered for f32 tensors, and max pooling for i8 and u8 too");
  TensorView x = ctx.view(ctx.in(0));
  const TensorView y = ctx.view(ctx.out(0));
  if (bytes) x = widened_to_f32(ctx, x, element == ir::ElementType::U8);
  if (x.dims.size() < 3) ctx.unsupported("the input needs batch, channel and spatial axes");
  const std::vector<Window> win = windows_of(ctx, x.dims, y.dims, ctx.attr_ints("kernel_shape"));
  const bool max = op == "MaxPool";
  const TensorView all = windows_view(padded(ctx, x, win, f32_bytes(max ? -INFINITY : 0.0f)), win);
  int64_t positions = 1, taps = 1;
  for (const Window& a : win) {
    positions *= a.out;
    taps *= a.kernel;
  }
  StreamKernel k;
  k.rows = x.dims[0] * x.dims[1] * positions;
  k.width = taps;
  k.slots = {{4, SlotShape::kWide}, {4, SlotShape::kNarrow}};
  k.loads = {{0, all}};
  k.steps = {{max ? Opcode::VPU_RMAX : Opcode::VPU_RSUM, 1, 0}};
  if (!max) {
    // Divide by the taps that fall inside the input (and the explicit pads, with
    // count_include_pad): a constant per output position, the same for every (n, c).
    const bool include_pad = ctx.attr_int("count_include_pad", 0) != 0;
    ir::HostTensor divisor;
    divisor.element = ir::ElementType::F32;
    std::vector<int64_t> out_dims;
    for (const Window& a : win) out_dims.push_back(a.out);
    divisor.dims = out_dims;
    divisor.bytes.resize(static_cast<size_t>(positions) * 4);
    for (int64_t pos = 0; pos < positions; ++pos) {
      int64_t rest = pos, count = 1;
      for (size_t i = win.size(); i-- > 0;) {
        const Window& a = win[i];
        const int64_t o = rest % a.out;
        rest /= a.out;
        const int64_t lo = include_pad ? 0 : a.pad_begin;
        const int64_t hi = a.pad_begin + a.in + (include_pad ? a.explicit_pad_end : 0);
        int64_t inside = 0;
        for (int64_t j = 0; j < a.kernel; ++j) {
          const int64_t at = o * a.stride + j * a.dilation;
          inside += at >= lo && at < hi;
        }
        count *= inside;
      }
      const float inv = count > 0 ? 1.0f / static_cast<float>(count) : 0.0f;
      std::memcpy(divisor.bytes.data() + pos * 4, &inv, 4);
    }
    const int64_t at = ctx.add_constant(std::move(divisor));
    TensorView per_row{at, 4, {x.dims[0], x.dims[1]}, {0, 0}};
    const TensorView dense = TensorView::contiguous(at, 4, out_dims);
    per_row.dims.insert(per_row.dims.end(), out_dims.begin(), out_dims.end());
    per_row.strides.insert(per_row.strides.end(), dense.strides.begin(), dense.strides.end());
    k.slots.push_back({4, SlotShape::kNarrow});
    k.slots.push_back({4, SlotShape::kNarrow});
    k.loads.push_back({2, per_row});
    k.steps.push_back({Opcode::VPU_MUL, 3, 1, 2});
  }
  k.stores = {{max ? 1 : 3, y}};
  if (bytes) {
    // The maxima back to bytes; u8 values above 127 as their two's complement (m - 256), which
    // the saturating conversion keeps: m - 256 sign(relu(m - 127.5)).
    int m = 1;
    if (element == ir::ElementType::U8) {
      for (int i = 0; i < 5; ++i) k.slots.push_back({4, SlotShape::kNarrow});
      k.steps.insert(k.steps.end(), {{Opcode::VPU_ADDS, 2, 1, -1, -127.5f},
                                     {Opcode::VPU_RELU, 3, 2},
                                     {Opcode::VPU_SIGN, 4, 3},
                                     {Opcode::VPU_MULS, 5, 4, -1, -256},
                                     {Opcode::VPU_ADD, 6, 1, 5}});
      m = 6;
    }
    k.slots.push_back({1, SlotShape::kNarrow});
    const int narrow = static_cast<int>(k.slots.size()) - 1;
    k.steps.push_back({Opcode::VPU_CVT, narrow, m, -1, 0, DataType::FP32, DataType::INT8});
    k.stores = {{narrow, y}};
  }
  if (indices) add_pool_indices(ctx, k, win, x.dims, positions, taps);
  ctx.emit(k);
  ctx.mapping = "VPU rows of " + std::to_string(taps) + " window taps" +
                (indices ? ", first maxima's indices" : "");
}

// ConvTranspose as the direct convolution it equals: the input spread out with (stride - 1)
// zeros between elements and (K - 1) x dilation - pad zeros around it, convolved at stride 1
// with the kernel flipped in every spatial axis and its two channel axes swapped. The flip is a
// view with negative strides; the spread input is one strided copy into a zeroed buffer.
void lower_conv_transpose(OpContext& ctx) {
  require_f32_conv(ctx);
  const TensorView x = ctx.view(ctx.in(0)), w = ctx.view(ctx.in(1)), y = ctx.view(ctx.out(0));
  if (x.dims.size() < 3) ctx.unsupported("the input needs batch, channel and spatial axes");
  const size_t k = x.dims.size() - 2;
  const int64_t group = ctx.attr_int("group", 1);
  const int64_t n = x.dims[0], c = x.dims[1], m = y.dims[1];
  if (group < 1 || c % group || m % group) ctx.unsupported("group does not divide the channels");
  const int64_t cg = c / group;
  std::vector<int64_t> kernel = ctx.attr_ints("kernel_shape");
  if (kernel.empty()) kernel.assign(w.dims.begin() + 2, w.dims.end());
  const std::vector<int64_t> strides = ctx.attr_ints("strides"),
                             dilations = ctx.attr_ints("dilations"), pads = ctx.attr_ints("pads"),
                             output_padding = ctx.attr_ints("output_padding");
  const std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  const bool output_shape_given = !ctx.attr_ints("output_shape").empty();
  // The spread, padded input: Z_i = O_i + (K_i - 1) d_i, with x[j] at offset_i + j * s_i.
  std::vector<int64_t> z_dims = {n, c};
  std::vector<Window> win(k);
  std::vector<int64_t> offset(k);
  int64_t positions = 1, taps = 1;
  for (size_t i = 0; i < k; ++i) {
    const int64_t s = strides.empty() ? 1 : strides.at(i),
                  d = dilations.empty() ? 1 : dilations.at(i);
    const int64_t in = x.dims[2 + i], out = y.dims[2 + i], extent = (kernel.at(i) - 1) * d;
    int64_t pad_begin = 0;
    if (output_shape_given || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t op = output_padding.empty() ? 0 : output_padding.at(i);
      const int64_t total = s * (in - 1) + op + extent + 1 - out;
      // The ONNX formulas use floor division (a larger output_shape makes `total` negative).
      const int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
      pad_begin = auto_pad == "SAME_UPPER" ? half : total - half;
    } else if (!pads.empty() && auto_pad == "NOTSET") {
      pad_begin = pads.at(i);
    }
    offset[i] = extent - pad_begin;
    win[i] = {out + extent, out, kernel.at(i), 1, d, 0, 0, 0};
    z_dims.push_back(out + extent);
    positions *= out;
    taps *= kernel.at(i);
  }
  int64_t z_count = 1;
  for (int64_t dim : z_dims) z_count *= dim;
  const TensorView z = TensorView::contiguous(ctx.scratch(z_count * 4), 4, z_dims);
  emit_fill(ctx, z, f32_bytes(0.0f));
  ctx.sync();
  TensorView src = x, dst = z;
  bool empty = false;
  for (size_t i = 0; i < k; ++i) {
    const int64_t s = win[i].in, stride = strides.empty() ? 1 : strides.at(i);
    // Elements j with 0 <= offset + j * stride < Z_i land inside.
    const int64_t lo = offset[i] >= 0 ? 0 : (-offset[i] + stride - 1) / stride;
    const int64_t hi = std::min(x.dims[2 + i] - 1, (s - 1 - offset[i]) / stride);
    if (hi < lo) {
      empty = true;
      break;
    }
    src = src.sliced(2 + i, lo, hi - lo + 1, 1);
    dst = dst.sliced(2 + i, offset[i] + lo * stride, hi - lo + 1, stride);
  }
  if (!empty) emit_copy(ctx, src, dst);
  ctx.sync();
  const TensorView all = windows_view(z, win);
  std::vector<int64_t> im2col = {0};
  for (size_t i = 0; i < k; ++i) im2col.push_back(static_cast<int64_t>(2 + i));
  im2col.push_back(1);
  for (size_t i = 0; i < k; ++i) im2col.push_back(static_cast<int64_t>(2 + k + i));
  // Weights [C, M/g, K...]: per group the rows of its input channels, kernel axes reversed, read
  // as [C/g, K..., M/g].
  std::vector<int64_t> weights_t = {0};
  for (size_t i = 0; i < k; ++i) weights_t.push_back(static_cast<int64_t>(2 + i));
  weights_t.push_back(1);
  grouped_products(
      ctx, y, group, n * positions, cg * taps,
      [&](int64_t g) { return all.sliced(1, g * cg, cg, 1).permuted(im2col); },
      [&](int64_t g) {
        TensorView wg = w.sliced(0, g * cg, cg, 1);
        for (size_t i = 0; i < k; ++i) wg = wg.sliced(2 + i, kernel[i] - 1, kernel[i], -1);
        return wg.permuted(weights_t);
      });
  ctx.mapping = "spread input, flipped-kernel im2col view, " + ctx.mapping;
}

}  // namespace seedchip::compiler
