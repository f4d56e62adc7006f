#include "sim/link/chip_links.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "arch/error.h"
#include "sim/noc/packet_route.h"

namespace seedchip::sim {
namespace {

struct Channel {
  std::string name;
  int links;
  bool pays_latency;  // a switch's downlink does not: the switch is counted in the uplink's latency
};

// What a topology builds: the channels and, for every (src, dst), the channels crossed in order.
struct Wiring {
  int chips;
  std::vector<Channel> channels;
  std::vector<std::vector<int>> routes;  // index src * chips + dst

  std::vector<int>& route(int src, int dst) { return routes[src * chips + dst]; }
  int add(std::string name, int links, bool pays_latency = true) {
    channels.push_back(Channel{std::move(name), links, pays_latency});
    return static_cast<int>(channels.size()) - 1;
  }
};

std::string chip_name(int chip) { return "chip" + std::to_string(chip); }

void wire_ring(Wiring& wiring, int count) {
  const int chips = wiring.chips;
  const int per_neighbour = count / 2;
  if (per_neighbour < 1)
    throw InputError(
        "links.count: a ring needs at least 2 links per chip (one to each neighbour), "
        "got " +
        std::to_string(count));
  // With two chips both neighbours are the same chip, so all its links go there.
  const int links = chips == 2 ? 2 * per_neighbour : per_neighbour;
  std::vector<int> clockwise(chips), counter(chips);
  // Two chips are each other's neighbour both ways round: one channel per direction.
  const int pairs = chips == 2 ? 1 : chips;
  for (int i = 0; i < pairs; ++i) {
    const int next = (i + 1) % chips;
    clockwise[i] = wiring.add(chip_name(i) + "_to_" + chip_name(next), links);
    counter[next] = wiring.add(chip_name(next) + "_to_" + chip_name(i), links);
  }
  if (chips == 2) {
    clockwise[1] = counter[1];
    counter[0] = clockwise[0];
  }
  for (int src = 0; src < chips; ++src) {
    for (int dst = 0; dst < chips; ++dst) {
      const int forward = (dst - src + chips) % chips;
      const bool go_clockwise = forward <= chips - forward;
      for (int at = src; at != dst;) {
        wiring.route(src, dst).push_back(go_clockwise ? clockwise[at] : counter[at]);
        at = (at + (go_clockwise ? 1 : chips - 1)) % chips;
      }
    }
  }
}

void wire_fully_connected(Wiring& wiring, int count) {
  const int chips = wiring.chips;
  const int peers = chips - 1;
  if (count < peers)
    throw InputError("links.count: fully-connected " + std::to_string(chips) +
                     " chips need at least " + std::to_string(peers) + " links per chip, got " +
                     std::to_string(count));
  const int base = count / peers;
  const int extra = count % peers;
  for (int src = 0; src < chips; ++src) {
    for (int dst = 0; dst < chips; ++dst) {
      if (src == dst) continue;
      // Every chip has two peers at each ring distance below chips / 2 and one at chips / 2, so
      // giving the extra links by distance gives every chip the same number.
      const int distance = std::min((dst - src + chips) % chips, (src - dst + chips) % chips);
      const bool gets_extra =
          distance <= extra / 2 || (chips % 2 == 0 && distance == chips / 2 && extra % 2 == 1);
      wiring.route(src, dst).push_back(
          wiring.add(chip_name(src) + "_to_" + chip_name(dst), base + (gets_extra ? 1 : 0)));
    }
  }
}

void wire_switch(Wiring& wiring, int count) {
  const int chips = wiring.chips;
  if (count < 1) throw InputError("links.count: a switched system needs at least 1 link per chip");
  std::vector<int> up(chips), down(chips);
  for (int i = 0; i < chips; ++i) {
    up[i] = wiring.add(chip_name(i) + "_to_switch", count);
    down[i] = wiring.add("switch_to_" + chip_name(i), count, false);
  }
  for (int src = 0; src < chips; ++src)
    for (int dst = 0; dst < chips; ++dst)
      if (src != dst) wiring.route(src, dst) = {up[src], down[dst]};
}

struct Topology {
  std::string name;
  std::string description;
  void (*wire)(Wiring& wiring, int count);
};

const std::vector<Topology>& topologies() {
  static const std::vector<Topology> all = {
      {"ring", "links.count / 2 links to each ring neighbour; shortest way round", wire_ring},
      {"fully-connected", "links spread evenly over every other chip", wire_fully_connected},
      {"switch", "every link to one non-blocking switch", wire_switch},
  };
  return all;
}

const Topology& find_topology(const std::string& name) {
  std::string choices;
  for (const Topology& topology : topologies()) {
    if (topology.name == name) return topology;
    choices += (choices.empty() ? "" : ", ") + topology.name;
  }
  throw InputError("links.topology: unknown topology '" + name + "', expected one of: " + choices);
}

uint64_t ceil_div(unsigned __int128 numerator, unsigned __int128 denominator) {
  return static_cast<uint64_t>((numerator + denominator - 1) / denominator);
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& chip_link_topologies() {
  static const std::vector<std::pair<std::string, std::string>> listed = [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (const Topology& topology : topologies())
      out.emplace_back(topology.name, topology.description);
    return out;
  }();
  return listed;
}

struct ChipLinks::Impl {
  Impl(const LinkConfig& config, Wiring wiring, EventQueue& events, const ClockDomain& clock,
       StatTree& stats, const std::string& stat_prefix, uint64_t packet_bytes)
      : config(config),
        wiring(std::move(wiring)),
        events(events),
        base_mhz(clock.mhz() * clock.period()),
        stats(stats),
        prefix(stat_prefix.empty() ? "" : stat_prefix + "."),
        packet_bytes(packet_bytes),
        links(this->wiring.channels.size()),
        published(links.size(), false),
        transfers(stats.counter(prefix + "transfers", "transfers", "chip-to-chip transfers")),
        bytes(stats.counter(prefix + "bytes", "bytes", "bytes sent between chips")) {
    const auto latency_ps = static_cast<uint64_t>(std::llround(config.latency_ns * 1000));
    const Tick latency = ceil_div(static_cast<unsigned __int128>(latency_ps) * base_mhz, 1000000);
    for (size_t i = 0; i < links.size(); ++i)
      links[i].latency = this->wiring.channels[i].pays_latency ? latency : 0;
  }

  void check_chip(int chip, const char* what) const {
    if (chip < 0 || chip >= wiring.chips)
      throw std::out_of_range(std::string("chip links: ") + what + " chip " + std::to_string(chip) +
                              " outside the system of " + std::to_string(wiring.chips) + " chips");
  }

  const std::vector<int>& route(int src, int dst) {
    check_chip(src, "source");
    check_chip(dst, "destination");
    return wiring.route(src, dst);
  }

  double channel_bytes_per_second(int channel) const {
    return wiring.channels[channel].links * config.gbytes_per_s * 1e9;
  }

  Tick packet_ticks(int channel, uint64_t packet) const {
    const auto per_second = static_cast<uint64_t>(std::llround(channel_bytes_per_second(channel)));
    return ceil_div(static_cast<unsigned __int128>(packet) * base_mhz * 1000000, per_second);
  }

  void publish(int channel) {
    if (published[channel]) return;
    published[channel] = true;
    const std::string path = prefix + wiring.channels[channel].name;
    const PacketLink* link = &links[channel];
    stats.formula(path + ".bytes", "bytes", "bytes this channel carried",
                  [link] { return static_cast<double>(link->bytes); });
    stats.formula(path + ".busy_ns", "ns", "time this channel was sending", [link, mhz = base_mhz] {
      return static_cast<double>(link->busy_ticks) * 1000 / mhz;
    });
  }

  LinkConfig config;
  Wiring wiring;
  EventQueue& events;
  uint64_t base_mhz;
  StatTree& stats;
  std::string prefix;
  uint64_t packet_bytes;
  std::vector<PacketLink> links;  // one per channel
  std::vector<bool> published;
  uint64_t& transfers;
  uint64_t& bytes;
};

ChipLinks::ChipLinks(const LinkConfig& config, int chips, EventQueue& events,
                     const ClockDomain& clock, StatTree& stats, const std::string& stat_prefix,
                     uint64_t packet_bytes) {
  if (chips < 1 || chips > 64)
    throw InputError("chip links: " + std::to_string(chips) + " chips, expected 1 to 64");
  if (packet_bytes < 1) throw InputError("chip links: packet size must be at least 1 byte");
  const Topology& topology = find_topology(config.topology);
  Wiring wiring{chips, {}, std::vector<std::vector<int>>(static_cast<size_t>(chips) * chips)};
  if (chips > 1) {
    if (config.gbytes_per_s <= 0)
      throw InputError("links.gbytes_per_s: must be positive to connect " + std::to_string(chips) +
                       " chips");
    topology.wire(wiring, static_cast<int>(config.count));
  }
  impl_ = std::make_unique<Impl>(config, std::move(wiring), events, clock, stats, stat_prefix,
                                 packet_bytes);
}

ChipLinks::~ChipLinks() = default;

int ChipLinks::chip_count() const { return impl_->wiring.chips; }

int ChipLinks::hops(int src_chip, int dst_chip) const {
  return static_cast<int>(impl_->route(src_chip, dst_chip).size());
}

double ChipLinks::path_bytes_per_second(int src_chip, int dst_chip) const {
  const std::vector<int>& route = impl_->route(src_chip, dst_chip);
  double narrowest = INFINITY;
  for (int channel : route)
    narrowest = std::min(narrowest, impl_->channel_bytes_per_second(channel));
  return narrowest;
}

double ChipLinks::path_latency_seconds(int src_chip, int dst_chip) const {
  double seconds = 0;
  for (int channel : impl_->route(src_chip, dst_chip))
    if (impl_->wiring.channels[channel].pays_latency) seconds += impl_->config.latency_ns * 1e-9;
  return seconds;
}

double ChipLinks::ticks_to_seconds(Tick ticks) const {
  return static_cast<double>(ticks) / (static_cast<double>(impl_->base_mhz) * 1e6);
}

double ChipLinks::busiest_channel_seconds(const std::vector<Transfer>& transfers) const {
  std::vector<double> load(impl_->wiring.channels.size(), 0);
  for (const Transfer& t : transfers)
    for (int channel : impl_->route(t.src_chip, t.dst_chip))
      load[channel] += static_cast<double>(t.bytes);
  double seconds = 0;
  for (size_t channel = 0; channel < load.size(); ++channel)
    seconds = std::max(seconds,
                       load[channel] / impl_->channel_bytes_per_second(static_cast<int>(channel)));
  return seconds;
}

void ChipLinks::transfer(int src_chip, int dst_chip, uint64_t bytes, Completion done) {
  Impl& system = *impl_;
  const std::vector<int>& route = system.route(src_chip, dst_chip);
  const uint64_t packets = (bytes + system.packet_bytes - 1) / system.packet_bytes;
  const uint64_t last_packet = bytes - (packets == 0 ? 0 : (packets - 1) * system.packet_bytes);
  std::vector<RouteHop> hops;
  hops.reserve(route.size());
  for (int channel : route) {
    system.publish(channel);
    hops.push_back(RouteHop{&system.links[channel],
                            system.packet_ticks(channel, system.packet_bytes),
                            system.packet_ticks(channel, last_packet)});
  }
  ++system.transfers;
  if (!route.empty()) system.bytes += bytes;
  send_packets(system.events, std::move(hops), bytes, system.packet_bytes, std::move(done));
}

}  // namespace seedchip::sim
