// Operators that are a constant matrix applied along one axis at a time: Resize and Upsample
// (separable interpolation: one [out, in] matrix of coefficients per resized axis, computed on the
// host from ONNX's definition) and CumSum (a triangular matrix). Each axis is one MXU product of
// the input, read with that axis last, by the transposed matrix, then a copy that puts the axis
// back in place. The matrices are dense, so the MXU does in * out multiply-adds per row where an
// interpolation needs 2 or 4: simple and exact in its coefficients, not the fastest kernel.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "compiler/codegen/lowering.h"

namespace seedchip::compiler {

namespace {

// A dense row-major [rows, cols] matrix of coefficients.
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> at;
  double& operator()(int64_t r, int64_t c) { return at[static_cast<size_t>(r * cols + c)]; }
  bool is_identity() const {
    if (rows != cols) return false;
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        if (at[static_cast<size_t>(r * cols + c)] != (r == c ? 1.0 : 0.0)) return false;
    return true;
  }
};

Matrix zeros(int64_t rows, int64_t cols) {
  return {rows, cols, std::vector<double>(static_cast<size_t>(rows * cols), 0.0)};
}

// out = M applied along `axis` of the dense f32 tensor at `in` (dims `dims`), written through
// `out` (a view with dims[axis] = M.rows).
void apply_along_axis(OpContext& ctx, int64_t in, const std::vector<int64_t>& dims, size_t axis,
                      const Matrix& m, const TensorView& out) {
  const size_t rank = dims.size();
  std::vector<int64_t> perm(rank);
  std::iota(perm.begin(), perm.end(), 0);
  perm.erase(perm.begin() + static_cast<int64_t>(axis));
  perm.push_back(static_cast<int64_t>(axis));
  const TensorView a = TensorView::contiguous(in, 4, dims).permuted(perm);
  const int64_t rows = a.element_count() / std::max<int64_t>(dims[axis], 1);
  // B = M transposed, [in, out].
  ir::HostTensor b;
  b.element = ir::ElementType::F32;
  b.dims = {m.cols, m.rows};
  b.bytes.resize(static_cast<size_t>(m.rows * m.cols) * 4);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c) {
      const auto v = static_cast<float>(m.at[static_cast<size_t>(r * m.cols + c)]);
      std::memcpy(b.bytes.data() + (c * m.rows + r) * 4, &v, 4);
    }
  const TensorView bv = TensorView::contiguous(ctx.add_constant(std::move(b)), 4, {m.cols, m.rows});
  const int64_t product = ctx.scratch(rows * m.rows * 4);
  emit_matmul_2d(ctx, a, rows, m.cols, bv, m.rows, product);
  ctx.sync();
  std::vector<int64_t> permuted_dims;
  for (int64_t p : perm)
    permuted_dims.push_back(p == static_cast<int64_t>(axis) ? m.rows
                                                            : dims[static_cast<size_t>(p)]);
  emit_copy(ctx, TensorView::contiguous(product, 4, permuted_dims), out.permuted(perm));
}

// Applies one matrix per axis (nullptr: that axis is unchanged), innermost axis first, as ONNX's
// reference interpolates; intermediate results go to scratch.
void apply_separable(OpContext& ctx, const std::vector<const Matrix*>& per_axis) {
  const TensorView in = ctx.view(ctx.in(0)), out = ctx.view(ctx.out(0));
  std::vector<size_t> axes;
  for (size_t d = per_axis.size(); d-- > 0;)
    if (per_axis[d]) axes.push_back(d);
  if (axes.empty()) {
    emit_copy(ctx, in, out);
    return;
  }
  int64_t current = in.base;
  std::vector<int64_t> dims = in.dims;
  for (size_t i = 0; i < axes.size(); ++i) {
    const size_t axis = axes[i];
    std::vector<int64_t> next_dims = dims;
    next_dims[axis] = per_axis[axis]->rows;
    const bool last = i + 1 == axes.size();
    int64_t count = 1;
    for (int64_t d : next_dims) count *= d;
    const int64_t next = last ? out.base : ctx.scratch(count * 4);
    apply_along_axis(ctx, current, dims, axis, *per_axis[axis],
                     TensorView::contiguous(next, 4, next_dims));
    if (!last) ctx.sync();
    current = next;
    dims = next_dims;
  }
}

// ---- Resize: ONNX's interpolate_1d_with_x, as coefficients ----

struct ResizeMode {
  std::string mode = "nearest";  // nearest | linear | cubic
  std::string transform = "half_pixel";
  std::string nearest = "round_prefer_floor";
  double cubic_a = -0.75;
  bool exclude_outside = false;
};

std::vector<double> coefficients(const ResizeMode& m, double ratio) {
  if (m.mode == "linear") return {1 - ratio, ratio};
  if (m.mode == "cubic") {
    const double a = m.cubic_a, r = ratio, s = 1 - ratio;
    return {((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
            ((a + 2) * r - (a + 3)) * r * r + 1, ((a + 2) * s - (a + 3)) * s * s + 1,
            ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a};
  }
  if (ratio == std::floor(ratio)) return {0, 1};
  if (m.nearest == "round_prefer_ceil") return {ratio < 0.5 ? 1.0 : 0.0, ratio >= 0.5 ? 1.0 : 0.0};
  if (m.nearest == "floor") return {1, 0};
  if (m.nearest == "ceil") return {0, 1};
  return {ratio <= 0.5 ? 1.0 : 0.0, ratio > 0.5 ? 1.0 : 0.0};  // round_prefer_floor
}

// The [out, in] matrix of one axis. Returns false where a coordinate falls outside the input
// under tf_crop_and_resize (the output is then the extrapolation value: not a linear map).
bool resize_matrix(OpContext& ctx, const ResizeMode& m, int64_t in, int64_t out, double scale,
                   double roi_start, double roi_end, Matrix& w) {
  w = zeros(out, in);
  const double out_width = scale * static_cast<double>(in);
  const double last = static_cast<double>(in - 1);
  for (int64_t i = 0; i < out; ++i) {
    const auto x = static_cast<double>(i);
    double x_ori = 0;
    if (m.transform == "align_corners") {
      x_ori = out_width == 1 ? 0 : x * last / (out_width - 1);
    } else if (m.transform == "asymmetric") {
      x_ori = x / scale;
    } else if (m.transform == "tf_crop_and_resize") {
      x_ori = out_width == 1 ? (roi_end - roi_start) * last / 2
                             : x * (roi_end - roi_start) * last / (out_width - 1);
      x_ori += roi_start * last;
      if (x_ori < 0 || x_ori > last) return false;
    } else if (m.transform == "pytorch_half_pixel") {
      x_ori = out_width == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
    } else if (m.transform == "half_pixel") {
      x_ori = (x + 0.5) / scale - 0.5;
    } else if (m.transform == "tf_half_pixel_for_nn") {
      x_ori = (x + 0.5) / scale;
    } else {
      ctx.unsupported("coordinate_transformation_mode '" + m.transform + "'");
    }
    const double floor_x = std::floor(x_ori);
    std::vector<double> c = coefficients(m, x_ori == floor_x ? 1.0 : x_ori - floor_x);
    // The len(c) nearest positions of the edge-padded input (ties to the lower position).
    const auto n = static_cast<int64_t>(c.size());
    const int64_t pad = (n + 1) / 2, limit = in + 2 * pad;
    const double xp = x_ori + static_cast<double>(pad);
    std::vector<int64_t> near;
    for (int64_t p = static_cast<int64_t>(std::floor(xp)) - n; p <= static_cast<int64_t>(xp) + n;
         ++p)
      if (p >= 0 && p < limit) near.push_back(p);
    std::stable_sort(near.begin(), near.end(), [&](int64_t a, int64_t b) {
      return std::fabs(xp - static_cast<double>(a)) < std::fabs(xp - static_cast<double>(b));
    });
    near.resize(static_cast<size_t>(std::min<int64_t>(n, static_cast<int64_t>(near.size()))));
    std::sort(near.begin(), near.end());
    if (m.exclude_outside) {
      double sum = 0;
      for (size_t k = 0; k < near.size(); ++k) {
        const int64_t at = near[k] - pad;
        if (at < 0 || at >= in) c[k] = 0;
        sum += c[k];
      }
      for (double& v : c) v /= sum;
    }
    for (size_t k = 0; k < near.size(); ++k)
      w(i, std::clamp<int64_t>(near[k] - pad, 0, in - 1)) += c[k];
  }
  return true;
}

std::vector<double> constant_floats(OpContext& ctx, ir::ValueId v, const std::string& what) {
  const ir::HostTensor* t = ctx.constant(v);
  if (!t) ctx.unsupported(what + " is computed at run time; only a constant is supported");
  std::vector<double> out;
  for (int64_t i = 0; i < t->element_count(); ++i) {
    if (t->element == ir::ElementType::F32) {
      float x;
      std::memcpy(&x, t->bytes.data() + i * 4, 4);
      out.push_back(x);
    } else if (t->element == ir::ElementType::F64) {
      double x;
      std::memcpy(&x, t->bytes.data() + i * 8, 8);
      out.push_back(x);
    } else {
      ctx.unsupported(what + " must be f32");
    }
  }
  return out;
}

void resize(OpContext& ctx, const ResizeMode& mode, ir::ValueId roi_value, ir::ValueId scales_value,
            ir::ValueId sizes_value) {
  if (ctx.type(ctx.in(0)).element != ir::ElementType::F32)
    ctx.unsupported("Resize is lowered for f32 tensors");
  if (mode.mode != "nearest" && mode.mode != "linear" && mode.mode != "cubic")
    ctx.unsupported("mode '" + mode.mode + "'");
  const std::vector<int64_t>& in = ctx.dims(ctx.in(0));
  const std::vector<int64_t>& out = ctx.dims(ctx.out(0));
  const size_t rank = in.size();
  std::vector<double> scales(rank, 1.0);
  const ir::HostTensor* scale_tensor =
      scales_value == ir::kNoValue ? nullptr : ctx.constant(scales_value);
  if (sizes_value != ir::kNoValue && ctx.view(sizes_value).element_count() > 0) {
    const std::vector<int64_t> sizes = ctx.constant_ints(sizes_value, "sizes");
    for (size_t d = 0; d < rank; ++d)
      scales[d] = static_cast<double>(sizes.at(d)) / static_cast<double>(in[d]);
  } else if (scale_tensor && scale_tensor->element_count() > 0) {
    scales = constant_floats(ctx, scales_value, "scales");
  } else if (scales_value != ir::kNoValue && !scale_tensor) {
    ctx.unsupported("scales is computed at run time; only a constant is supported");
  }
  if (scales.size() != rank) ctx.unsupported("scales must have one entry per axis");
  std::vector<double> roi;
  if (roi_value != ir::kNoValue && ctx.view(roi_value).element_count() > 0)
    roi = constant_floats(ctx, roi_value, "roi");
  std::vector<Matrix> matrices(rank);
  std::vector<const Matrix*> per_axis(rank, nullptr);
  for (size_t d = 0; d < rank; ++d) {
    const double start = roi.size() == 2 * rank ? roi[d] : 0;
    const double end = roi.size() == 2 * rank ? roi[d + rank] : 1;
    if (!resize_matrix(ctx, mode, in[d], out[d], scales[d], start, end, matrices[d]))
      ctx.unsupported("tf_crop_and_resize samples outside the input (extrapolation)");
    if (!matrices[d].is_identity()) per_axis[d] = &matrices[d];
  }
  apply_separable(ctx, per_axis);
  ctx.mapping = "separable interpolation on the MXU";
}

}  // namespace

void lower_resize(OpContext& ctx) {
  ResizeMode m;
  m.mode = ctx.attr_string("mode", "nearest");
  if (ctx.graph.opset_version() < 11) {  // Resize-10: (X, scales), asymmetric coordinates
    m.transform = "asymmetric";
    m.nearest = "floor";
    resize(ctx, m, ir::kNoValue, ctx.in(1), ir::kNoValue);
    return;
  }
  m.transform = ctx.attr_string("coordinate_transformation_mode", "half_pixel");
  m.nearest = ctx.attr_string("nearest_mode", "round_prefer_floor");
  m.cubic_a = ctx.attr_float("cubic_coeff_a", -0.75f);
  m.exclude_outside = ctx.attr_int("exclude_outside", 0) != 0;
  resize(ctx, m, ctx.in(1), ctx.in(2), ctx.in(3));
}

void lower_upsample(OpContext& ctx) {
  ResizeMode m;
  m.mode = ctx.attr_string("mode", "nearest");
  m.transform = "asymmetric";
  m.nearest = "floor";
  if (ctx.in(1) != ir::kNoValue) {
    resize(ctx, m, ir::kNoValue, ctx.in(1), ir::kNoValue);
    return;
  }
  const std::vector<float>* scales = ctx.node.attribute<std::vector<float>>("scales");
  if (!scales) ctx.unsupported("Upsample needs scales");
  const std::vector<int64_t>& in = ctx.dims(ctx.in(0));
  const std::vector<int64_t>& out = ctx.dims(ctx.out(0));
  if (scales->size() != in.size()) ctx.unsupported("scales must have one entry per axis");
  std::vector<Matrix> matrices(in.size());
  std::vector<const Matrix*> per_axis(in.size(), nullptr);
  for (size_t d = 0; d < in.size(); ++d) {
    resize_matrix(ctx, m, in[d], out[d], (*scales)[d], 0, 1, matrices[d]);
    if (!matrices[d].is_identity()) per_axis[d] = &matrices[d];
  }
  apply_separable(ctx, per_axis);
  ctx.mapping = "separable interpolation on the MXU";
}

void lower_cumsum(OpContext& ctx) {
  if (ctx.type(ctx.in(0)).element != ir::ElementType::F32)
    ctx.unsupported("CumSum is lowered for f32 tensors");
  const std::vector<int64_t>& dims = ctx.dims(ctx.in(0));
  const std::vector<int64_t> axis_value = ctx.constant_ints(ctx.in(1), "axis");
  if (axis_value.size() != 1) ctx.unsupported("axis must hold one value");
  const size_t axis = ctx.axis(axis_value[0], dims.size());
  const bool exclusive = ctx.attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.attr_int("reverse", 0) != 0;
  const int64_t n = dims[axis];
  // out[i] = sum of in[j] for j before i (after i when reversed), i itself unless exclusive.
  Matrix m = zeros(n, n);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      const bool before = reverse ? j > i : j < i;
      if (before || (!exclusive && i == j)) m(i, j) = 1;
    }
  std::vector<const Matrix*> per_axis(dims.size(), nullptr);
  per_axis[axis] = &m;
  apply_separable(ctx, per_axis);
  ctx.mapping = "triangular matrix on the MXU";
}

}  // namespace seedchip::compiler
