#include "plan/instance.h"

#include <gtest/gtest.h>

#include "arch/chip_loader.h"
#include "llm/model_preset.h"
#include "serve/fleet/fleet_config.h"
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

// A unit of `prefill` prefill and `decode` decode instances, each priced by `cost`.
std::vector<serve::Pool> unit(const serve::StepCostModel& cost, int64_t prefill, int64_t decode) {
  serve::Pool p;
  p.name = "unit";
  p.cost = &cost;
  p.engine = engine();
  p.instances = prefill;
  p.max_context = 100000;
  p.idle_watts = 10;
  p.role = serve::PoolRole::kPrefill;
  p.kv_bytes_per_token = 1000;
  p.link_bytes_per_s = 1e12;
  serve::Pool d = p;
  d.instances = decode;
  d.role = serve::PoolRole::kDecode;
  return {p, d};
}

TEST(Capacity, DisaggregatedUnitIsSearchedThroughTheFleet) {
  const LinearCost cost(1e-3, 0.01);  // a 100-token prompt takes 0.1 s, a decode step 0.01 s
  const Slo slo{1.0, 0.05, 0.99};
  const serve::Workload w = steady(400, 1.0);
  const Capacity one = find_fleet_capacity(w, unit(cost, 1, 1), kDisaggregatedRouter, slo);
  ASSERT_TRUE(one.met);
  EXPECT_TRUE(one.best.meets(slo));
  bool missed_just_above = false;
  for (const LoadPoint& p : one.curve) {
    if (p.rate_scale > one.best.rate_scale) {
      EXPECT_FALSE(p.meets(slo)) << p.rate_scale;
    }
    if (p.rate_scale > one.best.rate_scale && p.rate_scale <= one.best.rate_scale * 1.006)
      missed_just_above = true;
  }
  EXPECT_TRUE(missed_just_above);
  // Every prompt goes through the one prefill instance, where it takes at least 0.09 s (0.1 s, less
  // the 0.01 s a step's parts share when prompts are batched).
  EXPECT_LT(one.best.requests_per_s, 1 / 0.09);
  // A second prefill instance shares the prompts (the router spreads them), so the unit serves
  // well above one prefill instance's limit.
  const Capacity two = find_fleet_capacity(w, unit(cost, 2, 1), kDisaggregatedRouter, slo);
  ASSERT_TRUE(two.met);
  EXPECT_GT(two.best.requests_per_s, 15);
  // One instance doing both stalls its decodes behind 0.1 s prefills, which the TPOT target
  // punishes; the unit's decode instance never waits for a prefill.
  const Capacity mixed = find_capacity(w, cost, "continuous", engine(), 100000, 10, slo);
  EXPECT_GT(one.best.tokens_per_s, mixed.best.tokens_per_s);
}

TEST(Capacity, DisaggregatedShapeDescribesAndCostsTheWholeUnit) {
  InstanceShape shape;
  shape.chip = "h200";
  shape.overrides = {"power.idle_w=100"};
  shape.prefill_instances = 1;
  shape.decode_instances = 2;
  EXPECT_TRUE(shape.disaggregated());
  EXPECT_EQ(shape.unit_chips(), 24);
  EXPECT_EQ(shape.describe(),
            "disaggregated 1 prefill + 2 decode x (8 x h200 [power.idle_w=100]), batch <= 256");
  EXPECT_EQ(InstanceShape{}.unit_chips(), 8);

  const Prices prices = load_prices(default_prices_path());
  InstanceEvaluation e;
  e.shape = shape;
  e.chip = load_chip("h200");
  e.idle_watts = 2400;
  e.capacity.met = true;
  e.capacity.best.watts = 9600;
  e.capacity.best.tokens_per_s = 1000;
  const FleetCost f = e.cost(prices, 2, 1);
  EXPECT_DOUBLE_EQ(f.capex, 48 * e.chip_cost(prices).capex());
  EXPECT_DOUBLE_EQ(f.average_watts, 19200);
}

TEST(Capacity, MakePoolFillsAPoolFromItsSpec) {
  const llm::LlamaConfig model = llm::load_model_preset("llama-3.1-70b").config;
  const LoadedChip chip = load_chip("h200");
  const LinearCost cost(1e-3, 0.01);
  serve::PoolSpec spec;
  spec.chip = "h200";
  spec.chips = 4;
  spec.instances = 3;
  spec.max_batch = 64;
  spec.scheduler = "chunked";
  spec.role = serve::PoolRole::kDecode;
  serve::EngineOptions options;
  options.page_tokens = 32;
  options.token_budget = 512;
  const serve::Pool p = serve::make_pool(spec, model, chip, &cost, options);
  const serve::KvBudget kv = serve::kv_pages_for(model, chip.config, 4, 32);
  EXPECT_EQ(p.name, "h200 x4");
  EXPECT_EQ(p.cost, &cost);
  EXPECT_EQ(p.scheduler, "chunked");
  EXPECT_EQ(p.engine.max_batch, 64);
  EXPECT_EQ(p.engine.token_budget, 512);
  EXPECT_EQ(p.engine.kv_pages, kv.pages);
  EXPECT_EQ(p.instances, 3);
  EXPECT_EQ(p.chips, 4);
  EXPECT_EQ(p.max_context, model.seq_len);
  EXPECT_DOUBLE_EQ(p.idle_watts, chip.config.power.idle_w * 4);
  EXPECT_EQ(p.role, serve::PoolRole::kDecode);
  EXPECT_DOUBLE_EQ(p.kv_bytes_per_token, kv.bytes_per_token);
  EXPECT_DOUBLE_EQ(p.link_bytes_per_s, 4.0 * static_cast<double>(chip.config.links.count) *
                                           chip.config.links.gbytes_per_s * 1e9);
  // 235B of BF16 weights do not fit two h200s.
  spec.chips = 2;
  const llm::LlamaConfig big = llm::load_model_preset("qwen3-235b-a22b").config;
  EXPECT_NE(error_of([&] { serve::make_pool(spec, big, chip, &cost, options); }).find("do not fit"),
            std::string::npos);
}

TEST(Capacity, DisaggregatedShapeSharesTheStepCostsOfItsChips) {
  EvaluationInputs in;
  in.model = llm::load_model_preset("llama-3.1-70b").config;
  in.workload = serve::first_requests(serve::load_workload("azure-conv"), 300);
  const Prices prices = load_prices(default_prices_path());
  StepCostMemo memo;
  const InstanceShape plain{"h200", {}, 8, "continuous", 256};
  InstanceShape split = plain;
  split.prefill_instances = 1;
  split.decode_instances = 1;
  const InstanceEvaluation a = evaluate_instance(in, plain, prices, &memo);
  const InstanceEvaluation b = evaluate_instance(in, split, prices, &memo);
  EXPECT_EQ(memo.size(), 1u);
  ASSERT_TRUE(a.capacity.met);
  ASSERT_TRUE(b.capacity.met);
  EXPECT_DOUBLE_EQ(b.idle_watts, 2 * a.idle_watts);
  EXPECT_DOUBLE_EQ(a.idle_watts, load_chip("h200").config.power.idle_w * 8);
  // The unit of two instances serves more than one instance, and draws more power at its capacity.
  EXPECT_GT(b.capacity.best.tokens_per_s, a.capacity.best.tokens_per_s);
  EXPECT_GT(b.capacity.best.watts, b.idle_watts);
}

}  // namespace
}  // namespace seedchip::plan
