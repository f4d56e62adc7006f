// The one-shot collectives against hand-computed times, and the choice between them and the ring.
// The clock runs at 1000 MHz, so one tick is one ns; links are 100 GB/s each with 500 ns latency,
// and packets of 100 kB take a whole number of ns on every channel.
#include "sim/link/collectives.h"

#include <gtest/gtest.h>

#include "arch/chip_loader.h"

namespace seedchip::sim {
namespace {

LinkConfig link_config(const std::string& topology, int count, double latency_ns = 500) {
  LinkConfig config;
  config.count = count;
  config.gbytes_per_s = 100;
  config.latency_ns = latency_ns;
  config.topology = topology;
  return config;
}

struct System {
  System(const LinkConfig& config, int chips, uint64_t clock_mhz = 1000)
      : clock("core", clock_mhz, 1), links(config, chips, events, clock, stats, "links", 100'000) {}

  Tick run(CollectiveAlgorithm algorithm, uint64_t bytes, bool gather = false) {
    Tick finished = 0;
    if (gather)
      all_gather(links, bytes, algorithm, [&](Tick t) { finished = t; });
    else
      all_reduce(links, bytes, algorithm, [&](Tick t) { finished = t; });
    events.run();
    return finished;
  }

  EventQueue events;
  ClockDomain clock;
  StatTree stats;
  ChipLinks links;
};

// 8 chips with 7 links each: one 100 GB/s link to every other chip, so each of a chip's 7 copies
// has a channel of its own: latency + bytes / bandwidth = 500 + 100 kB / 100 GB/s = 1500 ns, where
// the ring needs 14 steps of 500 + 12.5 kB / 100 GB/s = 625 ns = 8750 ns.
TEST(OneShotCollectives, FullyConnectedAllReduceIsOneHopOfTheWholeBuffer) {
  System system(link_config("fully-connected", 7), 8);
  const uint64_t bytes = 100'000;
  EXPECT_DOUBLE_EQ(one_shot_all_reduce_seconds(system.links, bytes), 1500e-9);
  EXPECT_DOUBLE_EQ(ring_all_reduce_seconds(system.links, bytes), 8750e-9);
  EXPECT_EQ(system.run(CollectiveAlgorithm::kOneShot, bytes), 1500u);
  // Every chip sent its buffer to 7 others: 56 transfers on 56 channels.
  EXPECT_EQ(system.stats.get("links.bytes"), 56 * bytes);
  EXPECT_EQ(system.stats.get("links.chip3_to_chip6.bytes"), bytes);
  EXPECT_EQ(all_reduce_bytes_sent(8, bytes, CollectiveAlgorithm::kOneShot), 7.0 * bytes);
  EXPECT_EQ(all_reduce_bytes_sent(8, bytes, CollectiveAlgorithm::kRing), 2 * 7.0 / 8 * bytes);
}

// An all-gather sends each chip's 1/8 share: 500 + 12.5 kB / 100 GB/s = 625 ns.
TEST(OneShotCollectives, FullyConnectedAllGatherSendsOneShare) {
  System system(link_config("fully-connected", 7), 8);
  EXPECT_DOUBLE_EQ(one_shot_all_gather_seconds(system.links, 100'000), 625e-9);
  EXPECT_EQ(system.run(CollectiveAlgorithm::kOneShot, 100'000, true), 625u);
}

// A switch: each chip's one uplink carries its 3 copies one after another, and the latency is
// paid once: 500 + 3 x 1000 ns. The copies are staggered, so in each round every downlink takes
// one copy and none waits.
TEST(OneShotCollectives, SwitchSerialisesTheCopiesOnTheUplink) {
  System system(link_config("switch", 1), 4);
  EXPECT_DOUBLE_EQ(one_shot_all_reduce_seconds(system.links, 100'000), 3500e-9);
  EXPECT_EQ(system.run(CollectiveAlgorithm::kOneShot, 100'000), 3500u);
}

// seedchip-v1 (ring topology, 4 x 100 GB/s to each neighbour, 500 ns per hop) as TP 8 uses it in
// decode: a 16 KiB all-reduce one-shot crosses up to 4 hops (2 us) and the busiest channel carries
// the copies of 4 senders, 1 + 2 + 3 + 4 = 10 x 16 KiB at 400 GB/s (0.41 us); the ring pays 14
// latencies (7.07 us). Copies that share a channel queue as the closed form assumes, apart from
// the cut-through pipelining over the hops, which the simulation has and the formula does not.
TEST(OneShotCollectives, RingTopologyReachesEveryChipWithinItsDiameter) {
  const LoadedChip chip = load_chip("seedchip-v1");
  System system(chip.config.links, 8, static_cast<uint64_t>(chip.config.core.clock_mhz));
  const uint64_t bytes = 16 * 1024;
  const double closed = one_shot_all_reduce_seconds(system.links, bytes);
  EXPECT_NEAR(closed, 4 * 500e-9 + 10.0 * bytes / 400e9, 1e-15);
  const double simulated =
      system.links.ticks_to_seconds(system.run(CollectiveAlgorithm::kOneShot, bytes));
  EXPECT_GT(simulated, 4 * 500e-9);
  EXPECT_LT(simulated, closed * 1.1);
  EXPECT_LT(simulated, ring_all_reduce_seconds(system.links, bytes) / 3);
}

// All-to-all of an 800 kB buffer per chip on 8 fully-connected chips: each of a chip's 7 shares of
// 100 kB has a channel of its own, 500 + 1000 ns, and the simulation takes exactly that.
TEST(AllToAll, FullyConnectedSendsEachShareOverItsOwnChannel) {
  System system(link_config("fully-connected", 7), 8);
  const uint64_t bytes = 800'000;
  EXPECT_DOUBLE_EQ(all_to_all_seconds(system.links, bytes), 1500e-9);
  Tick finished = 0;
  all_to_all(system.links, bytes, [&](Tick t) { finished = t; });
  system.events.run();
  EXPECT_EQ(finished, 1500u);
  EXPECT_EQ(system.stats.get("links.bytes"), 56 * bytes / 8);
  EXPECT_EQ(system.stats.get("links.chip5_to_chip2.bytes"), bytes / 8);
  EXPECT_EQ(all_to_all_bytes_sent(8, bytes), 7.0 / 8 * bytes);
}

// A switch: a chip's 3 shares of 100 kB leave one after another on its one uplink.
TEST(AllToAll, SwitchSerialisesTheSharesOnTheUplink) {
  System system(link_config("switch", 1), 4);
  EXPECT_DOUBLE_EQ(all_to_all_seconds(system.links, 400'000), 3500e-9);
  Tick finished = 0;
  all_to_all(system.links, 400'000, [&](Tick t) { finished = t; });
  system.events.run();
  EXPECT_EQ(finished, 3500u);
}

// seedchip-v1's ring of 8 (4 x 100 GB/s to each neighbour, 500 ns per hop): shares cross up to 4
// hops, and the busiest channel (clockwise) carries the shares of distances 1 to 4 of each
// sender, 10 shares, at 400 GB/s. The simulation pipelines packets over the hops, which the
// closed form does not (it lands 10% under it for 16 KiB shares); a chip's
// shares of an uneven buffer differ by one byte.
TEST(AllToAll, RingTopologyMatchesItsClosedForm) {
  const LoadedChip chip = load_chip("seedchip-v1");
  for (const uint64_t bytes : {uint64_t{8 * 16 * 1024}, uint64_t{8 << 20}, uint64_t{1'000'003}}) {
    System system(chip.config.links, 8, static_cast<uint64_t>(chip.config.core.clock_mhz));
    const double closed = all_to_all_seconds(system.links, bytes);
    EXPECT_NEAR(closed, 4 * 500e-9 + 10.0 * static_cast<double>((bytes + 7) / 8) / 400e9, 3e-11);
    Tick finished = 0;
    all_to_all(system.links, bytes, [&](Tick t) { finished = t; });
    system.events.run();
    const double simulated = system.links.ticks_to_seconds(finished);
    EXPECT_GT(simulated, 4 * 500e-9);
    EXPECT_GT(simulated / closed, 0.85) << bytes;  // 0.90 for 16 KiB shares
    EXPECT_LT(simulated / closed, 1.1) << bytes;
    // Every byte but each chip's own share crosses the links once or more; the bytes counted are
    // per transfer (one per share), not per hop.
    EXPECT_EQ(system.stats.get("links.bytes"), bytes * 8 - bytes);
  }
  System one(link_config("ring", 0), 1);
  EXPECT_EQ(all_to_all_seconds(one.links, 1024), 0);
  EXPECT_EQ(all_to_all_bytes_sent(1, 1024), 0);
}

TEST(CollectiveChoice, OneShotForSmallMessagesRingForLarge) {
  const LoadedChip chip = load_chip("seedchip-v1");
  EventQueue events;
  StatTree stats;
  ChipLinks links(chip.config.links, 8, events, ClockDomain("core", 1200, 1), stats, "links");
  EXPECT_EQ(choose_all_reduce(links, 16 * 1024), CollectiveAlgorithm::kOneShot);
  EXPECT_EQ(choose_all_reduce(links, 64 << 20), CollectiveAlgorithm::kRing);
  EXPECT_EQ(choose_all_gather(links, 512 * 1024), CollectiveAlgorithm::kOneShot);
  EXPECT_EQ(choose_all_gather(links, 64 << 20), CollectiveAlgorithm::kRing);
  // The crossover lies where the ring's saved latencies (14 - 4 hops) pay for the one-shot's
  // extra bytes on the busiest channel: 10 x B - 14 x B / 8 = 8.25 B at 400 GB/s = 5 us, B = 242
  // kB.
  EXPECT_EQ(choose_all_reduce(links, 230'000), CollectiveAlgorithm::kOneShot);
  EXPECT_EQ(choose_all_reduce(links, 255'000), CollectiveAlgorithm::kRing);
}

// Without link latency there is nothing for one-shot to save, and it sends more bytes.
TEST(CollectiveChoice, FallsBackToTheRingWhenLatencyIsFree) {
  EventQueue events;
  StatTree stats;
  ChipLinks links(link_config("ring", 8, 0), 8, events, ClockDomain("core", 1000, 1), stats,
                  "links");
  EXPECT_EQ(choose_all_reduce(links, 1024), CollectiveAlgorithm::kRing);
  EXPECT_EQ(choose_all_gather(links, 1024), CollectiveAlgorithm::kRing);
}

TEST(CollectiveChoice, OneChipHasNothingToDo) {
  System system(link_config("ring", 0), 1);
  EXPECT_EQ(one_shot_all_reduce_seconds(system.links, 1024), 0);
  system.events.run();
  Tick finished = 1;
  one_shot_all_reduce(system.links, 1024, [&](Tick t) { finished = t; });
  system.events.run();
  EXPECT_EQ(finished, 0u);
}

}  // namespace
}  // namespace seedchip::sim
