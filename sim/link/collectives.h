#pragma once
// Ring collectives over every chip of a ChipLinks system, chip i sending to chip i + 1 (mod K), in
// closed form and as simulated transfers. Both ignore the reduction arithmetic itself and use one
// direction of the ring; the simulated version adds only rounding to whole ticks and bytes.
#include <cstdint>
#include <functional>

#include "sim/link/chip_links.h"

namespace seedchip::sim {

// All-reduce of a `bytes` buffer on each of K chips: reduce-scatter then all-gather, 2(K - 1)
// steps each moving bytes / K to the next chip: 2(K-1)/K * bytes / bw + 2(K-1) * latency, with the
// bandwidth and latency of the slowest ring step.
double ring_all_reduce_seconds(const ChipLinks& links, uint64_t bytes);
// All-gather of a `bytes` result (bytes / K from each chip): (K-1)/K * bytes / bw + (K-1) *
// latency.
double ring_all_gather_seconds(const ChipLinks& links, uint64_t bytes);

// The same collectives issued as transfers: each chip sends step s + 1 once it has received step
// s from its predecessor. `done(tick)` is called from an event when the last chip has its result.
void ring_all_reduce(ChipLinks& links, uint64_t bytes, std::function<void(Tick)> done);
void ring_all_gather(ChipLinks& links, uint64_t bytes, std::function<void(Tick)> done);

}  // namespace seedchip::sim
