#pragma once
// Clock domains with integer ratios. Simulated time is counted in ticks of a base clock whose
// frequency is the least common multiple of every domain's frequency (in whole MHz), so each
// domain's cycle is a whole number of ticks and no rounding ever enters the schedule.
#include <cstdint>
#include <string>
#include <vector>

#include "sim/event_queue.h"

namespace seedchip::sim {

class ClockDomain {
 public:
  ClockDomain() = default;
  ClockDomain(std::string name, uint64_t mhz, Tick period_ticks)
      : name_(std::move(name)), mhz_(mhz), period_(period_ticks) {}

  const std::string& name() const { return name_; }
  uint64_t mhz() const { return mhz_; }
  Tick period() const { return period_; }
  Tick ticks(uint64_t cycles) const { return cycles * period_; }
  // The cycle of this domain that contains `tick` (rounded down) and the first edge at or after it.
  uint64_t cycle_at(Tick tick) const { return tick / period_; }
  Tick next_edge(Tick tick) const { return (tick + period_ - 1) / period_ * period_; }

 private:
  std::string name_;
  uint64_t mhz_ = 1;
  Tick period_ = 1;
};

class ClockPlan {
 public:
  // Frequencies must be whole MHz (InputError naming `what` otherwise); the base frequency is their
  // least common multiple, which must stay below 1 THz.
  static ClockPlan from_mhz(const std::vector<std::pair<std::string, double>>& domains);

  const ClockDomain& domain(const std::string& name) const;
  uint64_t base_mhz() const { return base_mhz_; }
  double ticks_to_ns(Tick t) const { return static_cast<double>(t) * 1000.0 / base_mhz_; }
  double ticks_to_seconds(Tick t) const { return static_cast<double>(t) / (base_mhz_ * 1e6); }

 private:
  uint64_t base_mhz_ = 1;
  std::vector<ClockDomain> domains_;
};

}  // namespace seedchip::sim
