// One probe per timing gate: after a command, the earliest cycle of the next command equals the
// gate.
#include "sim/hbm/hbm_timing.h"

#include <gtest/gtest.h>

namespace seedchip::sim {
namespace {

using C = HbmCommand;

class HbmTimingTest : public ::testing::Test {
 protected:
  HbmConfig config;
  const HbmTiming& t = config.timing;
  uint64_t u(int64_t v) const { return static_cast<uint64_t>(v); }
};

TEST_F(HbmTimingTest, ActToReadOrWriteIsTRCD) {
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  EXPECT_EQ(ch.earliest(C::kRd, 0, 0), u(t.tRCD));
  EXPECT_EQ(ch.earliest(C::kWr, 0, 0), u(t.tRCD));
}

TEST_F(HbmTimingTest, ActToPreIsTRAS) {
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  EXPECT_EQ(ch.earliest(C::kPre, 0, 0), u(t.tRAS));
}

TEST_F(HbmTimingTest, PreToActIsTRP) {
  config.timing.tRC = config.timing.tRAS;  // leave tRP as the binding gate
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  ch.issue(C::kPre, 0, 0, 7, u(t.tRAS));
  EXPECT_EQ(ch.earliest(C::kAct, 0, 0), u(t.tRAS + t.tRP));
}

TEST_F(HbmTimingTest, ActToActSameBankIsTRC) {
  config.timing.tRC = config.timing.tRAS + config.timing.tRP + 10;
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  ch.issue(C::kPre, 0, 0, 7, u(t.tRAS));
  EXPECT_EQ(ch.earliest(C::kAct, 0, 0), u(t.tRC));
}

TEST_F(HbmTimingTest, ActToActSameGroupIsTRRD_L) {
  ASSERT_NE(t.tRRD_L, t.tRRD_S);
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  EXPECT_EQ(ch.earliest(C::kAct, 0, 1), u(t.tRRD_L));
}

TEST_F(HbmTimingTest, ActToActOtherGroupIsTRRD_S) {
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  EXPECT_EQ(ch.earliest(C::kAct, 1, 0), u(t.tRRD_S));
}

TEST_F(HbmTimingTest, FifthActWaitsTFAWAfterTheFirst) {
  ASSERT_GT(t.tFAW, 4 * t.tRRD_S);
  HbmChannelTiming ch(config);
  for (int group = 0; group < 4; ++group) ch.issue(C::kAct, group, 0, 7, u(group * t.tRRD_S));
  EXPECT_EQ(ch.earliest(C::kAct, 0, 1), u(t.tFAW));
  ch.issue(C::kAct, 0, 1, 7, u(t.tFAW));
  EXPECT_EQ(ch.earliest(C::kAct, 1, 1), u(t.tRRD_S + t.tFAW));  // window slides
}

TEST_F(HbmTimingTest, ReadToReadSameGroupIsTCCD_L) {
  ASSERT_NE(t.tCCD_L, t.tCCD_S);
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  ch.issue(C::kRd, 0, 0, 7, u(t.tRCD));
  EXPECT_EQ(ch.earliest(C::kRd, 0, 0), u(t.tRCD + t.tCCD_L));
}

TEST_F(HbmTimingTest, ReadToReadOtherGroupIsTCCD_S) {
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  ch.issue(C::kAct, 1, 0, 7, u(t.tRRD_S));
  const uint64_t read = u(t.tRRD_S + t.tRCD);
  ch.issue(C::kRd, 0, 0, 7, read);
  EXPECT_EQ(ch.earliest(C::kRd, 1, 0), read + u(t.tCCD_S));
}

TEST_F(HbmTimingTest, WriteToReadSameGroupIsTWTR_L) {
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  ch.issue(C::kWr, 0, 0, 7, u(t.tRCD));
  EXPECT_EQ(ch.earliest(C::kRd, 0, 0), u(t.tRCD + t.tCWL + t.tBL + t.tWTR_L));
}

TEST_F(HbmTimingTest, WriteToReadOtherGroupIsTWTR_S) {
  ASSERT_NE(t.tWTR_L, t.tWTR_S);
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  ch.issue(C::kAct, 1, 0, 7, u(t.tRRD_S));
  const uint64_t write = u(t.tRRD_S + t.tRCD);
  ch.issue(C::kWr, 0, 0, 7, write);
  EXPECT_EQ(ch.earliest(C::kRd, 1, 0), write + u(t.tCWL + t.tBL + t.tWTR_S));
}

TEST_F(HbmTimingTest, ReadToWriteIsTRTW) {
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  ch.issue(C::kRd, 0, 0, 7, u(t.tRCD));
  EXPECT_EQ(ch.earliest(C::kWr, 0, 0), u(t.tRCD + t.tRTW));
}

TEST_F(HbmTimingTest, ReadToPreIsTRTP) {
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  const uint64_t read = u(t.tRAS);  // late enough that tRAS does not bind
  ch.issue(C::kRd, 0, 0, 7, read);
  EXPECT_EQ(ch.earliest(C::kPre, 0, 0), read + u(t.tRTP));
}

TEST_F(HbmTimingTest, WriteToPreIsWriteRecoveryAfterData) {
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  const uint64_t write = u(t.tRAS);
  ch.issue(C::kWr, 0, 0, 7, write);
  EXPECT_EQ(ch.earliest(C::kPre, 0, 0), write + u(t.tCWL + t.tBL + t.tWR));
}

TEST_F(HbmTimingTest, ReadDataEndsAfterTCLPlusTBL) {
  HbmChannelTiming ch(config);
  EXPECT_EQ(ch.data_end(C::kRd, 100), 100 + u(t.tCL + t.tBL));
  EXPECT_EQ(ch.data_end(C::kWr, 100), 100 + u(t.tCWL + t.tBL));
}

TEST_F(HbmTimingTest, AllBankRefreshBlocksEveryBankForTRFC) {
  HbmChannelTiming ch(config);
  ch.issue(C::kRefAb, 0, 0, HbmChannelTiming::kNoRow, 0);
  EXPECT_EQ(ch.earliest(C::kAct, 0, 0), u(t.tRFC));
  EXPECT_EQ(ch.earliest(C::kAct, 3, 3), u(t.tRFC));
  EXPECT_EQ(ch.earliest(C::kRefAb, 0, 0), u(t.tRFC));
}

TEST_F(HbmTimingTest, AllBankRefreshWaitsForPrecharge) {
  HbmChannelTiming ch(config);
  ch.issue(C::kAct, 0, 0, 7, 0);
  ch.issue(C::kPre, 0, 0, 7, u(t.tRC));  // late enough that tRC does not bind
  EXPECT_EQ(ch.earliest(C::kRefAb, 0, 0), u(t.tRC + t.tRP));
}

TEST_F(HbmTimingTest, PerBankRefreshBlocksItsBankForTRFCpb) {
  HbmChannelTiming ch(config);
  ch.issue(C::kRefPb, 0, 0, HbmChannelTiming::kNoRow, 0);
  EXPECT_EQ(ch.earliest(C::kAct, 0, 0), u(t.tRFCpb));
}

TEST_F(HbmTimingTest, PerBankRefreshToOtherBankIsTRREFD) {
  HbmChannelTiming ch(config);
  ch.issue(C::kRefPb, 0, 0, HbmChannelTiming::kNoRow, 0);
  EXPECT_EQ(ch.earliest(C::kAct, 1, 0), u(t.tRREFD));
  EXPECT_EQ(ch.earliest(C::kRefPb, 0, 1), u(t.tRREFD));
}

TEST_F(HbmTimingTest, IllegalCommandsThrow) {
  HbmChannelTiming ch(config);
  EXPECT_THROW(ch.issue(C::kRd, 0, 0, 7, 100), std::logic_error);  // bank closed
  ch.issue(C::kAct, 0, 0, 7, 0);
  EXPECT_THROW(ch.issue(C::kRd, 0, 0, 7, 1), std::logic_error);  // before tRCD
  EXPECT_THROW(ch.issue(C::kRefAb, 1, 0, HbmChannelTiming::kNoRow, 1000), std::logic_error);
}

}  // namespace
}  // namespace seedchip::sim
