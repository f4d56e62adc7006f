#pragma once
// The distribution of one latency over the requests of a run, for its percentiles.
//
// Exact keeps every value: percentiles linear between order statistics, as serve::percentiles.
// Binned keeps counts in logarithmic bins instead (as DDSketch does), so that a run over a trace
// of any length holds a few thousand counters per latency: each order statistic is then reported
// within kRelativeError of its true value (the bin's value is the middle, in relative terms, of
// the bin that holds it), and percentiles, linear between two such values, are within it too.
// The mean is exact in both modes.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace seedchip::serve {

struct Percentiles {
  double p50 = 0, p90 = 0, p99 = 0, mean = 0;
};
Percentiles percentiles(std::vector<double> values);  // linear between order statistics

class LatencyDistribution {
 public:
  enum class Mode { kExact, kBinned };
  static constexpr double kRelativeError = 0.005;
  // Values below this many seconds count as zero in binned mode (no step is this short).
  static constexpr double kSmallest = 1e-12;

  explicit LatencyDistribution(Mode mode = Mode::kExact) : mode_(mode) {}
  Mode mode() const { return mode_; }
  void add(double seconds);  // >= 0
  // Adds every value of `other`, which must be of the same mode (std::invalid_argument if not).
  void merge(const LatencyDistribution& other);
  int64_t count() const { return count_; }
  // The q-quantile (0 <= q <= 1), linear between order statistics; 0 when empty.
  double quantile(double q) const;
  Percentiles percentiles() const;
  // Exact mode: the values in the order added (merged ones after). Empty in binned mode.
  const std::vector<double>& values() const { return values_; }
  // As JSON and back, every figure kept to the bit (for results exchanged between processes):
  // from_json(to_json()) reports what this does. InputError naming `what` for JSON that is not one.
  nlohmann::json to_json() const;
  static LatencyDistribution from_json(const nlohmann::json& j, const std::string& what);

 private:
  double order_statistic(int64_t k) const;  // binned: the k-th smallest (from 0)
  Mode mode_;
  int64_t count_ = 0;
  double sum_ = 0;
  std::vector<double> values_;
  // Binned: bins_[i] counts values v with gamma^(first_ + i - 1) < v <= gamma^(first_ + i);
  // zeros_ those below kSmallest.
  std::vector<int64_t> bins_;
  int64_t first_ = 0, zeros_ = 0;
};

}  // namespace seedchip::serve
