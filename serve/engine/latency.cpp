#include "serve/engine/latency.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "arch/error.h"

namespace seedchip::serve {

namespace {

// Bins of ratio gamma = (1 + a) / (1 - a): the value 2 gamma^i / (gamma + 1) is within a of every
// value in (gamma^(i-1), gamma^i].
const double kGamma =
    (1 + LatencyDistribution::kRelativeError) / (1 - LatencyDistribution::kRelativeError);
const double kLogGamma = std::log(kGamma);

int64_t bin_of(double v) { return static_cast<int64_t>(std::ceil(std::log(v) / kLogGamma)); }
double bin_value(int64_t i) { return 2 * std::pow(kGamma, static_cast<double>(i)) / (kGamma + 1); }

}  // namespace

Percentiles percentiles(std::vector<double> v) {
  LatencyDistribution d;
  for (double x : v) d.add(x);
  return d.percentiles();
}

void LatencyDistribution::add(double seconds) {
  ++count_;
  sum_ += seconds;
  if (mode_ == Mode::kExact) {
    values_.push_back(seconds);
    return;
  }
  if (seconds < kSmallest) {
    ++zeros_;
    return;
  }
  const int64_t i = bin_of(seconds);
  if (bins_.empty()) first_ = i;
  if (i < first_) {
    bins_.insert(bins_.begin(), static_cast<size_t>(first_ - i), 0);
    first_ = i;
  }
  if (i - first_ >= static_cast<int64_t>(bins_.size()))
    bins_.resize(static_cast<size_t>(i - first_ + 1), 0);
  ++bins_[static_cast<size_t>(i - first_)];
}

void LatencyDistribution::merge(const LatencyDistribution& other) {
  if (other.mode_ != mode_)
    throw std::invalid_argument("LatencyDistribution::merge: exact and binned do not mix");
  count_ += other.count_;
  sum_ += other.sum_;
  zeros_ += other.zeros_;
  values_.insert(values_.end(), other.values_.begin(), other.values_.end());
  if (other.bins_.empty()) return;
  if (bins_.empty()) {
    bins_ = other.bins_;
    first_ = other.first_;
    return;
  }
  const int64_t first = std::min(first_, other.first_);
  const int64_t end = std::max(first_ + static_cast<int64_t>(bins_.size()),
                               other.first_ + static_cast<int64_t>(other.bins_.size()));
  std::vector<int64_t> bins(static_cast<size_t>(end - first), 0);
  for (size_t i = 0; i < bins_.size(); ++i)
    bins[static_cast<size_t>(first_ - first) + i] += bins_[i];
  for (size_t i = 0; i < other.bins_.size(); ++i)
    bins[static_cast<size_t>(other.first_ - first) + i] += other.bins_[i];
  bins_ = std::move(bins);
  first_ = first;
}

double LatencyDistribution::order_statistic(int64_t k) const {
  if (k < zeros_) return 0;
  k -= zeros_;
  for (size_t i = 0; i < bins_.size(); ++i) {
    if (k < bins_[i]) return bin_value(first_ + static_cast<int64_t>(i));
    k -= bins_[i];
  }
  return bin_value(first_ + static_cast<int64_t>(bins_.size()) - 1);
}

double LatencyDistribution::quantile(double q) const {
  if (count_ == 0) return 0;
  const double x = q * static_cast<double>(count_ - 1);
  const auto i = static_cast<int64_t>(x);
  const double frac = x - static_cast<double>(i);
  if (mode_ == Mode::kExact) {
    std::vector<double> v = values_;
    std::nth_element(v.begin(), v.begin() + i, v.end());
    const double lo = v[static_cast<size_t>(i)];
    if (i + 1 >= count_) return lo;
    const double hi = *std::min_element(v.begin() + i + 1, v.end());
    return lo + (hi - lo) * frac;
  }
  const double lo = order_statistic(i);
  return i + 1 < count_ ? lo + (order_statistic(i + 1) - lo) * frac : lo;
}

Percentiles LatencyDistribution::percentiles() const {
  Percentiles p;
  if (count_ == 0) return p;
  if (mode_ == Mode::kExact) {
    // One sort for the three.
    std::vector<double> v = values_;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
      const double x = q * static_cast<double>(v.size() - 1);
      const size_t i = static_cast<size_t>(x);
      return i + 1 < v.size() ? v[i] + (v[i + 1] - v[i]) * (x - static_cast<double>(i)) : v[i];
    };
    p.p50 = at(0.5);
    p.p90 = at(0.9);
    p.p99 = at(0.99);
    for (double x : v) p.mean += x;  // in sorted order: the same mean whatever the merge order
    p.mean /= static_cast<double>(v.size());
    return p;
  }
  p.p50 = quantile(0.5);
  p.p90 = quantile(0.9);
  p.p99 = quantile(0.99);
  p.mean = sum_ / static_cast<double>(count_);
  return p;
}

nlohmann::json LatencyDistribution::to_json() const {
  if (mode_ == Mode::kExact) return {{"mode", "exact"}, {"values", values_}};
  return {{"mode", "binned"}, {"count", count_}, {"sum", sum_},
          {"zeros", zeros_},  {"first", first_}, {"bins", bins_}};
}

LatencyDistribution LatencyDistribution::from_json(const nlohmann::json& j,
                                                   const std::string& what) {
  try {
    const std::string mode = j.at("mode").get<std::string>();
    if (mode == "exact") {
      LatencyDistribution d(Mode::kExact);
      for (const double v : j.at("values").get<std::vector<double>>()) d.add(v);
      return d;
    }
    if (mode != "binned") throw InputError("mode '" + mode + "', expected exact or binned");
    LatencyDistribution d(Mode::kBinned);
    d.count_ = j.at("count").get<int64_t>();
    d.sum_ = j.at("sum").get<double>();
    d.zeros_ = j.at("zeros").get<int64_t>();
    d.first_ = j.at("first").get<int64_t>();
    d.bins_ = j.at("bins").get<std::vector<int64_t>>();
    int64_t counted = d.zeros_;
    for (const int64_t n : d.bins_) counted += n;
    if (counted != d.count_) throw InputError("bins that do not add up to the count");
    return d;
  } catch (const nlohmann::json::exception& e) {
    throw InputError(what + ": not a latency distribution: " + e.what());
  } catch (const InputError& e) {
    throw InputError(what + ": not a latency distribution: " + e.what());
  }
}

}  // namespace seedchip::serve
