// Every expected tick below is worked out by hand from the cut-through model in sim/noc/noc.h:
// a packet of b bytes holds each link ceil(b / link_bytes_per_cycle) cycles and its head reaches
// the next router hop_cycles later, so one packet over h hops arrives after h * hop + its
// serialization, and a stream of packets after h * hop + the sum of their serializations.
#include "sim/noc/noc.h"

#include <gtest/gtest.h>

#include <deque>
#include <stdexcept>
#include <vector>

#include "arch/error.h"
#include "sim/noc/routing.h"

namespace seedchip::sim {
namespace {

constexpr Tick kPeriod = 3;  // ticks per core cycle, so that cycles and ticks cannot be confused

NocConfig test_config(const std::string& routing = "xy") {
  NocConfig config;
  config.link_bytes_per_cycle = 256;
  config.hop_cycles = 2;
  config.packet_bytes = 1024;  // 4 cycles per full packet
  config.routing = routing;
  return config;
}

struct Mesh {
  explicit Mesh(const std::string& routing = "xy", int mesh_x = 4, int mesh_y = 4)
      : noc(test_config(routing), mesh_x, mesh_y, events, clock, stats, "chip.noc") {}

  // Starts a transfer now; the returned slot receives the arrival cycle once the queue has run.
  uint64_t& send(int src, int dst, uint64_t bytes) {
    arrivals.push_back(0);
    size_t slot = arrivals.size() - 1;
    noc.transfer(src, dst, bytes, [this, slot](Tick arrival) {
      EXPECT_EQ(arrival, events.now());
      arrivals[slot] = arrival / kPeriod;
    });
    return arrivals[slot];
  }

  EventQueue events;
  ClockDomain clock{"core", 1000, kPeriod};
  StatTree stats;
  Noc noc;
  std::deque<uint64_t> arrivals;  // deque: references stay valid as transfers are added
};

TEST(Noc, SinglePacketLatencyGrowsByHopCyclesPerHop) {
  for (auto [dst, hops] : std::vector<std::pair<int, uint64_t>>{{1, 1}, {2, 2}, {3, 3}, {15, 6}}) {
    Mesh mesh;
    ASSERT_EQ(mesh.noc.hops(0, dst), static_cast<int>(hops));
    uint64_t& arrival = mesh.send(0, dst, 1024);
    mesh.events.run();
    EXPECT_EQ(arrival, 2 * hops + 4) << "to node " << dst;
  }
}

TEST(Noc, OneFlowStreamsAtLinkBandwidth) {
  Mesh mesh;
  uint64_t& one_hop = mesh.send(0, 1, 64 * 1024);  // 64 packets back to back
  uint64_t& three_hops = mesh.send(4, 7, 64 * 1024);
  mesh.events.run();
  EXPECT_EQ(one_hop, 64 * 4 + 2);
  EXPECT_EQ(three_hops, 64 * 4 + 3 * 2);
  EXPECT_EQ(64 * 1024 / (one_hop - 2), 256u);  // bytes per cycle = link_bytes_per_cycle
}

TEST(Noc, TwoFlowsFromOneRouterShareTheLinkPacketByPacket) {
  Mesh mesh;
  uint64_t& a = mesh.send(0, 1, 64 * 1024);
  uint64_t& b = mesh.send(0, 1, 64 * 1024);
  mesh.events.run();
  // A takes the odd 4-cycle slots and B the even ones: A's last packet leaves at 508, B's at 512.
  EXPECT_EQ(a, 510u);
  EXPECT_EQ(b, 514u);
  const double single_flow_cycles = 64 * 4 + 2;
  EXPECT_NEAR(b / single_flow_cycles, 2.0, 0.02);
  for (uint64_t arrival : {a, b}) EXPECT_NEAR(64.0 * 1024 / arrival, 128.0, 128.0 * 0.05);
}

TEST(Noc, TwoFlowsMergingOnALinkEachGetHalfOfIt) {
  Mesh mesh;
  uint64_t& a = mesh.send(0, 2, 64 * 1024);  // links 0->1, 1->2
  uint64_t& b = mesh.send(1, 2, 64 * 1024);  // link 1->2
  mesh.events.run();
  // On link 1->2, A's packet i holds [2 + 8i, 6 + 8i) and B's [6 + 8i, 10 + 8i): A arrives
  // 506 + 4 + 2, B 510 + 4 + 2. A is held back by credits, not queued ahead of B.
  EXPECT_EQ(a, 512u);
  EXPECT_EQ(b, 516u);
  for (uint64_t arrival : {a, b}) EXPECT_NEAR(64.0 * 1024 / arrival, 128.0, 128.0 * 0.05);
}

TEST(Noc, FlowsOnDisjointLinksDoNotInterfere) {
  Mesh mesh;
  uint64_t& east = mesh.send(0, 1, 64 * 1024);
  uint64_t& west = mesh.send(1, 0, 64 * 1024);  // the opposite direction is its own link
  uint64_t& elsewhere = mesh.send(2, 3, 64 * 1024);
  mesh.events.run();
  for (uint64_t arrival : {east, west, elsewhere}) EXPECT_EQ(arrival, 64 * 4 + 2);
}

TEST(Noc, XyAndYxTakeDifferentLinks) {
  Mesh xy("xy");
  Mesh yx("yx");
  // (0,0) -> (1,1): XY goes east through router 1, YX goes south through router 4.
  EXPECT_EQ(xy.noc.route(0, 5), (std::vector<int>{0 * 4 + kXPlus, 1 * 4 + kYPlus}));
  EXPECT_EQ(yx.noc.route(0, 5), (std::vector<int>{0 * 4 + kYPlus, 4 * 4 + kXPlus}));
  EXPECT_EQ(xy.noc.route(5, 0), (std::vector<int>{5 * 4 + kXMinus, 4 * 4 + kYMinus}));

  // A second flow 1 -> 5 collides with 0 -> 5 on link 1->5 under XY only.
  uint64_t& xy_a = xy.send(0, 5, 64 * 1024);
  uint64_t& xy_b = xy.send(1, 5, 64 * 1024);
  uint64_t& yx_a = yx.send(0, 5, 64 * 1024);
  uint64_t& yx_b = yx.send(1, 5, 64 * 1024);
  xy.events.run();
  yx.events.run();
  EXPECT_EQ(xy_a, 512u);  // the merging pattern of the test above
  EXPECT_EQ(xy_b, 516u);
  EXPECT_EQ(yx_a, 64 * 4 + 2 * 2);
  EXPECT_EQ(yx_b, 64 * 4 + 2);
}

TEST(Noc, TransferIsSplitIntoPacketsWithAShortLastOne) {
  Mesh mesh;
  // 2500 bytes = 1024 + 1024 + 452: 4 + 4 + ceil(452 / 256) = 10 cycles on each link.
  uint64_t& one_hop = mesh.send(0, 1, 2500);
  uint64_t& two_hops = mesh.send(4, 6, 2500);
  mesh.events.run();
  EXPECT_EQ(one_hop, 10 + 2u);
  EXPECT_EQ(two_hops, 10 + 2 * 2u);
  EXPECT_EQ(mesh.stats.get("chip.noc.packets"), 6);
  EXPECT_EQ(mesh.stats.get("chip.noc.bytes"), 5000);
  EXPECT_EQ(mesh.stats.get("chip.noc.byte_hops"), 2500 * 3);
  EXPECT_EQ(mesh.stats.get("chip.noc.links.x0y1_to_x1y1.bytes"), 2500);
  EXPECT_EQ(mesh.stats.get("chip.noc.links.x1y1_to_x2y1.busy_cycles"), 10);
  EXPECT_FALSE(mesh.stats.contains("chip.noc.links.x1y0_to_x0y0.bytes"));  // unused: not listed
}

TEST(Noc, TransferToItselfCompletesAtOnce) {
  Mesh mesh;
  Tick done_at = 1;
  mesh.events.schedule(30, [&] { mesh.noc.transfer(5, 5, 4096, [&](Tick t) { done_at = t; }); });
  mesh.events.run();
  EXPECT_EQ(done_at, 30u);
  EXPECT_EQ(mesh.stats.get("chip.noc.packets"), 0);
}

TEST(Noc, TransferAskedBetweenEdgesStartsAtTheNextEdge) {
  Mesh mesh;
  Tick done_at = 0;
  mesh.events.schedule(1, [&] { mesh.noc.transfer(0, 1, 1024, [&](Tick t) { done_at = t; }); });
  mesh.events.run();
  EXPECT_EQ(done_at, kPeriod + (2 + 4) * kPeriod);
}

TEST(Noc, SameTrafficGivesSameTicksAndStats) {
  auto run = [] {
    Mesh mesh;
    for (int i = 0; i < 16; ++i) mesh.send(i, (i * 7 + 3) % 16, 1000 + 777 * i);
    mesh.events.run();
    return std::make_pair(std::vector<uint64_t>(mesh.arrivals.begin(), mesh.arrivals.end()),
                          mesh.stats.to_json().dump());
  };
  EXPECT_EQ(run(), run());
}

TEST(Noc, HbmChannelsSpreadOverTheWestAndEastEdges) {
  Mesh mesh;
  // 4 stacks on 4x4: rows 1 and 3 of each edge.
  // Four stacks of 16 channels on a 4x4 mesh: stacks 0 and 2 share the west edge (rows 0-1 and
  // 2-3), stacks 1 and 3 the east; each stack's channels split over the two rows of its band.
  EXPECT_EQ(mesh.noc.node_of_hbm_channel(0, 0, 4, 16), 0);    // (0,0)
  EXPECT_EQ(mesh.noc.node_of_hbm_channel(0, 7, 4, 16), 0);    // (0,0)
  EXPECT_EQ(mesh.noc.node_of_hbm_channel(0, 8, 4, 16), 4);    // (0,1)
  EXPECT_EQ(mesh.noc.node_of_hbm_channel(1, 15, 4, 16), 7);   // (3,1)
  EXPECT_EQ(mesh.noc.node_of_hbm_channel(2, 0, 4, 16), 8);    // (0,2)
  EXPECT_EQ(mesh.noc.node_of_hbm_channel(3, 15, 4, 16), 15);  // (3,3)
  EXPECT_EQ(mesh.noc.node_of_hbm_channel(0, 3, 1, 4), 12);    // one stack: the whole west edge
  EXPECT_THROW(mesh.noc.node_of_hbm_channel(4, 0, 4, 16), std::out_of_range);
  EXPECT_THROW(mesh.noc.node_of_hbm_channel(0, 16, 4, 16), std::out_of_range);
}

TEST(Noc, RejectsUnknownRoutingAndNodesOutsideTheMesh) {
  try {
    Mesh mesh("diagonal");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("noc.routing"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("xy, yx"), std::string::npos);
  }
  Mesh mesh;
  EXPECT_THROW(mesh.noc.transfer(0, 16, 64, [](Tick) {}), std::out_of_range);
  EXPECT_THROW(mesh.noc.hops(-1, 0), std::out_of_range);
}

}  // namespace
}  // namespace seedchip::sim
