// HBM model bandwidth and speed on seedchip-v1 (all stacks): a 1 GiB sequential read stream and
// uniform random 64-byte reads, each against its first-principles figure (docs/hbm.md), plus
// simulation speed against a host memcpy of the same bytes measured in the same run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "arch/chip_config.h"
#include "sim/hbm/mem_trace.h"

namespace {

using seedchip::HbmConfig;
using seedchip::HbmTiming;
using seedchip::sim::MemRequest;
using seedchip::sim::MemTraceResult;
using seedchip::sim::replay_requests;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double refresh_efficiency(const HbmTiming& t) {
  return 1.0 - static_cast<double>(t.tRTP + t.tRP + t.tRFC + t.tRCD) / static_cast<double>(t.tREFI);
}

double random_bound_gbps(const HbmConfig& c) {
  const HbmTiming& t = c.timing;
  const double banks = static_cast<double>(c.bank_groups * c.banks_per_group);
  const double act_interval = std::max(
      {t.tFAW / 4.0, static_cast<double>(t.tRRD_S), t.tRC / banks, 64.0 / c.access_bytes * t.tBL});
  const double pcs = static_cast<double>(c.stacks * c.channels * c.pseudo_channels);
  return 64.0 / act_interval * c.clock_mhz * 1e6 * pcs * refresh_efficiency(t) / 1e9;
}

void report(const char* name, const MemTraceResult& r, double wall, double expected_gbps) {
  std::printf("%s: %.1f GB/s measured, %.1f GB/s first principles, ratio %.3f (peak %.1f GB/s)\n",
              name, r.gbytes_per_s, expected_gbps, r.gbytes_per_s / expected_gbps,
              r.peak_gbytes_per_s);
  std::printf(
      "  %llu requests, %llu HBM cycles in %.3f s wall: %.2f M requests/s, %.1f M cycles/s\n",
      static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.cycles), wall,
      r.requests / wall / 1e6, r.cycles / wall / 1e6);
}

}  // namespace

int main() {
  // seedchip-v1's 4 stacks of HBM3E, with all-bank refresh: the first-principles figures count
  // its cost exactly. seedchip-v1 itself refreshes per bank (measured last, against peak).
  HbmConfig config;
  config.refresh = "all-bank";
  const uint64_t stream_bytes = uint64_t{1} << 30;
  // Eight rows in flight per pseudo-channel: two per bank group, enough to keep every bus busy.
  const uint64_t stream_window =
      8 * static_cast<uint64_t>(config.stacks * config.channels * config.pseudo_channels);

  const auto row = static_cast<uint32_t>(config.row_bytes);
  auto sequential = [&](const HbmConfig& c) {
    uint64_t addr = 0;
    return replay_requests(
        [&](MemRequest& r) {
          if (addr >= stream_bytes) return false;
          r = {addr, row, false};
          addr += row;
          return true;
        },
        c, stream_window);
  };
  auto start = Clock::now();
  const MemTraceResult stream = sequential(config);
  const double stream_wall = seconds_since(start);
  report("sequential 1 GiB read stream", stream, stream_wall,
         stream.peak_gbytes_per_s * refresh_efficiency(config.timing));

  std::mt19937_64 rng(1);
  std::uniform_int_distribution<uint64_t> slot(0, (uint64_t{36} << 30) * config.stacks / 64 - 1);
  uint64_t issued = 0;
  const uint64_t random_count = 2'000'000;
  start = Clock::now();
  const MemTraceResult random = replay_requests(
      [&](MemRequest& r) {
        if (issued++ == random_count) return false;
        r = {slot(rng) * 64, 64, false};
        return true;
      },
      config);
  report("uniform random 64-byte reads", random, seconds_since(start), random_bound_gbps(config));

  HbmConfig per_bank = config;
  per_bank.refresh = "per-bank";
  start = Clock::now();
  const MemTraceResult stream_per_bank = sequential(per_bank);
  report("sequential 1 GiB read stream, per-bank refresh (seedchip-v1), against peak",
         stream_per_bank, seconds_since(start), stream_per_bank.peak_gbytes_per_s);

  // Reference: the host copying the same gibibyte, 64 MiB at a time.
  std::vector<char> from(64 << 20, 1), to(64 << 20);
  start = Clock::now();
  for (uint64_t done = 0; done < stream_bytes; done += from.size()) {
    std::memcpy(to.data(), from.data(), from.size());
    from[done % from.size()] = to[(done + 1) % to.size()];
  }
  const double copy_wall = seconds_since(start);
  std::printf("host memcpy of 1 GiB: %.3f s; simulating the stream takes %.1fx as long\n",
              copy_wall, stream_wall / copy_wall);
  return 0;
}
