#include "compiler/codegen/view.h"

#include <algorithm>
#include <stdexcept>

namespace seedchip::compiler {

TensorView TensorView::contiguous(int64_t base, int64_t element_bytes, std::vector<int64_t> dims) {
  TensorView v{base, element_bytes, std::move(dims), {}};
  v.strides.assign(v.dims.size(), 1);
  for (size_t d = v.dims.size(); d-- > 1;) v.strides[d - 1] = v.strides[d] * v.dims[d];
  return v;
}

int64_t TensorView::element_count() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

TensorView TensorView::broadcast_to(const std::vector<int64_t>& out_dims) const {
  TensorView v{base, element_bytes, out_dims, std::vector<int64_t>(out_dims.size(), 0)};
  const size_t lead = out_dims.size() - dims.size();
  for (size_t d = 0; d < dims.size(); ++d)
    v.strides[lead + d] = dims[d] == 1 && out_dims[lead + d] != 1 ? 0 : strides[d];
  return v;
}

TensorView TensorView::sliced(size_t d, int64_t start, int64_t count, int64_t step) const {
  TensorView v = *this;
  v.base += start * strides.at(d) * element_bytes;
  v.dims[d] = count;
  v.strides[d] = strides[d] * step;
  return v;
}

TensorView TensorView::permuted(const std::vector<int64_t>& perm) const {
  TensorView v = *this;
  for (size_t i = 0; i < perm.size(); ++i) {
    v.dims[i] = dims.at(static_cast<size_t>(perm[i]));
    v.strides[i] = strides.at(static_cast<size_t>(perm[i]));
  }
  return v;
}

TensorView TensorView::reshaped(std::vector<int64_t> new_dims) const {
  if (!is_contiguous()) throw std::logic_error("reshaped: view is not dense");
  return contiguous(base, element_bytes, std::move(new_dims));
}

bool TensorView::is_contiguous() const {
  int64_t expect = 1;
  for (size_t d = dims.size(); d-- > 0;) {
    if (dims[d] != 1 && strides[d] != expect) return false;
    expect *= dims[d];
  }
  return true;
}

std::vector<DmaRun> plan_transfer(const TensorView& view, int64_t begin, int64_t end,
                                  bool for_store) {
  std::vector<DmaRun> runs;
  if (begin >= end) return runs;
  const int64_t e = view.element_bytes;
  // Collapse: drop size-1 dims and merge neighbours that are contiguous with each other.
  std::vector<int64_t> dims, strides;
  for (size_t d = 0; d < view.dims.size(); ++d) {
    if (view.dims[d] == 1) continue;
    if (!dims.empty() && strides.back() == view.strides[d] * view.dims[d]) {
      dims.back() *= view.dims[d];
      strides.back() = view.strides[d];
      continue;
    }
    dims.push_back(view.dims[d]);
    strides.push_back(view.strides[d]);
  }
  if (dims.empty()) {
    dims = {1};
    strides = {1};
  }
  const size_t rank = dims.size();
  const int64_t width = dims.back(), inner = strides.back();
  std::vector<int64_t> idx(rank, 0);
  {
    int64_t rest = begin;
    for (size_t d = rank; d-- > 0;) {
      idx[d] = rest % dims[d];
      rest /= dims[d];
    }
  }
  int64_t line = 0;  // element offset of the start of idx's line
  for (size_t d = 0; d + 1 < rank; ++d) line += idx[d] * strides[d];
  int64_t sram = 0;
  auto push = [&](DmaRun run) {
    if (!runs.empty() && run.rows == 1) {
      DmaRun& last = runs.back();
      const bool single_rows = last.row_bytes == run.row_bytes &&
                               last.sram_offset + last.rows * last.row_bytes == run.sram_offset;
      if (single_rows && last.rows == 1) {
        const int64_t pitch = run.hbm - last.hbm;
        if (pitch >= (for_store ? run.row_bytes : 0)) {
          last.rows = 2;
          last.stride = pitch;
          return;
        }
      } else if (single_rows && last.rows > 1 && run.hbm == last.hbm + last.rows * last.stride) {
        ++last.rows;
        return;
      }
    }
    runs.push_back(run);
  };
  for (int64_t i = begin; i < end;) {
    const int64_t off = idx.back();
    const int64_t take = std::min(width - off, end - i);
    const int64_t addr = view.base + (line + off * inner) * e;
    if (inner == 1) {
      push({addr, 1, take * e, take * e, sram});
    } else if (inner > 1 || (inner == 0 && !for_store)) {
      runs.push_back({addr, take, e, inner * e, sram});
    } else {
      for (int64_t k = 0; k < take; ++k) push({addr + k * inner * e, 1, e, e, sram + k * e});
    }
    sram += take * e;
    i += take;
    // Advance idx to element i: the rest of this line was taken (or the range ended).
    idx.back() += take;
    for (size_t d = rank; d-- > 1 && idx[d] == dims[d];) {
      idx[d] = 0;
      ++idx[d - 1];
    }
    line = 0;
    for (size_t d = 0; d + 1 < rank; ++d) line += idx[d] * strides[d];
  }
  return runs;
}

}  // namespace seedchip::compiler
