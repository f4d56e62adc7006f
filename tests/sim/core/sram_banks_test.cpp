// The SRAM bank model: which bytes land on which bank, and when concurrent accesses slow each
// other.
#include "sim/core/sram_banks.h"

#include <gtest/gtest.h>

namespace seedchip::sim {
namespace {

class SramBanksTest : public ::testing::Test {
 protected:
  SramConfig config;  // 32 banks x 64 bytes: a 2 KiB stripe
  ClockDomain clock{"core", 1000, 3};
  SramBanks banks{config, clock};
};

TEST_F(SramBanksTest, ContiguousBytesSpreadOverEveryBank) {
  const std::vector<uint64_t> per_bank = banks.bytes_per_bank({{100, 1, 4096, 0}});
  for (uint64_t bytes : per_bank) EXPECT_EQ(bytes, 128u);
}

TEST_F(SramBanksTest, StridedRowsFollowTheInterleave) {
  // Rows 2 KiB apart start on the same bank; rows 64 bytes wide stay on it.
  std::vector<uint64_t> per_bank = banks.bytes_per_bank({{128, 1000, 64, 2048}});
  EXPECT_EQ(per_bank[2], 64000u);
  EXPECT_EQ(per_bank[3], 0u);
  // A 96-byte pitch walks the banks: 1000 rows repeat every 64 rows; count by brute force.
  per_bank = banks.bytes_per_bank({{10, 1000, 40, 96}});
  std::vector<uint64_t> brute(32, 0);
  for (uint64_t r = 0; r < 1000; ++r)
    for (uint64_t b = 0; b < 40; ++b) ++brute[((10 + r * 96 + b) / 64) % 32];
  EXPECT_EQ(per_bank, brute);
}

TEST_F(SramBanksTest, AccessWithinBandwidthIsNotSlowed) {
  // 32 KiB = 16 cycles of work per bank, spread over a 100-cycle window.
  EXPECT_EQ(banks.access(0, 100, {{0, 1, 32768, 0}}), 100u);
  // A second access sharing the banks still fits in what is left.
  EXPECT_EQ(banks.access(0, 50, {{0, 1, 32768, 0}}), 50u);
}

TEST_F(SramBanksTest, OversubscribedBanksStretchTheLaterAccess) {
  // Each access needs every bank for its whole 16-cycle window: the second waits for the first.
  EXPECT_EQ(banks.access(0, 16, {{0, 1, 32768, 0}}), 16u);
  EXPECT_EQ(banks.access(0, 16, {{0, 1, 32768, 0}}), 32u);
  // Once the reservations have ended, the banks are free again.
  EXPECT_EQ(banks.access(clock.ticks(32), 16, {{0, 1, 32768, 0}}), 16u);
}

TEST_F(SramBanksTest, DisjointBanksDoNotConflict) {
  EXPECT_EQ(banks.access(0, 10, {{0, 10, 64, 2048}}), 10u);     // bank 0 only, fully busy
  EXPECT_EQ(banks.access(0, 10, {{64, 10, 64, 2048}}), 10u);    // bank 1 only
  EXPECT_EQ(banks.access(0, 10, {{2048, 10, 64, 2048}}), 20u);  // bank 0 again
}

}  // namespace
}  // namespace seedchip::sim
