#pragma once
// The packet-switching engine shared by the on-chip mesh (sim/noc) and the chip-to-chip links
// (sim/link): a transfer is cut into packets that cross a route of directed links cut-through,
// each link reserved in closed form, one event per packet. Header-only so that both component
// libraries use it without depending on each other.
#include <algorithm>
#include <cstdint>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

#include "sim/event_queue.h"

namespace seedchip::sim {

// One direction of one link: the tick intervals it is reserved for. A packet takes the first idle
// gap at or after the tick it can start that is long enough to carry it, so an idle link never
// makes a packet wait for a reservation made for a later one.
class LinkCalendar {
 public:
  // Reserves `duration` ticks starting no earlier than `earliest` (>= now); returns the start.
  Tick reserve(Tick earliest, Tick duration, Tick now) {
    auto live = busy_.begin();
    while (live != busy_.end() && live->end <= now) ++live;
    busy_.erase(busy_.begin(), live);
    Tick start = earliest;
    auto next = std::upper_bound(busy_.begin(), busy_.end(), start,
                                 [](Tick t, const Interval& i) { return t < i.start; });
    if (next != busy_.begin()) start = std::max(start, std::prev(next)->end);
    for (; next != busy_.end() && next->start < start + duration; ++next)
      start = std::max(start, next->end);
    insert_merged(start, start + duration);
    return start;
  }

 private:
  struct Interval {
    Tick start, end;
  };

  // Touching intervals are merged, so a link streaming back to back holds one entry.
  void insert_merged(Tick start, Tick end) {
    const auto after = std::lower_bound(busy_.begin(), busy_.end(), start,
                                        [](const Interval& i, Tick t) { return i.start < t; });
    const bool joins_after = after != busy_.end() && after->start == end;
    if (after != busy_.begin() && std::prev(after)->end == start) {
      std::prev(after)->end = joins_after ? after->end : end;
      if (joins_after) busy_.erase(after);
    } else if (joins_after) {
      after->start = start;
    } else {
      busy_.insert(after, Interval{start, end});
    }
  }

  // Disjoint, by start. A vector: a link holds a few reservations (the packets in flight through
  // it), and a tree's node per reservation cost more than moving them.
  std::vector<Interval> busy_;
};

// A directed link as the engine sees it, with the totals its owner publishes as stats.
struct PacketLink {
  LinkCalendar calendar;
  Tick latency = 0;  // from a packet's head leaving this link's sender to reaching its receiver
  uint64_t bytes = 0;
  Tick busy_ticks = 0;
};

// One link of a route with the ticks it needs to carry a full and the final (shorter) packet.
struct RouteHop {
  PacketLink* link;
  Tick full_packet_ticks;
  Tick last_packet_ticks;
};

// A transfer in flight. Exactly one event at a time refers to it (its next packet's injection or
// its arrival), so that event owns it and no reference count is kept per packet.
struct PacketFlow {
  std::vector<RouteHop> route;
  uint64_t remaining = 0;  // bytes not yet injected
  uint64_t packet_bytes = 0;
  Completion done;
};

namespace packet_route_detail {

inline void inject_packet(std::unique_ptr<PacketFlow> flow, EventQueue& events) {
  const Tick now = events.now();
  const uint64_t packet = std::min(flow->remaining, flow->packet_bytes);
  flow->remaining -= packet;
  const bool last = flow->remaining == 0;
  Tick head = now;  // earliest tick the packet's head can enter the next link
  Tick tail = 0;    // tick the packet's tail left the previous link
  Tick latency_before = 0;
  Tick next_injection = now;
  for (size_t k = 0; k < flow->route.size(); ++k) {
    const RouteHop& hop = flow->route[k];
    const Tick duration = last ? hop.last_packet_ticks : hop.full_packet_ticks;
    Tick earliest = head;
    if (k > 0) {  // the tail cannot leave before it has arrived, even onto a faster link
      const Tick tail_arrival = tail + flow->route[k - 1].link->latency;
      if (tail_arrival > duration) earliest = std::max(earliest, tail_arrival - duration);
    }
    const Tick start = hop.link->calendar.reserve(earliest, duration, now);
    tail = start + duration;
    head = start + hop.link->latency;
    hop.link->bytes += packet;
    hop.link->busy_ticks += duration;
    if (tail > latency_before) next_injection = std::max(next_injection, tail - latency_before);
    latency_before += hop.link->latency;
  }
  if (last) {
    const Tick arrival = tail + flow->route.back().link->latency;
    events.schedule(
        arrival, [flow = std::move(flow), arrival]() mutable { flow->done(arrival); },
        EventPriority::kCompletion);
  } else {
    events.schedule(next_injection, [flow = std::move(flow), &events]() mutable {
      inject_packet(std::move(flow), events);
    });
  }
}

}  // namespace packet_route_detail

// Sends `flow->remaining` bytes along `flow->route` starting at events.now() and calls
// `flow->done(arrival)` from an event at the tick the last byte reaches the end of the route (an
// empty route or transfer pays only the latencies). A flow injects its next packet at the earliest
// tick at which, unhindered, it reaches no link of the route before its previous packet has left
// it: the pace that routers with one-packet buffers and credit backpressure allow, so a flow never
// runs ahead of a shared link. `route` gives each link's ticks for a packet of `packet_bytes` and
// for the final remainder.
inline void send_packets(EventQueue& events, std::unique_ptr<PacketFlow> flow) {
  if (flow->route.empty() || flow->remaining == 0) {
    Tick route_latency = 0;
    for (const RouteHop& hop : flow->route) route_latency += hop.link->latency;
    const Tick arrival = events.now() + route_latency;
    events.schedule(
        arrival, [done = std::move(flow->done), arrival]() mutable { done(arrival); },
        EventPriority::kCompletion);
    return;
  }
  packet_route_detail::inject_packet(std::move(flow), events);
}

inline void send_packets(EventQueue& events, std::vector<RouteHop> route, uint64_t bytes,
                         uint64_t packet_bytes, Completion done) {
  send_packets(events, std::make_unique<PacketFlow>(
                           PacketFlow{std::move(route), bytes, packet_bytes, std::move(done)}));
}

}  // namespace seedchip::sim
