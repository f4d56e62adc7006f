#pragma once
// The chip-to-chip links of a system of 1-64 identical chips, wired per links.topology. The links
// between two chips (or a chip and the switch) are striped into one channel per direction with
// their summed bandwidth; transfers cross channels cut-through in packets, so concurrent transfers
// share a channel's bandwidth, and each hop adds links.latency_ns.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "arch/chip_config.h"
#include "sim/clock.h"
#include "sim/event_queue.h"
#include "sim/stats.h"

namespace seedchip::sim {

// Topologies by name with their descriptions, in the order `seedchip info` lists them:
//  ring: chip i has links.count / 2 links to each of chips i - 1 and i + 1 (mod chips); transfers
//    take the shorter way round, the clockwise one (i -> i + 1) on a tie.
//  fully-connected: every pair of chips has links.count / (chips - 1) links; the remainder goes
//    to the pairs closest on the ring (each chip gets the same number); needs count >= chips - 1.
//  switch: each chip's links.count links go to a non-blocking switch: a transfer crosses the
//    sender's uplink and the receiver's downlink, and pays the link latency once.
const std::vector<std::pair<std::string, std::string>>& chip_link_topologies();

class ChipLinks {
 public:
  // Packets are the granularity at which transfers interleave on a channel; a lone transfer takes
  // the same time whatever their size (up to rounding), so it is a simulation setting.
  static constexpr uint64_t kDefaultPacketBytes = 64 * 1024;

  // Time is in ticks of `clock`'s base clock; latencies and packet times are rounded up to whole
  // ticks. InputError for a bad chip count, an unknown topology, or too few links to wire it.
  ChipLinks(const LinkConfig& config, int chips, EventQueue& events, const ClockDomain& clock,
            StatTree& stats, const std::string& stat_prefix,
            uint64_t packet_bytes = kDefaultPacketBytes);
  ~ChipLinks();

  int chip_count() const;
  // Channels a transfer from src to dst crosses (std::out_of_range for a chip outside the system).
  int hops(int src_chip, int dst_chip) const;
  // Bandwidth of the narrowest channel and summed latency of the path, before rounding to ticks.
  double path_bytes_per_second(int src_chip, int dst_chip) const;
  double path_latency_seconds(int src_chip, int dst_chip) const;
  double ticks_to_seconds(Tick ticks) const;

  struct Transfer {
    int src_chip, dst_chip;
    uint64_t bytes;
  };
  // Seconds the most loaded channel needs to carry `transfers` sent at once (each byte counted on
  // every channel of its route), before rounding: the bandwidth term of a collective whose
  // transfers share channels.
  double busiest_channel_seconds(const std::vector<Transfer>& transfers) const;

  // Moves `bytes` from src to dst starting now; calls `done(arrival_tick)` from an event when the
  // last byte has arrived. src == dst completes at the current tick.
  void transfer(int src_chip, int dst_chip, uint64_t bytes, Completion done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedchip::sim
