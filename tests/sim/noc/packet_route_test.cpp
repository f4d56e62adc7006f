#include "sim/noc/packet_route.h"

#include <gtest/gtest.h>

namespace seedchip::sim {
namespace {

TEST(LinkCalendar, PacketTakesTheFirstIdleGapLongEnough) {
  LinkCalendar link;
  EXPECT_EQ(link.reserve(0, 4, 0), 0u);
  EXPECT_EQ(link.reserve(10, 4, 0), 10u);  // idle [4, 10) stays open
  EXPECT_EQ(link.reserve(2, 4, 0), 4u);    // fits in [4, 10) instead of queueing after 14
  EXPECT_EQ(link.reserve(5, 4, 0), 14u);   // [8, 10) is too short
  EXPECT_EQ(link.reserve(8, 2, 0), 8u);    // but fits exactly 2 ticks
}

TEST(SendPackets, TailCannotOvertakeOntoAFasterLink) {
  EventQueue events;
  PacketLink slow;
  slow.latency = 1;
  PacketLink fast;
  fast.latency = 1;
  Tick arrival = 0;
  // One 10-tick packet on the slow link, 2 ticks on the fast one: the fast link starts when the
  // tail will be there just in time, 10 + 1 - 2 = 9, not when the head arrives at 1.
  send_packets(events, {{&slow, 10, 10}, {&fast, 2, 2}}, 100, 100, [&](Tick t) { arrival = t; });
  events.run();
  EXPECT_EQ(arrival, 9 + 2 + 1u);
  EXPECT_EQ(fast.busy_ticks, 2u);
  EXPECT_EQ(slow.bytes, 100u);
}

TEST(SendPackets, EmptyTransferPaysOnlyTheLatencies) {
  EventQueue events;
  PacketLink a;
  a.latency = 3;
  PacketLink b;
  b.latency = 4;
  Tick arrival = 0;
  send_packets(events, {{&a, 5, 5}, {&b, 5, 5}}, 0, 100, [&](Tick t) { arrival = t; });
  events.run();
  EXPECT_EQ(arrival, 7u);
  EXPECT_EQ(a.busy_ticks, 0u);
}

}  // namespace
}  // namespace seedchip::sim
