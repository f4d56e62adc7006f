#include "sim/analytic/fit.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "arch/chip_schema.h"
#include "arch/error.h"

namespace seedchip::analytic {
namespace {

// The pattern search only finds a local minimum; spread starts guard against a poor one, each
// costing a fraction of a second on the Splitwise data.
constexpr int kStarts = 12;
constexpr double kFirstStep = 0.5;  // first multiplicative step: x1.5 / x0.5
constexpr double kLastStep = 1e-4;  // stop when steps are this small: 4 significant digits
constexpr int kPrimes[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53};

double halton(int index, int base) {
  double result = 0, f = 1;
  for (int i = index; i > 0; i /= base) {
    f /= base;
    result += f * (i % base);
  }
  return result;
}

EfficiencyConfig with_values(const EfficiencyConfig& base, const std::vector<FitParameter>& free,
                             const std::vector<double>& values) {
  ChipConfig chip;
  chip.efficiency = base;
  for (size_t i = 0; i < free.size(); ++i)
    set_chip_param(chip, free[i].key, fmt::format("{}", values[i]));
  return chip.efficiency;
}

// A case's kernels and chip figures, which no efficiency changes: computed once per fit.
struct PreparedCase {
  ChipRates rates;
  std::vector<KernelCost> kernels;
  int64_t tensor = 1;
  const std::vector<double>* measured = nullptr;
};

double objective(const std::vector<PreparedCase>& cases, const EfficiencyConfig& efficiency) {
  double sum = 0;
  size_t count = 0;
  for (const PreparedCase& c : cases) {
    double predicted = 0;
    for (const KernelCost& k : c.kernels)
      predicted += static_cast<double>(k.count) * kernel_seconds(c.rates, efficiency, k, c.tensor);
    for (double measured : *c.measured) sum += std::abs(predicted - measured) / measured;
    count += c.measured->size();
  }
  return sum / static_cast<double>(count);
}

}  // namespace

double predict_seconds(const FitCase& fit_case, const EfficiencyConfig& efficiency) {
  ChipConfig chip = fit_case.chip;
  chip.efficiency = efficiency;
  return cost_step(chip, fit_case.model, fit_case.shape, fit_case.parallelism).seconds;
}

double mean_abs_pct_error(const std::vector<FitCase>& cases, const EfficiencyConfig& efficiency) {
  double sum = 0;
  size_t count = 0;
  for (const FitCase& c : cases) {
    const double predicted = predict_seconds(c, efficiency);
    for (double measured : c.measured_seconds) sum += std::abs(predicted - measured) / measured;
    count += c.measured_seconds.size();
  }
  return count ? sum / static_cast<double>(count) : 0;
}

FitResult fit_efficiency(const std::vector<FitCase>& cases, const std::vector<FitParameter>& free,
                         const EfficiencyConfig& start) {
  size_t measured = 0;
  for (const FitCase& c : cases) measured += c.measured_seconds.size();
  if (measured == 0) throw InputError("fit_efficiency: no measured times to fit");
  if (free.size() > std::size(kPrimes))
    throw InputError(fmt::format("fit_efficiency: {} free parameters (at most {})", free.size(),
                                 std::size(kPrimes)));
  for (const FitParameter& p : free) {
    if (!p.key.starts_with("efficiency.") || !find_chip_param(p.key))
      throw InputError(fmt::format("fit_efficiency: '{}' is not an efficiency.* parameter", p.key));
    if (!(p.lo > 0 && p.lo <= p.hi))
      throw InputError(fmt::format("fit_efficiency: '{}' bounds [{}, {}] (expected 0 < lo <= hi)",
                                   p.key, p.lo, p.hi));
  }

  std::vector<PreparedCase> prepared;
  for (const FitCase& c : cases)
    prepared.push_back({chip_rates(c.chip), step_kernels(c.chip, c.model, c.shape, c.parallelism),
                        c.parallelism.tensor, &c.measured_seconds});
  FitResult best;
  best.objective = INFINITY;
  auto evaluate = [&](const std::vector<double>& values) {
    ++best.evaluations;
    return objective(prepared, with_values(start, free, values));
  };
  for (int s = 1; s <= kStarts; ++s) {
    std::vector<double> x(free.size());
    for (size_t i = 0; i < free.size(); ++i)  // log-uniform over the bounds
      x[i] = free[i].lo * std::pow(free[i].hi / free[i].lo, halton(s, kPrimes[i]));
    double value = evaluate(x);
    for (double step = kFirstStep; step > kLastStep;) {
      bool moved = false;
      for (size_t i = 0; i < free.size(); ++i) {
        for (double factor : {1 + step, 1 - step}) {
          std::vector<double> trial = x;
          trial[i] = std::clamp(x[i] * factor, free[i].lo, free[i].hi);
          if (trial[i] == x[i]) continue;
          double v = evaluate(trial);
          if (v < value) {
            value = v;
            x = std::move(trial);
            moved = true;
          }
        }
      }
      if (!moved) step /= 2;
    }
    if (value < best.objective) {
      best.objective = value;
      best.efficiency = with_values(start, free, x);
    }
  }
  return best;
}

}  // namespace seedchip::analytic
