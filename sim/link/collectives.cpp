#include "sim/link/collectives.h"

#include <algorithm>
#include <memory>
#include <vector>

namespace seedchip::sim {
namespace {

// Chip `chip`'s share of a `bytes` buffer cut into K chunks, the first bytes % K one byte longer.
uint64_t share_bytes(uint64_t bytes, int chips, int chip) {
  return bytes / chips + (static_cast<uint64_t>(chip) < bytes % chips ? 1 : 0);
}

double ring_seconds(const ChipLinks& links, uint64_t bytes, int steps) {
  const int chips = links.chip_count();
  if (chips == 1) return 0;
  double bytes_per_second = links.path_bytes_per_second(0, 1);
  double latency = 0;
  for (int i = 0; i < chips; ++i) {
    bytes_per_second = std::min(bytes_per_second, links.path_bytes_per_second(i, (i + 1) % chips));
    latency = std::max(latency, links.path_latency_seconds(i, (i + 1) % chips));
  }
  return steps * (static_cast<double>(bytes) / chips / bytes_per_second + latency);
}

// The buffer is cut into K chunks (share_bytes); at step s chip i sends chunk i - s to chip i + 1,
// so after K - 1 steps each chunk has visited every chip once.
struct RingRun : std::enable_shared_from_this<RingRun> {
  ChipLinks& links;
  int chips;
  int steps;
  uint64_t bytes;
  int chips_unfinished;
  std::function<void(Tick)> done;

  RingRun(ChipLinks& links, int steps, uint64_t bytes, std::function<void(Tick)> done)
      : links(links),
        chips(links.chip_count()),
        steps(steps),
        bytes(bytes),
        chips_unfinished(links.chip_count()),
        done(std::move(done)) {}

  uint64_t chunk_bytes(int chunk) const { return share_bytes(bytes, chips, chunk); }

  void send(int chip, int step) {
    const int receiver = (chip + 1) % chips;
    const int chunk = ((chip - step) % chips + chips) % chips;
    links.transfer(chip, receiver, chunk_bytes(chunk),
                   [self = shared_from_this(), receiver, step](Tick arrival) {
                     if (step + 1 < self->steps)
                       self->send(receiver, step + 1);
                     else if (--self->chips_unfinished == 0)
                       self->done(arrival);
                   });
  }
};

void run_ring(ChipLinks& links, uint64_t bytes, int steps, std::function<void(Tick)> done) {
  if (links.chip_count() == 1) {
    links.transfer(0, 0, 0, std::move(done));  // nothing to move: completes now
    return;
  }
  auto run = std::make_shared<RingRun>(links, steps, bytes, std::move(done));
  for (int chip = 0; chip < run->chips; ++chip) run->send(chip, 0);
}

// Every chip sends `bytes_of(src, dst)` to every other chip at once, staggered: its j-th copy goes
// to chip src + j, so the copies of one round have distinct receivers and do not queue for the
// same receiving channel (a switch's downlink) while others idle.
template <typename BytesOf>
std::vector<ChipLinks::Transfer> one_shot_transfers(int chips, BytesOf bytes_of) {
  std::vector<ChipLinks::Transfer> transfers;
  for (int j = 1; j < chips; ++j)
    for (int src = 0; src < chips; ++src) {
      const int dst = (src + j) % chips;
      transfers.push_back({src, dst, bytes_of(src, dst)});
    }
  return transfers;
}

double one_shot_seconds(const ChipLinks& links, const std::vector<ChipLinks::Transfer>& transfers) {
  if (links.chip_count() == 1) return 0;
  double latency = 0;
  for (const ChipLinks::Transfer& t : transfers)
    latency = std::max(latency, links.path_latency_seconds(t.src_chip, t.dst_chip));
  return latency + links.busiest_channel_seconds(transfers);
}

void run_one_shot(ChipLinks& links, const std::vector<ChipLinks::Transfer>& transfers,
                  std::function<void(Tick)> done) {
  if (transfers.empty()) {
    links.transfer(0, 0, 0, std::move(done));  // one chip: nothing to move, completes now
    return;
  }
  // Arrivals are delivered in tick order, so the last one is the collective's end.
  auto unfinished = std::make_shared<size_t>(transfers.size());
  auto finish = std::make_shared<std::function<void(Tick)>>(std::move(done));
  for (const ChipLinks::Transfer& t : transfers)
    links.transfer(t.src_chip, t.dst_chip, t.bytes, [unfinished, finish](Tick arrival) {
      if (--*unfinished == 0) (*finish)(arrival);
    });
}

std::vector<ChipLinks::Transfer> one_shot_all_reduce_transfers(int chips, uint64_t bytes) {
  return one_shot_transfers(chips, [bytes](int, int) { return bytes; });
}

std::vector<ChipLinks::Transfer> one_shot_all_gather_transfers(int chips, uint64_t bytes) {
  return one_shot_transfers(
      chips, [bytes, chips](int src, int) { return share_bytes(bytes, chips, src); });
}

// Chip src's share for chip dst of its `bytes` buffer.
std::vector<ChipLinks::Transfer> all_to_all_transfers(int chips, uint64_t bytes) {
  return one_shot_transfers(
      chips, [bytes, chips](int, int dst) { return share_bytes(bytes, chips, dst); });
}

}  // namespace

std::string collective_algorithm_name(CollectiveAlgorithm algorithm) {
  return algorithm == CollectiveAlgorithm::kRing ? "ring" : "one-shot";
}

double ring_all_reduce_seconds(const ChipLinks& links, uint64_t bytes) {
  return ring_seconds(links, bytes, 2 * (links.chip_count() - 1));
}

double ring_all_gather_seconds(const ChipLinks& links, uint64_t bytes) {
  return ring_seconds(links, bytes, links.chip_count() - 1);
}

void ring_all_reduce(ChipLinks& links, uint64_t bytes, std::function<void(Tick)> done) {
  run_ring(links, bytes, 2 * (links.chip_count() - 1), std::move(done));
}

void ring_all_gather(ChipLinks& links, uint64_t bytes, std::function<void(Tick)> done) {
  run_ring(links, bytes, links.chip_count() - 1, std::move(done));
}

double one_shot_all_reduce_seconds(const ChipLinks& links, uint64_t bytes) {
  return one_shot_seconds(links, one_shot_all_reduce_transfers(links.chip_count(), bytes));
}

double one_shot_all_gather_seconds(const ChipLinks& links, uint64_t bytes) {
  return one_shot_seconds(links, one_shot_all_gather_transfers(links.chip_count(), bytes));
}

void one_shot_all_reduce(ChipLinks& links, uint64_t bytes, std::function<void(Tick)> done) {
  run_one_shot(links, one_shot_all_reduce_transfers(links.chip_count(), bytes), std::move(done));
}

void one_shot_all_gather(ChipLinks& links, uint64_t bytes, std::function<void(Tick)> done) {
  run_one_shot(links, one_shot_all_gather_transfers(links.chip_count(), bytes), std::move(done));
}

double all_to_all_seconds(const ChipLinks& links, uint64_t bytes) {
  return one_shot_seconds(links, all_to_all_transfers(links.chip_count(), bytes));
}

void all_to_all(ChipLinks& links, uint64_t bytes, std::function<void(Tick)> done) {
  run_one_shot(links, all_to_all_transfers(links.chip_count(), bytes), std::move(done));
}

double all_to_all_bytes_sent(int chips, uint64_t bytes) {
  return static_cast<double>(chips - 1) / chips * static_cast<double>(bytes);
}

CollectiveAlgorithm choose_all_reduce(const ChipLinks& links, uint64_t bytes) {
  return one_shot_all_reduce_seconds(links, bytes) < ring_all_reduce_seconds(links, bytes)
             ? CollectiveAlgorithm::kOneShot
             : CollectiveAlgorithm::kRing;
}

CollectiveAlgorithm choose_all_gather(const ChipLinks& links, uint64_t bytes) {
  return one_shot_all_gather_seconds(links, bytes) < ring_all_gather_seconds(links, bytes)
             ? CollectiveAlgorithm::kOneShot
             : CollectiveAlgorithm::kRing;
}

double all_reduce_bytes_sent(int chips, uint64_t bytes, CollectiveAlgorithm algorithm) {
  const double k = chips, b = static_cast<double>(bytes);
  return algorithm == CollectiveAlgorithm::kRing ? 2 * (k - 1) / k * b : (k - 1) * b;
}

void all_reduce(ChipLinks& links, uint64_t bytes, CollectiveAlgorithm algorithm,
                std::function<void(Tick)> done) {
  if (algorithm == CollectiveAlgorithm::kRing)
    ring_all_reduce(links, bytes, std::move(done));
  else
    one_shot_all_reduce(links, bytes, std::move(done));
}

void all_gather(ChipLinks& links, uint64_t bytes, CollectiveAlgorithm algorithm,
                std::function<void(Tick)> done) {
  if (algorithm == CollectiveAlgorithm::kRing)
    ring_all_gather(links, bytes, std::move(done));
  else
    one_shot_all_gather(links, bytes, std::move(done));
}

}  // namespace seedchip::sim
