#include "sim/memory/backing_store.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace seedchip::sim {
namespace {

constexpr uint64_t kPage = BackingStore::kPageBytes;

// Strided rows moved as one span must be the bytes of one read() or write() per row: within a
// page, across a page boundary, from a page never written, and with contiguous rows.
TEST(BackingStore, RowsMoveAsOneReadOrWritePerRow) {
  struct Case {
    uint64_t addr, rows, row_bytes, stride;
  };
  const Case cases[] = {
      {64, 5, 12, 40}, {kPage - 100, 6, 16, 32}, {3 * kPage + 8, 4, 24, 24}, {7 * kPage, 3, 8, 16}};
  for (const Case& c : cases) {
    BackingStore spans("spans", 8 * kPage), rows("rows", 8 * kPage);
    std::vector<uint8_t> src(c.rows * c.row_bytes);
    std::iota(src.begin(), src.end(), uint8_t{1});
    if (c.addr != 7 * kPage) {  // the last case reads a page nobody wrote
      spans.write_rows(c.addr, c.rows, c.row_bytes, c.stride, src.data());
      for (uint64_t r = 0; r < c.rows; ++r)
        rows.write(c.addr + r * c.stride, src.data() + r * c.row_bytes, c.row_bytes);
    }
    const uint64_t span = (c.rows - 1) * c.stride + c.row_bytes;
    std::vector<uint8_t> a(span), b(span);
    spans.read(c.addr, a.data(), span);
    rows.read(c.addr, b.data(), span);
    EXPECT_EQ(a, b) << "write_rows at " << c.addr;
    std::vector<uint8_t> got(src.size(), 0xFF), want(src.size(), 0xEE);
    spans.read_rows(c.addr, c.rows, c.row_bytes, c.stride, got.data());
    for (uint64_t r = 0; r < c.rows; ++r)
      rows.read(c.addr + r * c.stride, want.data() + r * c.row_bytes, c.row_bytes);
    EXPECT_EQ(got, want) << "read_rows at " << c.addr;
  }
}

TEST(BackingStore, RowsBeyondTheCapacityThrow) {
  BackingStore store("hbm", kPage);
  std::vector<uint8_t> bytes(64);
  EXPECT_THROW(store.read_rows(kPage - 40, 2, 16, 32, bytes.data()), std::out_of_range);
  EXPECT_THROW(store.write_rows(kPage - 40, 2, 16, 32, bytes.data()), std::out_of_range);
}

}  // namespace
}  // namespace seedchip::sim
