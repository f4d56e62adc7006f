#include "serve/workload/servegen.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tests/input_error.h"

namespace seedchip::serve {
namespace {

using seedchip::testing::error_of;

TEST(ServeGen, ReadsTheFourteenDayCurvesAndHistograms) {
  const std::vector<std::string> models = servegen_models();
  EXPECT_EQ(models, (std::vector<std::string>{"language/m-large", "language/m-mid",
                                              "language/m-small", "reason/deepseek-r1"}));
  const RateCurve mid = read_servegen_rates("language/m-mid");
  EXPECT_EQ(mid.requests_per_s.size(), 2016u);  // 14 days of 10-minute windows
  EXPECT_DOUBLE_EQ(mid.requests_per_s[0], 986.5650);
  EXPECT_GT(mid.peak(), mid.mean());
  const LengthHistograms h = read_servegen_lengths("language/m-mid");
  double total = 0;
  for (const LengthBin& b : h.input) total += b.probability;
  EXPECT_NEAR(total, 1, 1e-3);
}

TEST(ServeGen, ArrivalsFollowTheCurveAndLengthsTheHistograms) {
  const ServeGenSpec spec =
      parse_servegen_spec("servegen:model=language/m-mid,from=2,hours=1,scale=0.05");
  const Workload w = servegen_workload(spec);
  // Expected count: the hour's six windows at 5% of their rates; Poisson, so within 5 sigma.
  const RateCurve curve = read_servegen_rates("language/m-mid");
  double expected = 0;
  for (size_t i = 12; i < 18; ++i) expected += curve.requests_per_s[i] * 600 * 0.05;
  EXPECT_NEAR(static_cast<double>(w.requests.size()), expected, 5 * std::sqrt(expected));
  EXPECT_DOUBLE_EQ(w.requests.front().arrival, 0);
  EXPECT_LT(w.requests.back().arrival, 3600);
  for (size_t i = 1; i < w.requests.size(); ++i)
    ASSERT_GE(w.requests[i].arrival, w.requests[i - 1].arrival);
  // Mean prompt length against the histogram's (bins drawn uniformly: their mean is the midpoint).
  const LengthHistograms h = read_servegen_lengths("language/m-mid");
  double histogram_mean = 0, sample_mean = 0;
  for (const LengthBin& b : h.input)
    histogram_mean += b.probability * static_cast<double>(b.lo + b.hi - 1) / 2;
  for (const Request& r : w.requests) sample_mean += static_cast<double>(r.prompt);
  sample_mean /= static_cast<double>(w.requests.size());
  EXPECT_NEAR(sample_mean / histogram_mean, 1, 0.05);
  // The same spec gives the same requests; another seed others.
  EXPECT_EQ(servegen_workload(spec).requests, w.requests);
  ServeGenSpec other = spec;
  other.seed = 2;
  EXPECT_NE(servegen_workload(other).requests, w.requests);
  EXPECT_EQ(load_workload("servegen:model=language/m-mid,from=2,hours=1,scale=0.05").requests,
            w.requests);
}

TEST(ServeGen, BadSpecsNameTheKey) {
  EXPECT_NE(error_of([] {
              parse_servegen_spec("servegen:model=language/m-mid,rate=2");
            }).find("got 'rate=2'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              parse_servegen_spec("servegen:model=language/m-mid,scale=-1");
            }).find("key 'scale'"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_servegen_spec("servegen:hours=1"); }).find("model= is required"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              servegen_workload(parse_servegen_spec("servegen:model=gpt"));
            }).find("models: language/m-large"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              servegen_workload(parse_servegen_spec("servegen:model=language/m-mid,from=400"));
            }).find("after the curve's 336"),
            std::string::npos);
}

}  // namespace
}  // namespace seedchip::serve
