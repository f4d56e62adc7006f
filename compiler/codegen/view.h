#pragma once
// A strided view of a tensor in HBM: element (i0, i1, ...) lives at
// base + (sum of i_d * strides[d]) * element_bytes. Strides are in elements and may be zero (a
// broadcast dimension) or negative (a reversed slice). Views are how the code generator expresses
// every data-movement operator (transpose, slice, concat, expand, ...) and the broadcasting of
// elementwise ones: the kernels read and write through views, never through ad-hoc index maths.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace seedchip::compiler {

struct TensorView {
  int64_t base = 0;  // HBM byte address of element (0, 0, ...); the view may extend below it
  int64_t element_bytes = 4;
  std::vector<int64_t> dims;
  std::vector<int64_t> strides;  // elements

  // A dense row-major tensor.
  static TensorView contiguous(int64_t base, int64_t element_bytes, std::vector<int64_t> dims);
  int64_t element_count() const;
  // Numpy broadcasting of this view to `out_dims` (leading dims added, size-1 dims stretched with
  // stride 0). The caller has checked that the shapes broadcast.
  TensorView broadcast_to(const std::vector<int64_t>& out_dims) const;
  // Dimension d taken as [start, start + count * step) in steps of `step` (may be negative).
  TensorView sliced(size_t d, int64_t start, int64_t count, int64_t step) const;
  // Dimensions reordered: result dim i is this view's dim perm[i].
  TensorView permuted(const std::vector<int64_t>& perm) const;
  // The same elements with other dims, for a dense view only (Reshape and friends).
  TensorView reshaped(std::vector<int64_t> dims) const;
  bool is_contiguous() const;
};

// One DMA transfer of `rows` x `row_bytes` at HBM address `hbm` with pitch `stride` (>= 0), to or
// from `sram_offset` bytes into the chunk's packed SRAM buffer.
struct DmaRun {
  int64_t hbm = 0, rows = 0, row_bytes = 0, stride = 0, sram_offset = 0;
};

// The transfers that move elements [begin, end) of `view` (in row-major order of its dims) to or
// from a packed buffer. Runs along the innermost dimension are merged, and so are consecutive
// runs whose addresses are evenly spaced; a negative innermost stride falls back to one element
// per run. For stores (`for_store`), rows never overlap (a zero stride becomes separate runs).
std::vector<DmaRun> plan_transfer(const TensorView& view, int64_t begin, int64_t end,
                                  bool for_store);

}  // namespace seedchip::compiler
