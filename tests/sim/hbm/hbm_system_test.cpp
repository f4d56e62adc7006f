// Controller behaviour: latencies from the timing gates, scheduling order, backpressure, refresh.
#include "sim/hbm/hbm_system.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "arch/error.h"
#include "sim/hbm/address_mapping.h"

namespace seedchip::sim {
namespace {

// The controller tests place requests on chosen banks and rows, so they use the plain field
// order; the -spread permutation is tested with the mappings.
HbmConfig one_stack() {
  HbmConfig c;
  c.stacks = 1;
  c.mapping = "RoBaBgPcChStCo";
  return c;
}

class Harness {
 public:
  explicit Harness(const HbmConfig& config)
      : clocks_(ClockPlan::from_mhz({{"hbm", config.clock_mhz}})),
        hbm(config, events, clocks_.domain("hbm"), stats, "hbm", nullptr, 0) {}

  const ClockDomain& clock() const { return clocks_.domain("hbm"); }
  uint64_t cycles(Tick t) const { return clock().cycle_at(t); }

  // Submits a read at cycle `at`; returns the slot its completion tick lands in.
  std::optional<Tick>& read_at(uint64_t at, uint64_t addr, uint32_t bytes = 64) {
    done_.emplace_back();
    std::optional<Tick>* slot = &done_.back();
    events.schedule(clock().ticks(at), [this, addr, bytes, slot] {
      ASSERT_TRUE(hbm.try_submit({addr, bytes, false, [slot](Tick t) { *slot = t; }}));
    });
    return *slot;
  }

  EventQueue events;
  StatTree stats;

 private:
  ClockPlan clocks_;
  std::deque<std::optional<Tick>> done_;

 public:
  HbmSystem hbm;
};

class HbmSystemTest : public ::testing::Test {
 protected:
  HbmConfig config = one_stack();
  const HbmTiming& t = config.timing;
  uint64_t row_stride() const {  // same bank, next row, under the plain mapping
    return static_cast<uint64_t>(config.row_bytes * config.channels * config.pseudo_channels *
                                 config.bank_groups * config.banks_per_group);
  }
};

TEST_F(HbmSystemTest, PeakAndCapacityFollowTheConfig) {
  HbmConfig four = config;
  four.stacks = 4;
  Harness h(four);
  EXPECT_NEAR(h.hbm.peak_bytes_per_second(), 4.9152e12, 1e6);
  EXPECT_EQ(h.hbm.capacity_bytes(), 4 * (uint64_t{36} << 30));
}

TEST_F(HbmSystemTest, RowConflictCostsTRPPlusTRCDMoreThanAHit) {
  config.timing.tREFI = 1000000;  // keep refresh out of the way
  Harness h(config);
  auto& first = h.read_at(0, 0);                   // bank closed: ACT, RD
  auto& hit = h.read_at(1000, 64);                 // same row
  auto& conflict = h.read_at(2000, row_stride());  // same bank, next row: PRE, ACT, RD
  h.events.run();
  ASSERT_TRUE(first && hit && conflict);
  const uint64_t hit_latency = h.cycles(*hit) - 1000;
  EXPECT_EQ(hit_latency,
            static_cast<uint64_t>(t.tCCD_L + t.tCL + t.tBL + config.controller_cycles));
  EXPECT_EQ(h.cycles(*first) - 0, hit_latency + static_cast<uint64_t>(t.tRCD));
  EXPECT_EQ(h.cycles(*conflict) - 2000, hit_latency + static_cast<uint64_t>(t.tRP + t.tRCD));
  EXPECT_EQ(h.stats.get("hbm.row_hits"), 1);
  EXPECT_EQ(h.stats.get("hbm.row_misses"), 1);
  EXPECT_EQ(h.stats.get("hbm.row_conflicts"), 1);
}

// Opens row 0 of bank 0, then at one instant queues an older conflict and a younger hit.
std::pair<Tick, Tick> conflict_then_hit(HbmConfig config, uint64_t row_stride) {
  config.timing.tREFI = 1000000;
  Harness h(config);
  h.read_at(0, 0);
  auto& older_conflict = h.read_at(1000, row_stride);
  auto& younger_hit = h.read_at(1000, 128);
  h.events.run();
  return {older_conflict.value(), younger_hit.value()};
}

TEST_F(HbmSystemTest, FrFcfsServesAYoungerRowHitFirst) {
  auto [conflict, hit] = conflict_then_hit(config, row_stride());
  EXPECT_LT(hit, conflict);
}

TEST_F(HbmSystemTest, FcfsServesTheOlderRequestFirst) {
  config.scheduler = "fcfs";
  auto [conflict, hit] = conflict_then_hit(config, row_stride());
  EXPECT_LT(conflict, hit);
}

TEST_F(HbmSystemTest, FullQueueRefusesAndCallsTheListenerWhenASlotFrees) {
  config.read_queue = 2;
  Harness h(config);
  int listener_calls = 0;
  h.hbm.add_space_listener([&] { ++listener_calls; });
  int accepted = 0;
  // Three requests to one PC in the same instant: the third finds the queue full.
  for (uint64_t i = 0; i < 3; ++i)
    accepted += h.hbm.try_submit({i * row_stride(), 64, false, nullptr});
  EXPECT_EQ(accepted, 2);
  EXPECT_EQ(listener_calls, 0);
  h.events.run();
  EXPECT_EQ(listener_calls, 1);
  EXPECT_EQ(h.stats.get("hbm.queue_full"), 1);
  EXPECT_TRUE(h.hbm.try_submit({0, 64, false, nullptr}));
}

TEST_F(HbmSystemTest, RefreshIsIssuedEveryTREFIWhetherBusyOrIdle) {
  for (const char* policy : {"all-bank", "per-bank"}) {
    config.refresh = policy;
    Harness h(config);
    const uint64_t end = 50 * static_cast<uint64_t>(t.tREFI) + 123;
    // Busy for the first 10 intervals, idle after, one last request at the end.
    for (uint64_t at = 0; at < 10 * static_cast<uint64_t>(t.tREFI); at += 500)
      h.read_at(at, (at / 500) * row_stride() % h.hbm.capacity_bytes());
    h.read_at(end, 0);
    h.events.run();
    h.hbm.settle();
    const uint64_t per_pc = config.refresh == std::string("per-bank")
                                ? end / (static_cast<uint64_t>(t.tREFI) / 16)
                                : end / static_cast<uint64_t>(t.tREFI);
    const double refreshes = h.stats.get("hbm.stack0.ch0.pc0.refreshes");
    EXPECT_NEAR(refreshes, static_cast<double>(per_pc), 1.0) << policy;
    EXPECT_NEAR(h.stats.get("hbm.refreshes"), 32.0 * per_pc, 32.0) << policy;
  }
}

TEST_F(HbmSystemTest, AllBankRefreshDelaysARequestThatArrivesDuringIt) {
  config.refresh = "all-bank";
  Harness h(config);
  const uint64_t refresh_at = static_cast<uint64_t>(t.tREFI);
  auto& during = h.read_at(refresh_at + 1, 0);
  h.events.run();
  // The refresh due at tREFI blocks ACT until tREFI + tRFC.
  EXPECT_EQ(h.cycles(*during),
            refresh_at + static_cast<uint64_t>(t.tRFC + t.tRCD + t.tCCD_L + t.tCL + t.tBL +
                                               config.controller_cycles));
}

TEST_F(HbmSystemTest, TraceHasOneTrackPerChannelAndASpanPerRequest) {
  const std::string path = ::testing::TempDir() + "hbm_trace.json";
  {
    EventQueue events;
    StatTree stats;
    const ClockPlan clocks = ClockPlan::from_mhz({{"hbm", config.clock_mhz}});
    TraceWriter trace(path, clocks.ticks_to_ns(1));
    HbmSystem hbm(config, events, clocks.domain("hbm"), stats, "hbm", &trace, 7);
    ASSERT_TRUE(hbm.try_submit({0, 64, false, nullptr}));
    ASSERT_TRUE(hbm.try_submit({1024, 64, true, nullptr}));  // next channel
    events.run();
  }
  std::ifstream in(path);
  const nlohmann::json events = nlohmann::json::parse(in);
  int tracks = 0, spans = 0;
  for (const auto& e : events.at("traceEvents")) {
    if (e.value("name", "") == "thread_name") ++tracks;
    if (e.value("ph", "") == "X") ++spans;
  }
  EXPECT_EQ(tracks, 16);
  EXPECT_EQ(spans, 2);
  std::remove(path.c_str());
}

TEST_F(HbmSystemTest, AddressBeyondCapacityIsAnInputError) {
  Harness h(config);
  EXPECT_THROW(h.hbm.try_submit({h.hbm.capacity_bytes(), 64, false, nullptr}), InputError);
}

TEST_F(HbmSystemTest, BadWatermarksAreInputErrors) {
  config.write_drain_low = config.write_drain_high;
  EXPECT_THROW(Harness h(config), InputError);
}

TEST_F(HbmSystemTest, WritesDrainAndComplete) {
  config.write_queue = 8;
  config.write_drain_high = 6;
  config.write_drain_low = 2;
  Harness h(config);
  int writes_done = 0;
  for (uint64_t i = 0; i < 8; ++i)
    ASSERT_TRUE(h.hbm.try_submit({i * 64, 64, true, [&](Tick) { ++writes_done; }}));
  h.events.run();
  EXPECT_EQ(writes_done, 8);
  EXPECT_EQ(h.stats.get("hbm.writes"), 8);
}

}  // namespace
}  // namespace seedchip::sim
