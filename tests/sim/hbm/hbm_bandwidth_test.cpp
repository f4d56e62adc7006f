// Streaming and random-read bandwidth against the first-principles figures of docs/hbm.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "sim/hbm/hbm_system.h"
#include "sim/hbm/mem_trace.h"

namespace seedchip::sim {
namespace {

// All-bank refresh, whose cost the first-principles figures below count exactly.
HbmConfig one_stack() {
  HbmConfig c;
  c.stacks = 1;
  c.refresh = "all-bank";
  return c;
}

// Fraction of time left to data after all-bank refresh: each tREFI loses the last read's tRTP,
// the precharge, the refresh and the first activate of the next row.
double refresh_efficiency(const HbmTiming& t) {
  return 1.0 - static_cast<double>(t.tRTP + t.tRP + t.tRFC + t.tRCD) / static_cast<double>(t.tREFI);
}

// Random rows: each 64-byte read needs its own ACT, so one PC delivers 64 bytes per ACT interval,
// the largest of tFAW/4, tRRD_S and tRC spread over all banks (and the data bus itself).
double random_bound_bytes_per_cycle(const HbmConfig& c, uint32_t request_bytes) {
  const HbmTiming& t = c.timing;
  const double banks = static_cast<double>(c.bank_groups * c.banks_per_group);
  const double bursts = static_cast<double>(request_bytes) / static_cast<double>(c.access_bytes);
  const double act_interval = std::max({t.tFAW / 4.0, static_cast<double>(t.tRRD_S), t.tRC / banks,
                                        bursts * static_cast<double>(t.tBL)});
  return request_bytes / act_interval;
}

MemTraceResult stream(const HbmConfig& config, uint64_t total_bytes, bool writes) {
  uint64_t addr = 0;
  const auto request = static_cast<uint32_t>(config.row_bytes);
  return replay_requests(
      [&](MemRequest& r) {
        if (addr >= total_bytes) return false;
        r = {addr, request, writes};
        addr += request;
        return true;
      },
      config);
}

MemTraceResult random_reads(const HbmConfig& config, uint64_t count, uint64_t capacity) {
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<uint64_t> slot(0, capacity / 64 - 1);
  uint64_t issued = 0;
  return replay_requests(
      [&](MemRequest& r) {
        if (issued++ == count) return false;
        r = {slot(rng) * 64, 64, false};
        return true;
      },
      config);
}

double pcs(const HbmConfig& c) {
  return static_cast<double>(c.stacks * c.channels * c.pseudo_channels);
}

TEST(HbmBandwidthTest, SequentialStreamReachesPeakLessRefresh) {
  const HbmConfig config = one_stack();
  const MemTraceResult r = stream(config, uint64_t{48} << 20, false);  // ~10 refresh intervals
  const double expected = r.peak_gbytes_per_s * refresh_efficiency(config.timing);
  RecordProperty("measured_gbps", std::to_string(r.gbytes_per_s));
  EXPECT_NEAR(r.gbytes_per_s / expected, 1.0, 0.03)
      << "measured " << r.gbytes_per_s << " GB/s, first principles " << expected;
}

TEST(HbmBandwidthTest, SequentialWriteStreamReachesPeakLessRefresh) {
  const HbmConfig config = one_stack();
  const MemTraceResult r = stream(config, uint64_t{16} << 20, true);
  const double expected = r.peak_gbytes_per_s * refresh_efficiency(config.timing);
  EXPECT_NEAR(r.gbytes_per_s / expected, 1.0, 0.05)
      << "measured " << r.gbytes_per_s << " GB/s, first principles " << expected;
}

TEST(HbmBandwidthTest, RandomReadsAreBoundByTheActivateRate) {
  const HbmConfig config = one_stack();
  const uint64_t capacity = uint64_t{36} << 30;
  const MemTraceResult r = random_reads(config, 200000, capacity);
  const double bound = random_bound_bytes_per_cycle(config, 64) * config.clock_mhz * 1e6 *
                       pcs(config) * refresh_efficiency(config.timing) / 1e9;
  // The bound assumes a ready bank for every ACT slot; with tRC / (tFAW / 4) = 13 of 16 banks busy
  // on average, the queue often holds none (docs/hbm.md), so the model reaches about 2/3 of it.
  EXPECT_LE(r.gbytes_per_s, bound);
  EXPECT_GE(r.gbytes_per_s, bound * 0.6)
      << "measured " << r.gbytes_per_s << " GB/s, activate-rate bound " << bound;
  EXPECT_LT(r.stats.get("hbm.row_hit_rate"), 0.01);
}

// 32 streams of whole rows, 1 GiB apart, interleaved, with 16 requests in flight per PC (512 per
// stack): by Little's law enough to cover a row's loaded latency, so the bus should stay busy but
// for per-bank refresh, which closes one bank for tRFCpb every tREFI / 16 and costs about 2%. The
// model reaches about 0.76 of that in this short run (start and drain included; 0.85 on 64 MiB),
// so the check guards against a regression of the batch rules, not against the bound itself.
TEST(HbmBandwidthTest, InterleavedStreamsAtModerateDepthKeepTheBusBusy) {
  HbmConfig config = one_stack();
  config.refresh = "per-bank";
  const uint64_t streams = 32, total = uint64_t{8} << 20, row = 1024;
  uint64_t i = 0;
  const MemTraceResult r = replay_requests(
      [&](MemRequest& req) {
        if (i * row >= total) return false;
        req = {(i % streams) * (uint64_t{1} << 30) + i / streams * row, 1024, false};
        ++i;
        return true;
      },
      config, 16 * static_cast<uint64_t>(pcs(config)));
  const double refresh_adjusted = r.peak_gbytes_per_s * 0.98;
  RecordProperty("measured_gbps", std::to_string(r.gbytes_per_s));
  EXPECT_GE(r.gbytes_per_s, 0.72 * refresh_adjusted)
      << "measured " << r.gbytes_per_s << " GB/s, refresh-adjusted peak " << refresh_adjusted;
  EXPECT_LE(r.gbytes_per_s, r.peak_gbytes_per_s);
}

TEST(HbmBandwidthTest, SameInputsGiveIdenticalStats) {
  const HbmConfig config = one_stack();
  const MemTraceResult a = random_reads(config, 20000, uint64_t{36} << 30);
  const MemTraceResult b = random_reads(config, 20000, uint64_t{36} << 30);
  EXPECT_EQ(a.cycles, b.cycles);
  EXPECT_EQ(a.stats.to_json().dump(), b.stats.to_json().dump());
}

}  // namespace
}  // namespace seedchip::sim
