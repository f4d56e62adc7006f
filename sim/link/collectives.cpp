#include "sim/link/collectives.h"

#include <algorithm>
#include <memory>

namespace seedchip::sim {
namespace {

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

// The buffer is cut into K chunks (the first bytes % K one byte longer); at step s chip i sends
// chunk i - s to chip i + 1, so after K - 1 steps each chunk has visited every chip once.
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

  uint64_t chunk_bytes(int chunk) const {
    return bytes / chips + (static_cast<uint64_t>(chunk) < bytes % chips ? 1 : 0);
  }

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

}  // namespace

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

}  // namespace seedchip::sim
