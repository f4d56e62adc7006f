#include "compiler/codegen/view.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

namespace seedchip::compiler {
namespace {

// Executes the planned runs against a byte array, as the DMA engines would, and returns the packed
// buffer (loads) or the written memory (stores).
std::vector<int32_t> gather(const TensorView& v, const std::vector<int32_t>& memory, int64_t begin,
                            int64_t end) {
  std::vector<int32_t> packed(static_cast<size_t>(end - begin), -1);
  for (const DmaRun& r : plan_transfer(v, begin, end, false)) {
    EXPECT_GE(r.stride, 0);
    for (int64_t row = 0; row < r.rows; ++row)
      std::memcpy(reinterpret_cast<char*>(packed.data()) + r.sram_offset + row * r.row_bytes,
                  reinterpret_cast<const char*>(memory.data()) + r.hbm + row * r.stride,
                  static_cast<size_t>(r.row_bytes));
  }
  return packed;
}

// The same elements by index arithmetic.
std::vector<int32_t> expected(const TensorView& v, const std::vector<int32_t>& memory,
                              int64_t begin, int64_t end) {
  std::vector<int32_t> out;
  for (int64_t i = begin; i < end; ++i) {
    int64_t rest = i, off = v.base / 4;
    for (size_t d = v.dims.size(); d-- > 0;) {
      off += (rest % v.dims[d]) * v.strides[d];
      rest /= v.dims[d];
    }
    out.push_back(memory.at(static_cast<size_t>(off)));
  }
  return out;
}

std::vector<int32_t> iota_memory(size_t n) {
  std::vector<int32_t> m(n);
  std::iota(m.begin(), m.end(), 0);
  return m;
}

TEST(PlanTransfer, ContiguousIsOneRun) {
  const TensorView v = TensorView::contiguous(64, 4, {4, 5, 6});
  const auto runs = plan_transfer(v, 0, 120, false);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].hbm, 64);
  EXPECT_EQ(runs[0].row_bytes, 480);
}

TEST(PlanTransfer, ColumnSliceIsOneStridedRun) {
  const TensorView v = TensorView::contiguous(0, 4, {8, 10}).sliced(1, 2, 3, 1);
  const auto runs = plan_transfer(v, 0, 24, false);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].rows, 8);
  EXPECT_EQ(runs[0].row_bytes, 12);
  EXPECT_EQ(runs[0].stride, 40);
}

TEST(PlanTransfer, BroadcastRowUsesStrideZeroForLoadsOnly) {
  const TensorView v = TensorView::contiguous(0, 4, {1, 6}).broadcast_to({5, 6});
  const auto loads = plan_transfer(v, 0, 30, false);
  ASSERT_EQ(loads.size(), 1u);
  EXPECT_EQ(loads[0].stride, 0);
  EXPECT_EQ(loads[0].rows, 5);
  for (const DmaRun& r : plan_transfer(v, 0, 30, true)) EXPECT_GE(r.stride, r.row_bytes);
}

// Random views (permutations, slices with negative steps, broadcasts) and random sub-ranges
// gather exactly the elements index arithmetic names.
TEST(PlanTransfer, RandomViewsMatchIndexArithmetic) {
  std::mt19937 rng(7);
  const auto memory = iota_memory(4096);
  for (int trial = 0; trial < 300; ++trial) {
    const size_t rank = 1 + rng() % 4;
    std::vector<int64_t> dims;
    for (size_t d = 0; d < rank; ++d) dims.push_back(1 + static_cast<int64_t>(rng() % 5));
    TensorView v = TensorView::contiguous(4 * 512, 4, dims);
    std::vector<int64_t> perm(rank);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    v = v.permuted(perm);
    const size_t d = rng() % rank;
    if (v.dims[d] > 1 && rng() % 2) v = v.sliced(d, v.dims[d] - 1, v.dims[d], -1);
    if (rng() % 3 == 0) {
      std::vector<int64_t> out = v.dims;
      out.insert(out.begin(), 3);
      v = v.broadcast_to(out);
    }
    const int64_t n = v.element_count();
    const int64_t begin = static_cast<int64_t>(rng() % static_cast<uint32_t>(n));
    const int64_t end = begin + 1 + static_cast<int64_t>(rng() % static_cast<uint32_t>(n - begin));
    EXPECT_EQ(gather(v, memory, begin, end), expected(v, memory, begin, end)) << "trial " << trial;
  }
}

TEST(TensorView, ContiguityAndReshape) {
  const TensorView v = TensorView::contiguous(0, 2, {2, 3});
  EXPECT_TRUE(v.is_contiguous());
  EXPECT_FALSE(v.permuted({1, 0}).is_contiguous());
  EXPECT_EQ(v.reshaped({3, 2}).strides, (std::vector<int64_t>{2, 1}));
  EXPECT_THROW(v.permuted({1, 0}).reshaped({6}), std::logic_error);
}

}  // namespace
}  // namespace seedchip::compiler
