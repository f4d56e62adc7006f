#pragma once
// Collectives over every chip of a ChipLinks system, in closed form and as simulated transfers.
// Both ignore the reduction arithmetic itself (one-shot: K - 1 adds per element on the receiving
// chip's VPU, e.g. 7 x 8192 adds in about 30 core cycles on seedchip-v1, against 2 us of links);
// the simulated versions add only rounding to whole ticks and bytes, and the sharing of channels
// that the closed forms approximate.
//
// Two algorithms, as collective libraries (NCCL, MSCCL) choose between them by message size:
//  ring: chip i sends to chip i + 1 (mod K), in one direction of the ring: 2(K - 1) steps of
//    bytes / K for an all-reduce, K - 1 for an all-gather. Each chip sends the fewest bytes, so it
//    is bandwidth-optimal, but it pays the link latency once per step.
//  one-shot: every chip sends its whole buffer (all-reduce; each then sums the K partial buffers
//    locally) or its bytes / K share (all-gather) to every other chip at once, over the
//    topology's routes (through intermediate chips where there is no direct link). It pays the
//    longest route's latency once, and sends K - 1 times the buffer per chip: latency-optimal.
#include <cstdint>
#include <functional>
#include <string>

#include "sim/link/chip_links.h"

namespace seedchip::sim {

enum class CollectiveAlgorithm { kRing, kOneShot };
std::string collective_algorithm_name(CollectiveAlgorithm algorithm);  // "ring", "one-shot"

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

// One-shot in closed form: the longest route's latency plus the time the most loaded channel
// needs for every chip's K - 1 transfers (ChipLinks::busiest_channel_seconds). Exact (before
// rounding) where every pair of chips has its own channels, as in a fully-connected system; on a
// ring, transfers that share a channel queue behind each other, which this approximates.
double one_shot_all_reduce_seconds(const ChipLinks& links, uint64_t bytes);
double one_shot_all_gather_seconds(const ChipLinks& links, uint64_t bytes);

void one_shot_all_reduce(ChipLinks& links, uint64_t bytes, std::function<void(Tick)> done);
void one_shot_all_gather(ChipLinks& links, uint64_t bytes, std::function<void(Tick)> done);

// The algorithm whose closed form is shorter for this message on this system (the ring on a tie),
// and the bytes one chip sends in an all-reduce with each (an all-gather sends (K - 1) / K of the
// result with either: a chip's share goes to every other chip once). Bytes a chip forwards for
// others (one-shot copies crossing intermediate chips of a ring) are not counted.
CollectiveAlgorithm choose_all_reduce(const ChipLinks& links, uint64_t bytes);
CollectiveAlgorithm choose_all_gather(const ChipLinks& links, uint64_t bytes);
double all_reduce_bytes_sent(int chips, uint64_t bytes, CollectiveAlgorithm algorithm);

// All-to-all: each of K chips holds a `bytes` buffer cut into K shares (the first bytes % K one
// byte longer), share j for chip j; its own share stays, the other K - 1 go out at once, as
// point-to-point sends over the topology's routes (as NCCL issues an all-to-all: grouped sends
// to every peer, here staggered like the one-shot collectives). The closed form is the one-shot
// one: the longest route's latency plus the busiest channel's time for every chip's K - 1 shares.
// This is the only algorithm: a ring all-to-all (K - 1 store-and-forward steps, one direction)
// moves as many bytes or more over the busiest channel on the ring, fully-connected and switch
// topologies (on seedchip-v1's ring of 8, 28 shares against 10) and pays K - 1 latencies, so it
// never wins. The report names it "one-shot". Each chip sends (K - 1) / K x bytes.
double all_to_all_seconds(const ChipLinks& links, uint64_t bytes);
void all_to_all(ChipLinks& links, uint64_t bytes, std::function<void(Tick)> done);
double all_to_all_bytes_sent(int chips, uint64_t bytes);

// Runs the collective with the given algorithm; `done` as above.
void all_reduce(ChipLinks& links, uint64_t bytes, CollectiveAlgorithm algorithm,
                std::function<void(Tick)> done);
void all_gather(ChipLinks& links, uint64_t bytes, CollectiveAlgorithm algorithm,
                std::function<void(Tick)> done);

}  // namespace seedchip::sim
