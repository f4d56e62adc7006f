#pragma once
// Bank bandwidth of one core's SRAM as a fluid model (docs/core.md): an instruction's accesses
// need, per bank, ceil(bytes_on_bank / bank_width) cycles of bank time spread over the window the
// unit would take anyway; accesses already reserved keep their rate and the newcomer gets what is
// left, so it is stretched only when the banks it shares are oversubscribed.
#include <cstdint>
#include <vector>

#include "arch/chip_config.h"
#include "sim/clock.h"

namespace seedchip::sim {

// `rows` rows of `row_bytes` bytes, `stride` bytes apart, starting at `addr`.
struct SramRange {
  uint64_t addr = 0;
  uint64_t rows = 1;
  uint64_t row_bytes = 0;
  uint64_t stride = 0;
};

class SramBanks {
 public:
  SramBanks(const SramConfig& config, const ClockDomain& clock);

  // Reserves the banks for accesses that would take `window_cycles` without contention, starting
  // at `start`; returns the cycles they actually take (>= window_cycles).
  uint64_t access(Tick start, uint64_t window_cycles, const std::vector<SramRange>& ranges);

  // Bytes each bank serves for `ranges` (exposed for tests).
  std::vector<uint64_t> bytes_per_bank(const std::vector<SramRange>& ranges) const;

 private:
  struct Reservation {
    Tick end;
    double rate;  // fraction of the bank's bandwidth, until `end`
  };
  void add_range(std::vector<uint64_t>& per_bank, uint64_t addr, uint64_t bytes) const;
  void add_rows(std::vector<uint64_t>& per_bank, const SramRange& range) const;
  // Cycles after `start` at which `work` cycles of bank time are done on the leftover bandwidth.
  double finish_cycles(std::vector<Reservation>& bank, Tick start, uint64_t work) const;

  uint64_t banks_;
  uint64_t width_;
  const ClockDomain* clock_;
  std::vector<std::vector<Reservation>> reservations_;
};

}  // namespace seedchip::sim
