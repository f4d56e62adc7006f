// Latency distributions: exact percentiles as serve::percentiles, binned ones within their bound.
#include "serve/engine/latency.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

namespace seedchip::serve {
namespace {

using Mode = LatencyDistribution::Mode;

TEST(LatencyDistribution, ExactIsLinearBetweenOrderStatistics) {
  LatencyDistribution d;
  for (double v : {4.0, 1.0, 3.0, 2.0, 5.0}) d.add(v);
  EXPECT_EQ(d.count(), 5);
  EXPECT_DOUBLE_EQ(d.quantile(0.5), 3);
  EXPECT_DOUBLE_EQ(d.quantile(0.9), 4.6);  // 0.9 x 4 = 3.6: between 4 and 5
  EXPECT_DOUBLE_EQ(d.quantile(0), 1);
  EXPECT_DOUBLE_EQ(d.quantile(1), 5);
  const Percentiles p = d.percentiles();
  EXPECT_DOUBLE_EQ(p.p50, 3);
  EXPECT_DOUBLE_EQ(p.p90, 4.6);
  EXPECT_DOUBLE_EQ(p.p99, 4.96);
  EXPECT_DOUBLE_EQ(p.mean, 3);
  EXPECT_EQ(d.values(), (std::vector<double>{4, 1, 3, 2, 5}));  // in the order added
  EXPECT_EQ(LatencyDistribution().percentiles().p99, 0);
}

TEST(LatencyDistribution, BinnedIsWithinItsRelativeErrorOfExact) {
  // Latencies over six decades, as TTFTs of an overloaded run spread.
  std::mt19937_64 rng(3);
  std::lognormal_distribution<double> seconds(-2, 2.5);
  LatencyDistribution exact, binned(Mode::kBinned);
  for (int i = 0; i < 100000; ++i) {
    const double v = seconds(rng);
    exact.add(v);
    binned.add(v);
  }
  for (double q : {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
    SCOPED_TRACE(q);
    EXPECT_NEAR(binned.quantile(q), exact.quantile(q),
                LatencyDistribution::kRelativeError * exact.quantile(q));
  }
  // Not exact, though: the bins show.
  EXPECT_NE(binned.quantile(0.5), exact.quantile(0.5));
  EXPECT_NEAR(binned.percentiles().mean, exact.percentiles().mean, 1e-9 * exact.percentiles().mean);
  EXPECT_TRUE(binned.values().empty());
}

TEST(LatencyDistribution, MergingEqualsAddingEverything) {
  for (const Mode mode : {Mode::kExact, Mode::kBinned}) {
    LatencyDistribution a(mode), b(mode), all(mode);
    // b's bins lie below and above a's: the merge widens the range both ways.
    for (double v : {0.5, 0.7, 0.9}) a.add(v), all.add(v);
    for (double v : {1e-3, 0.0, 40.0}) b.add(v), all.add(v);
    a.merge(b);
    EXPECT_EQ(a.count(), 6);
    for (double q : {0.0, 0.2, 0.5, 0.8, 1.0}) EXPECT_DOUBLE_EQ(a.quantile(q), all.quantile(q));
  }
  LatencyDistribution exact, binned(Mode::kBinned);
  EXPECT_THROW(exact.merge(binned), std::invalid_argument);
}

TEST(LatencyDistribution, BinnedZerosAndMemory) {
  LatencyDistribution d(Mode::kBinned);
  d.add(0);
  d.add(0);
  d.add(2);
  EXPECT_EQ(d.quantile(0.5), 0);
  EXPECT_NEAR(d.quantile(1), 2, 2 * LatencyDistribution::kRelativeError);
  // A million values between 1 ms and 100 s take a few thousand bins, whatever their count.
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<double> log10(-3, 2);
  for (int i = 0; i < 1000000; ++i) d.add(std::pow(10, log10(rng)));
  EXPECT_EQ(d.count(), 1000003);
  EXPECT_TRUE(d.values().empty());
}

}  // namespace
}  // namespace seedchip::serve
