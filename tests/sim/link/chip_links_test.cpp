// Expected ticks are worked out by hand. The clock runs at 1000 MHz, so one tick is one ns; links
// are 100 GB/s each with 500 ns latency, and packets of 100 kB take a whole number of ns on every
// channel below, except where the test says otherwise.
#include "sim/link/chip_links.h"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <stdexcept>

#include "arch/error.h"
#include "sim/link/collectives.h"

namespace seedchip::sim {
namespace {

constexpr uint64_t kPacketBytes = 100'000;
constexpr uint64_t kMegabyte = 1'000'000;

LinkConfig link_config(const std::string& topology, int count = 8) {
  LinkConfig config;
  config.count = count;
  config.gbytes_per_s = 100;
  config.latency_ns = 500;
  config.topology = topology;
  return config;
}

struct System {
  System(const std::string& topology, int chips, int count = 8)
      : links(link_config(topology, count), chips, events, clock, stats, "system.links",
              kPacketBytes) {}

  uint64_t& send(int src, int dst, uint64_t bytes) {
    arrivals.push_back(0);
    uint64_t& slot = arrivals.back();
    links.transfer(src, dst, bytes, [&slot](Tick arrival) { slot = arrival; });
    return slot;
  }

  EventQueue events;
  ClockDomain clock{"core", 1000, 1};
  StatTree stats;
  ChipLinks links;
  std::deque<uint64_t> arrivals;
};

TEST(ChipLinks, RingNeighbourTakesLatencyPlusBytesOverBandwidth) {
  System ring("ring", 4);
  EXPECT_EQ(ring.links.path_bytes_per_second(0, 1), 400e9);  // 8 / 2 links toward each neighbour
  uint64_t& arrival = ring.send(0, 1, kMegabyte);
  ring.events.run();
  EXPECT_EQ(arrival, 500 + 2500u);
  EXPECT_EQ(ring.stats.get("system.links.chip0_to_chip1.bytes"), kMegabyte);
  EXPECT_EQ(ring.stats.get("system.links.chip0_to_chip1.busy_ns"), 2500);
  EXPECT_FALSE(ring.stats.contains("system.links.chip1_to_chip0.bytes"));
}

TEST(ChipLinks, RingTakesTheShorterWayAndPaysLatencyPerHop) {
  System ring("ring", 8);
  EXPECT_EQ(ring.links.hops(0, 2), 2);
  EXPECT_EQ(ring.links.hops(0, 5), 3);  // backwards through 7 and 6
  EXPECT_EQ(ring.links.hops(0, 4), 4);  // a tie goes forwards
  uint64_t& two_hops = ring.send(0, 2, kMegabyte);
  uint64_t& three_back = ring.send(3, 0, kMegabyte);  // 3 -> 2 -> 1 -> 0, disjoint from 0 -> 2
  ring.events.run();
  EXPECT_EQ(two_hops, 2 * 500 + 2500u);  // cut-through: the serialization is paid once
  EXPECT_EQ(three_back, 3 * 500 + 2500u);
  EXPECT_EQ(ring.stats.get("system.links.chip1_to_chip2.bytes"), kMegabyte);
  EXPECT_EQ(ring.stats.get("system.links.chip1_to_chip0.bytes"), kMegabyte);
}

TEST(ChipLinks, TwoChipRingPutsEveryLinkBetweenThem) {
  System ring("ring", 2);
  EXPECT_EQ(ring.links.path_bytes_per_second(0, 1), 800e9);
  EXPECT_EQ(ring.links.path_bytes_per_second(1, 0), 800e9);
  uint64_t& back = ring.send(1, 0, kMegabyte);
  ring.events.run();
  EXPECT_EQ(back, 500 + 1250u);
}

TEST(ChipLinks, TransfersSharingAChannelEachGetHalfItsBandwidth) {
  System ring("ring", 4);
  uint64_t& a = ring.send(0, 1, 4 * kMegabyte);
  uint64_t& b = ring.send(0, 1, 4 * kMegabyte);
  ring.events.run();
  // 250 ns packets alternate: A's 40th leaves at 19750, B's at 20000.
  EXPECT_EQ(a, 19750 + 500u);
  EXPECT_EQ(b, 20000 + 500u);
  for (uint64_t arrival : {a, b})
    EXPECT_NEAR(4 * kMegabyte / (arrival - 500.0), 200.0, 200 * 0.05);  // bytes per ns = GB/s
}

TEST(ChipLinks, FullyConnectedSpreadsLinksEvenlyOverPeers) {
  // 8 links over 3 peers: 2 each, and the 2 left over go to the ring neighbours (distance 1).
  System four("fully-connected", 4);
  EXPECT_EQ(four.links.path_bytes_per_second(0, 1), 300e9);
  EXPECT_EQ(four.links.path_bytes_per_second(0, 3), 300e9);
  EXPECT_EQ(four.links.path_bytes_per_second(0, 2), 200e9);
  EXPECT_EQ(four.links.hops(0, 2), 1);
  uint64_t& across = four.send(0, 2, kMegabyte);
  uint64_t& neighbour = four.send(0, 1, kMegabyte);  // another channel: no interference
  four.events.run();
  EXPECT_EQ(across, 500 + 5000u);
  EXPECT_EQ(neighbour, 500 + 10 * 334u);  // 100 kB at 300 GB/s = 333.3 ns, rounded up per packet

  // 8 links over 7 peers: the one left over goes to the opposite chip.
  System eight("fully-connected", 8);
  for (int peer = 1; peer < 8; ++peer)
    EXPECT_EQ(eight.links.path_bytes_per_second(0, peer), peer == 4 ? 200e9 : 100e9);

  EXPECT_THROW(System("fully-connected", 16), InputError);  // 8 links cannot reach 15 peers
}

TEST(ChipLinks, SwitchGivesEveryPairTheChipBandwidthAndContendsAtTheReceiver) {
  System star("switch", 4);
  EXPECT_EQ(star.links.path_bytes_per_second(0, 3), 800e9);
  EXPECT_DOUBLE_EQ(star.links.path_latency_seconds(0, 3), 500e-9);
  uint64_t& a = star.send(0, 1, kMegabyte);
  uint64_t& b = star.send(2, 3, kMegabyte);
  star.events.run();
  EXPECT_EQ(a, 500 + 1250u);
  EXPECT_EQ(b, 500 + 1250u);

  // Two senders into chip 3 alternate 125 ns packets on its downlink from tick 500.
  System incast("switch", 4);
  uint64_t& c = incast.send(0, 3, kMegabyte);
  uint64_t& d = incast.send(1, 3, kMegabyte);
  incast.events.run();
  EXPECT_EQ(c, 500 + 19 * 125 + 0u);
  EXPECT_EQ(d, 500 + 20 * 125 + 0u);
}

TEST(ChipLinks, TransferToItselfCompletesNow) {
  System ring("ring", 4);
  uint64_t& arrival = ring.send(2, 2, kMegabyte);
  arrival = 99;
  ring.events.run();
  EXPECT_EQ(arrival, 0u);
}

TEST(ChipLinks, RejectsBadSystems) {
  System ring("ring", 4);
  EXPECT_THROW(ring.links.transfer(0, 4, 1, [](Tick) {}), std::out_of_range);
  EXPECT_THROW(ring.links.transfer(-1, 0, 1, [](Tick) {}), std::out_of_range);
  EXPECT_THROW(System("ring", 0), InputError);
  EXPECT_THROW(System("ring", 65), InputError);
  EXPECT_THROW(System("ring", 4, 1), InputError);  // half a link per neighbour
  try {
    System("torus", 4);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ring, fully-connected, switch"), std::string::npos);
  }
  System single("ring", 1, 0);  // one chip needs no links
  EXPECT_EQ(single.links.chip_count(), 1);
}

// The simulated collective differs from the formula only by rounding: each packet's time and the
// latency are rounded up to whole ticks (here 1/1200 ns) and the chunks to whole bytes, so it is
// never faster and slower by well under 1%.
TEST(RingCollectives, SimulatedAgreesWithTheClosedForm) {
  for (int chips : {2, 4, 8}) {
    for (bool all_reduce : {true, false}) {
      EventQueue events;
      StatTree stats;
      ClockDomain clock("core", 1200, 1);
      ChipLinks links(link_config("ring"), chips, events, clock, stats, "links");
      const uint64_t bytes = 64 * 1024 * 1024 + 7;
      Tick finished = 0;
      if (all_reduce)
        ring_all_reduce(links, bytes, [&](Tick t) { finished = t; });
      else
        ring_all_gather(links, bytes, [&](Tick t) { finished = t; });
      events.run();
      const double analytic = all_reduce ? ring_all_reduce_seconds(links, bytes)
                                         : ring_all_gather_seconds(links, bytes);
      const double bandwidth = chips == 2 ? 800e9 : 400e9;
      const int steps = all_reduce ? 2 * (chips - 1) : chips - 1;
      EXPECT_DOUBLE_EQ(analytic, steps * (static_cast<double>(bytes) / chips / bandwidth + 500e-9));
      const double simulated = links.ticks_to_seconds(finished);
      EXPECT_GE(simulated, analytic * (1 - 1e-12)) << chips << " chips";
      EXPECT_LT(simulated, analytic * 1.01) << chips << " chips";
    }
  }
}

TEST(RingCollectives, OneChipHasNothingToDo) {
  EventQueue events;
  StatTree stats;
  ChipLinks links(link_config("ring", 0), 1, events, ClockDomain("core", 1000, 1), stats, "links");
  Tick finished = 1;
  ring_all_reduce(links, 1024, [&](Tick t) { finished = t; });
  events.run();
  EXPECT_EQ(finished, 0u);
  EXPECT_EQ(ring_all_reduce_seconds(links, 1024), 0);
}

}  // namespace
}  // namespace seedchip::sim
