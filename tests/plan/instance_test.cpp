#include "plan/instance.h"

#include <gtest/gtest.h>

#include "arch/chip_loader.h"
#include "tests/input_error.h"

namespace seedchip::plan {
namespace {

using seedchip::testing::error_of;

// Prefill costs `per_token` seconds a token, a decode step `decode` seconds whatever its batch:
// the instance saturates when prefill work fills the time.
class LinearCost : public serve::StepCostModel {
 public:
  LinearCost(double per_token, double decode) : per_token_(per_token), decode_(decode) {}
  serve::StepCost prefill(int64_t tokens, int64_t) const override {
    return {per_token_ * static_cast<double>(tokens), 1};
  }
  serve::StepCost decode(int64_t, double) const override { return {decode_, 1}; }
  std::string method() const override { return "linear"; }

 private:
  double per_token_, decode_;
};

serve::Workload steady(int count, double gap_s) {
  serve::Workload w;
  w.name = "steady";
  for (int i = 0; i < count; ++i) w.requests.push_back({i, i * gap_s, 100, 10});
  return w;
}

serve::EngineOptions engine() {
  serve::EngineOptions o;
  o.kv_pages = 100000;
  return o;
}

TEST(Capacity, BracketsTheHighestRateMeetingTheSlo) {
  const LinearCost cost(1e-3, 0.01);  // a 100-token prompt takes 0.1 s
  const Slo slo{1.0, 0.05, 0.99};
  const serve::Workload w = steady(400, 1.0);
  const Capacity c = find_capacity(w, cost, "continuous", engine(), 100000, 10, slo);
  ASSERT_TRUE(c.met);
  EXPECT_TRUE(c.best.meets(slo));
  // Some load tried within the search's resolution above the best one misses the SLO.
  bool missed_just_above = false;
  for (const LoadPoint& p : c.curve) {
    if (p.rate_scale > c.best.rate_scale) {
      EXPECT_FALSE(p.meets(slo)) << p.rate_scale;
    }
    if (p.rate_scale > c.best.rate_scale && p.rate_scale <= c.best.rate_scale * 1.006)
      missed_just_above = true;
  }
  EXPECT_TRUE(missed_just_above);
  // Offered load: 400 requests of 110 tokens over 399 s, times the rate scale.
  EXPECT_NEAR(c.best.tokens_per_s, 400 * 110 / 399.0 * c.best.rate_scale, 1e-9);
  // Work per request is at least 0.1 s of prefill, so no rate above 10 requests/s can be served.
  EXPECT_LT(c.best.requests_per_s, 10);
  // A chip twice as slow serves a lower rate.
  const Capacity slower =
      find_capacity(w, LinearCost(2e-3, 0.02), "continuous", engine(), 100000, 10, slo);
  ASSERT_TRUE(slower.met);
  EXPECT_LT(slower.best.tokens_per_s, c.best.tokens_per_s);
}

TEST(Capacity, UnreachableSloReportsTheLightestLoad) {
  const LinearCost cost(1e-3, 0.01);
  const Slo slo{0.05, 0.05, 0.99};  // a prompt alone takes 0.1 s
  const Capacity c = find_capacity(steady(50, 1.0), cost, "continuous", engine(), 100000, 10, slo);
  EXPECT_FALSE(c.met);
  EXPECT_DOUBLE_EQ(c.best.attainment, 0);
  EXPECT_LE(c.best.rate_scale, CapacitySearch{}.min_scale);
  EXPECT_NE(error_of([&] {
              find_capacity(steady(1, 1.0), cost, "continuous", engine(), 100000, 10, slo);
            }).find("at least two requests"),
            std::string::npos);
}

TEST(Capacity, FleetCostFollowsUtilization) {
  const Prices prices = load_prices(default_prices_path());
  InstanceEvaluation e;
  e.shape.chip = "h200";
  e.shape.chips = 8;
  e.chip = load_chip("h200");
  e.idle_watts = 800;
  e.capacity.met = true;
  e.capacity.best.watts = 4800;
  e.capacity.best.tokens_per_s = 1000;
  const FleetCost idle = e.cost(prices, 2, 0), busy = e.cost(prices, 2, 1);
  EXPECT_DOUBLE_EQ(idle.average_watts, 1600);
  EXPECT_DOUBLE_EQ(busy.average_watts, 9600);
  EXPECT_DOUBLE_EQ(busy.capex, 16 * e.chip_cost(prices).capex());
  EXPECT_GT(busy.electricity, idle.electricity);
  // Yuan per million tokens at half load: one instance's yearly cost over its tokens.
  const double yearly = e.cost(prices, 1, 0.5).yearly;
  EXPECT_DOUBLE_EQ(e.yuan_per_million_tokens(prices, 0.5),
                   yearly / (1000 * 0.5 * kSecondsPerYear) * 1e6);
  EXPECT_DOUBLE_EQ(e.tokens_per_s_per_watt(), 1000.0 / 4800);
}

}  // namespace
}  // namespace seedchip::plan
