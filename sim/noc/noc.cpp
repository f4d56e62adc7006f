#include "sim/noc/noc.h"

#include <algorithm>
#include <cstdlib>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "arch/error.h"
#include "sim/noc/packet_route.h"
#include "sim/noc/routing.h"

namespace seedchip::sim {

struct Noc::Impl {
  Impl(const NocConfig& config, int mesh_x, int mesh_y, EventQueue& events,
       const ClockDomain& clock, StatTree& stats, const std::string& stat_prefix)
      : config(config),
        mesh_x(mesh_x),
        mesh_y(mesh_y),
        events(events),
        clock(clock),
        stats(stats),
        prefix(stat_prefix.empty() ? "" : stat_prefix + "."),
        routing(find_mesh_routing(config.routing)),
        links(static_cast<size_t>(mesh_x) * mesh_y * kMeshDirections),
        link_published(links.size(), false),
        packets(stats.counter(prefix + "packets", "packets", "packets injected into the mesh")),
        bytes(stats.counter(prefix + "bytes", "bytes", "bytes moved between routers")),
        byte_hops(stats.counter(prefix + "byte_hops", "byte*hops",
                                "bytes moved times the links each crossed (energy driver)")) {
    for (PacketLink& link : links) link.latency = clock.ticks(config.hop_cycles);
  }

  int node_count() const { return mesh_x * mesh_y; }

  // The links from src to dst, computed and published on first use: every HBM chunk and remote
  // signal is a transfer, and walking the route allocated each time.
  const std::vector<int>& cached_route(int src_node, int dst_node) {
    const int64_t pair = static_cast<int64_t>(src_node) * node_count() + dst_node;
    auto [it, added] = routes.try_emplace(pair);
    if (added) {
      it->second = routing.route(mesh_x, src_node, dst_node);
      for (int id : it->second) publish_link(id);
    }
    return it->second;
  }

  void check_node(int node, const char* what) const {
    if (node < 0 || node >= node_count())
      throw std::out_of_range(std::string("noc: ") + what + " node " + std::to_string(node) +
                              " outside the mesh of " + std::to_string(node_count()) + " routers");
  }

  Tick packet_ticks(uint64_t packet_bytes) const {
    const auto per_cycle = static_cast<uint64_t>(config.link_bytes_per_cycle);
    return clock.ticks((packet_bytes + per_cycle - 1) / per_cycle);
  }

  std::string router_name(int node) const {
    return "x" + std::to_string(node % mesh_x) + "y" + std::to_string(node / mesh_x);
  }

  // Only links that carry traffic appear in the stats, so a 64x64 mesh does not write 16k links.
  void publish_link(int id) {
    if (link_published[id]) return;
    link_published[id] = true;
    const int from = id / kMeshDirections;
    const int step[kMeshDirections] = {1, -1, mesh_x, -mesh_x};
    const std::string path = prefix + "links." + router_name(from) + "_to_" +
                             router_name(from + step[id % kMeshDirections]);
    const PacketLink* link = &links[id];
    stats.formula(path + ".bytes", "bytes", "bytes this link carried",
                  [link] { return static_cast<double>(link->bytes); });
    stats.formula(
        path + ".busy_cycles", "cycles", "core cycles this link was sending",
        [link, period = clock.period()] { return static_cast<double>(link->busy_ticks / period); });
  }

  NocConfig config;
  int mesh_x;
  int mesh_y;
  EventQueue& events;
  ClockDomain clock;
  StatTree& stats;
  std::string prefix;
  const MeshRouting& routing;
  std::vector<PacketLink> links;
  std::vector<bool> link_published;
  std::unordered_map<int64_t, std::vector<int>> routes;  // src * node_count() + dst
  uint64_t& packets;
  uint64_t& bytes;
  uint64_t& byte_hops;
};

Noc::Noc(const NocConfig& config, int mesh_x, int mesh_y, EventQueue& events,
         const ClockDomain& clock, StatTree& stats, const std::string& stat_prefix) {
  if (mesh_x < 1 || mesh_y < 1)
    throw InputError("noc: mesh of " + std::to_string(mesh_x) + "x" + std::to_string(mesh_y) +
                     " routers, expected at least 1x1");
  impl_ = std::make_unique<Impl>(config, mesh_x, mesh_y, events, clock, stats, stat_prefix);
}

Noc::~Noc() = default;

int Noc::node_count() const { return impl_->node_count(); }

int Noc::node_of_core(int core) const {
  impl_->check_node(core, "core");
  return core;
}

int Noc::node_of_hbm_channel(int stack, int channel, int stacks, int channels) const {
  if (stacks < 1 || stack < 0 || stack >= stacks || channels < 1 || channel < 0 ||
      channel >= channels)
    throw std::out_of_range("noc: HBM stack " + std::to_string(stack) + " of " +
                            std::to_string(stacks) + ", channel " + std::to_string(channel) +
                            " of " + std::to_string(channels));
  const int on_west = (stacks + 1) / 2;
  const bool west = stack % 2 == 0;
  const int edge_count = west ? on_west : stacks - on_west;
  const int band = stack / 2;
  const int band_begin = band * impl_->mesh_y / edge_count;
  const int band_rows = std::max(1, (band + 1) * impl_->mesh_y / edge_count - band_begin);
  const int y = std::min(impl_->mesh_y - 1, band_begin + channel * band_rows / channels);
  const int x = west ? 0 : impl_->mesh_x - 1;
  return y * impl_->mesh_x + x;
}

int Noc::hops(int src_node, int dst_node) const {
  impl_->check_node(src_node, "source");
  impl_->check_node(dst_node, "destination");
  const int mesh_x = impl_->mesh_x;
  return std::abs(src_node % mesh_x - dst_node % mesh_x) +
         std::abs(src_node / mesh_x - dst_node / mesh_x);
}

std::vector<int> Noc::route(int src_node, int dst_node) const {
  impl_->check_node(src_node, "source");
  impl_->check_node(dst_node, "destination");
  return impl_->routing.route(impl_->mesh_x, src_node, dst_node);
}

void Noc::transfer(int src_node, int dst_node, uint64_t bytes, Completion done) {
  Impl& noc = *impl_;
  noc.check_node(src_node, "source");
  noc.check_node(dst_node, "destination");
  const std::vector<int>& links = noc.cached_route(src_node, dst_node);
  const auto packet_bytes = static_cast<uint64_t>(noc.config.packet_bytes);
  const uint64_t packets = links.empty() ? 0 : (bytes + packet_bytes - 1) / packet_bytes;
  auto flow = std::make_unique<PacketFlow>();
  flow->route.reserve(links.size());
  const Tick full_ticks = noc.packet_ticks(packet_bytes);
  const Tick last_ticks = packets == 0 ? 0 : noc.packet_ticks(bytes - (packets - 1) * packet_bytes);
  for (int id : links) flow->route.push_back(RouteHop{&noc.links[id], full_ticks, last_ticks});
  flow->remaining = bytes;
  flow->packet_bytes = packet_bytes;
  flow->done = std::move(done);
  noc.packets += packets;
  if (!links.empty()) noc.bytes += bytes;
  noc.byte_hops += bytes * links.size();

  // Routers act on clock edges; a transfer asked for between edges starts at the next one.
  const Tick start = noc.clock.next_edge(noc.events.now());
  if (links.empty() || start == noc.events.now()) {
    send_packets(noc.events, std::move(flow));
    return;
  }
  noc.events.schedule(start, [&noc, flow = std::move(flow)]() mutable {
    send_packets(noc.events, std::move(flow));
  });
}

}  // namespace seedchip::sim
