#include "sim/clock.h"

#include <cmath>
#include <numeric>
#include <stdexcept>

#include "arch/error.h"

namespace seedchip::sim {

ClockPlan ClockPlan::from_mhz(const std::vector<std::pair<std::string, double>>& domains) {
  ClockPlan plan;
  std::vector<uint64_t> whole;
  for (const auto& [name, mhz] : domains) {
    const double rounded = std::round(mhz);
    if (mhz <= 0 || std::abs(mhz - rounded) > 1e-9)
      throw InputError("clock '" + name + "': " + std::to_string(mhz) +
                       " MHz is not a positive whole number of MHz (clock ratios must be integer)");
    whole.push_back(static_cast<uint64_t>(rounded));
    plan.base_mhz_ = std::lcm(plan.base_mhz_, whole.back());
    if (plan.base_mhz_ > 1'000'000)
      throw InputError("clock '" + name +
                       "': the least common multiple of all clocks exceeds 1 THz");
  }
  for (size_t i = 0; i < domains.size(); ++i)
    plan.domains_.emplace_back(domains[i].first, whole[i], plan.base_mhz_ / whole[i]);
  return plan;
}

const ClockDomain& ClockPlan::domain(const std::string& name) const {
  for (const auto& d : domains_)
    if (d.name() == name) return d;
  throw std::logic_error("no clock domain named '" + name + "'");
}

}  // namespace seedchip::sim
