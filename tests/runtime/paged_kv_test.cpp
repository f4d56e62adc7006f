// The page table of the paged KV cache: pages are taken lowest first as sequences grow, rows
// follow the pages, released pages are reused, and running out is an error with the numbers.
#include "runtime/paged_kv.h"

#include <gtest/gtest.h>

#include "tests/input_error.h"

namespace seedchip::runtime {
namespace {

TEST(PagedKvCache, SequencesTakePagesAsTheyGrowAndRowsFollowThePages) {
  PagedKvCache kv(4, 2);
  const int a = kv.add_sequence(), b = kv.add_sequence();
  EXPECT_EQ(kv.append(a, 0), 0);  // page 0
  EXPECT_EQ(kv.append(b, 0), 2);  // page 1
  EXPECT_EQ(kv.append(a, 1), 1);
  EXPECT_EQ(kv.append(a, 2), 4);  // page 2
  EXPECT_EQ(kv.free_pages(), 1);
  EXPECT_EQ(kv.rows(a, 4), (std::vector<int32_t>{0, 1, 4, 0}));  // position 3 not reached
  EXPECT_EQ(kv.length(a), 3);
  kv.release(a);
  EXPECT_EQ(kv.free_pages(), 3);
  const int c = kv.add_sequence();
  EXPECT_EQ(kv.append(c, 0), 0);  // the lowest free page again
}

TEST(PagedKvCache, RunningOutOfPagesAndSkippingAheadAreErrors) {
  PagedKvCache kv(1, 2);
  const int a = kv.add_sequence(), b = kv.add_sequence();
  kv.append(a, 0);
  EXPECT_NE(testing::error_of([&] {
              kv.append(b, 0);
            }).find("out of pages: all 1 pages of 2 rows (2 positions) are taken"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] { kv.append(a, 2); }).find("is not the next one"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] { kv.rows(7, 2); }).find("sequence 7 does not exist"),
            std::string::npos);
  EXPECT_NE(testing::error_of([] { PagedKvCache(0, 16); }).find("expected at least 1"),
            std::string::npos);
}

}  // namespace
}  // namespace seedchip::runtime
