#pragma once
// The on-chip network: a 2D mesh of routers, one per core, with dimension-order routing and
// per-link bandwidth and per-hop latency. A transfer is cut into packets of noc.packet_bytes; each
// link serves packets one at a time in arrival order, so flows that share a link share its
// bandwidth. HBM channels attach to routers on the mesh edge (see node_of_hbm_channel).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arch/chip_config.h"
#include "sim/clock.h"
#include "sim/event_queue.h"
#include "sim/stats.h"

namespace seedchip::sim {

class Noc {
 public:
  Noc(const NocConfig& config, int mesh_x, int mesh_y, EventQueue& events, const ClockDomain& clock,
      StatTree& stats, const std::string& stat_prefix);
  ~Noc();

  int node_count() const;
  int node_of_core(int core) const;  // core i sits at router i (row-major)
  // HBM channel `channel` of stack `stack` (of `stacks`, `channels` per stack) enters the mesh at
  // an edge router: even stacks on the west edge (x = 0), odd ones on the east (x = mesh_x - 1);
  // the n stacks of an edge split its rows into n equal bands, and a stack's channels spread
  // evenly over its band, so HBM traffic enters through every edge router rather than one.
  int node_of_hbm_channel(int stack, int channel, int stacks, int channels) const;
  int hops(int src_node, int dst_node) const;
  // The directed links a packet from src to dst crosses under noc.routing, numbered as in
  // sim/noc/routing.h (router * 4 + direction).
  std::vector<int> route(int src_node, int dst_node) const;

  // Moves `bytes` from src to dst starting now; calls `done(arrival_tick)` from an event when the
  // last byte has arrived. src == dst completes after zero hops at the current tick.
  void transfer(int src_node, int dst_node, uint64_t bytes, Completion done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace seedchip::sim
