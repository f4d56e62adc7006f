#include "plan/planner.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "arch/chip_loader.h"
#include "llm/model_preset.h"
#include "serve/workload/servegen.h"
#include "tests/input_error.h"

namespace seedchip::plan {
namespace {

using seedchip::testing::error_of;

std::string write_plan(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

const std::string kGpuPlan =
    "model: llama-3.1-70b\ntrace: azure-conv\nrequests: 300\n"
    "demand: {peak_tokens_per_s: 2e6, tokens_per_day: 86.4e9}\n"
    "slo: {ttft_s: 2, tpot_s: 0.2, attainment: 0.99}\n"
    "candidates:\n  - chip: h200\n    chips: [4, 8]\n  - chip: h100-sxm\n    chips: [8]\n";

EvaluationInputs inputs_for(const PlanConfig& c) {
  EvaluationInputs in;
  in.model = llm::load_model_preset(c.model).config;
  in.workload = serve::first_requests(serve::load_workload(c.trace), c.requests);
  return in;
}

TEST(Planner, ShippedPlansLoad) {
  // Two chips x two schedulers, and on llama-3.1-70b a 1:1 disaggregated unit of each chip.
  for (const auto& [name, shapes] :
       {std::pair{"doubao-llama-3.1-70b", 6u}, std::pair{"doubao-qwen3-235b-a22b", 4u}}) {
    const PlanConfig c = load_plan(config_dir() + "/plans/" + std::string(name) + ".yaml");
    EXPECT_DOUBLE_EQ(c.demand.peak_tokens_per_s, 1.06e9);
    EXPECT_NEAR(c.demand.mean_tokens_per_s, 50e12 / 86400, 1);
    EXPECT_DOUBLE_EQ(c.budget_yuan_per_year, 160e9);
    EXPECT_EQ(c.shapes.size(), shapes) << name;
  }
}

TEST(Planner, SizesTheFleetForThePeakAndHonoursSpendShares) {
  const PlanConfig c = load_plan(write_plan("plan_gpu.yaml", kGpuPlan));
  const PlanResult r = run_plan(c, inputs_for(c), nullptr);
  ASSERT_EQ(r.shapes.size(), 3u);
  for (const ShapeResult& s : r.shapes) {
    const double capacity = s.evaluation.capacity.best.tokens_per_s;
    // Whole instances, enough for the peak and not one more.
    EXPECT_GE(s.instances * capacity, 2e6);
    EXPECT_LT((s.instances - 1) * capacity, 2e6);
  }
  for (size_t i = 1; i < r.shapes.size(); ++i)
    EXPECT_LE(r.shapes[i - 1].fleet.yearly, r.shapes[i].fleet.yearly);
  // With no constraint the cheapest mix is the cheapest shape alone.
  ASSERT_EQ(r.mix.parts.size(), 1u);
  EXPECT_EQ(r.mix.parts[0].shape, &r.shapes[0]);
  EXPECT_DOUBLE_EQ(r.mix.yearly, r.shapes[0].fleet.yearly);
  // Mean 1e6 tokens/s over a year.
  EXPECT_NEAR(r.mix.yuan_per_million_tokens, r.mix.yearly / (1e6 * kSecondsPerYear) * 1e6, 1e-9);
  EXPECT_TRUE(r.mix.within_budget);

  // Force at least 60% of spend onto the other chip type.
  const std::string other = r.shapes[0].evaluation.shape.chip == "h200" ? "h100-sxm" : "h200";
  const PlanConfig shared = load_plan(
      write_plan("plan_share.yaml", kGpuPlan + "min_spend_share: {" + other + ": 0.6}\n"));
  const PlanResult s = run_plan(shared, inputs_for(shared), nullptr);
  double other_spend = 0, peak_share = 0;
  for (const MixPart& p : s.mix.parts) {
    if (p.chip == other) other_spend = p.fleet.yearly;
    peak_share += p.peak_share;
  }
  EXPECT_GE(other_spend, 0.6 * s.mix.yearly * (1 - 1e-9));
  EXPECT_NEAR(peak_share, 1, 1e-9);
  EXPECT_GE(s.mix.yearly, r.mix.yearly);

  // A budget too small: the shortfall in peak tokens/s.
  const PlanConfig poor =
      load_plan(write_plan("plan_poor.yaml", kGpuPlan + "budget_yuan_per_year: 1e6\n"));
  const PlanResult p = run_plan(poor, inputs_for(poor), nullptr);
  EXPECT_FALSE(p.mix.within_budget);
  EXPECT_NEAR(p.shortfall_tokens_per_s, 2e6 * (1 - 1e6 / p.mix.yearly), 1e-6);
}

TEST(Planner, DemandCurveFromServeGen) {
  std::string text = kGpuPlan;
  text.replace(text.find("demand: {peak_tokens_per_s: 2e6, tokens_per_day: 86.4e9}"), 56,
               "demand: {tokens_per_day: 86.4e9, curve: \"servegen:language/m-mid\"}");
  const PlanConfig c = load_plan(write_plan("plan_curve.yaml", text));
  const serve::RateCurve curve = serve::read_servegen_rates("language/m-mid");
  EXPECT_DOUBLE_EQ(c.demand.mean_tokens_per_s, 1e6);
  EXPECT_DOUBLE_EQ(c.demand.peak_tokens_per_s, 1e6 * curve.peak() / curve.mean());
  EXPECT_NEAR(c.demand.peak_tokens_per_s / 1e6, 1.924, 1e-3);  // 3444.76 / 1790.06 requests/s
}

TEST(Planner, UnreachableSloNamesTheClosestShape) {
  std::string text = kGpuPlan;
  text.replace(text.find("ttft_s: 2"), 9, "ttft_s: 0.001");
  const PlanConfig c = load_plan(write_plan("plan_slo.yaml", text));
  const std::string e = error_of([&] { run_plan(c, inputs_for(c), nullptr); });
  EXPECT_NE(e.find("no candidate meets the SLO"), std::string::npos) << e;
  EXPECT_NE(e.find("the closest is"), std::string::npos) << e;
  EXPECT_NE(e.find("p99 TTFT"), std::string::npos) << e;
}

TEST(Planner, BadPlansNameTheKey) {
  auto error = [](const std::string& text) {
    return error_of([&] { load_plan(write_plan("plan_bad.yaml", text)); });
  };
  std::string text = kGpuPlan;
  EXPECT_NE(error(text + "budget: 5\n").find("unknown key 'budget'"), std::string::npos);
  EXPECT_NE(error("model: m\ntrace: t\ndemand: {peak_tokens_per_s: 5}\ncandidates: []\n")
                .find("give peak_tokens_per_s and tokens_per_day"),
            std::string::npos);
  text.replace(text.find("chips: [4, 8]"), 13, "chips: [0]");
  EXPECT_NE(error(text).find("key 'candidates[0].chips'"), std::string::npos);
  EXPECT_NE(error(kGpuPlan + "    scheduler: fifo\n").find("unknown scheduler 'fifo'"),
            std::string::npos);
}

TEST(Planner, DisaggregationKeyAddsUnits) {
  const PlanConfig c = load_plan(write_plan(
      "plan_disaggregated.yaml",
      kGpuPlan + "    scheduler: [continuous, chunked]\n    disaggregation: [none, 1:1, 1:2]\n"));
  // The keys go to the last candidate (h100-sxm): two schedulers undivided plus two units, after
  // h200's two shapes.
  ASSERT_EQ(c.shapes.size(), 6u);
  std::vector<std::string> h100;
  for (const InstanceShape& s : c.shapes)
    if (s.chip == "h100-sxm") h100.push_back(s.describe());
  EXPECT_EQ(h100,
            (std::vector<std::string>{
                "8 x h100-sxm, continuous, batch <= 256", "8 x h100-sxm, chunked, batch <= 256",
                "disaggregated 1 prefill + 1 decode x (8 x h100-sxm), batch <= 256",
                "disaggregated 1 prefill + 2 decode x (8 x h100-sxm), batch <= 256"}));
  const InstanceShape& last = c.shapes.back();
  EXPECT_EQ(last.prefill_instances, 1);
  EXPECT_EQ(last.decode_instances, 2);
  EXPECT_EQ(last.scheduler, "continuous");
  // Without the key no shape is divided.
  for (const InstanceShape& s : load_plan(write_plan("plan_undivided.yaml", kGpuPlan)).shapes)
    EXPECT_FALSE(s.disaggregated()) << s.describe();
}

TEST(Planner, TensorParallelKeyAddsPipelinedShapes) {
  const PlanConfig c =
      load_plan(write_plan("plan_tp.yaml",
                           "model: llama-3.1-70b\ntrace: azure-conv\nrequests: 300\n"
                           "demand: {peak_tokens_per_s: 2e6, tokens_per_day: 86.4e9}\n"
                           "candidates:\n  - chip: h200\n    chips: [4, 8]\n    tp: [8, 4]\n"));
  // tp 8 does not divide 4 chips: three shapes.
  std::vector<std::string> shapes;
  for (const InstanceShape& s : c.shapes) shapes.push_back(s.describe());
  EXPECT_EQ(shapes, (std::vector<std::string>{"4 x h200, continuous, batch <= 256",
                                              "8 x h200, continuous, batch <= 256",
                                              "8 x h200 (TP 4 x PP 2), continuous, batch <= 256"}));
  EXPECT_EQ(c.shapes[2].tensor_parallel(), 4);
  EXPECT_EQ(c.shapes[2].unit_chips(), 8);
  // The pipelined instance: its own step costs (not the TP 8 ones), more KV per chip than 4 chips.
  EvaluationInputs in = inputs_for(c);
  StepCostMemo memo;
  const Prices prices = load_prices(default_prices_path());
  const InstanceEvaluation tp8 = evaluate_instance(in, c.shapes[1], prices, &memo);
  const InstanceEvaluation pp2 = evaluate_instance(in, c.shapes[2], prices, &memo);
  EXPECT_EQ(memo.size(), 2u);
  EXPECT_TRUE(pp2.capacity.met);
  EXPECT_EQ(pp2.kv.pages, tp8.kv.pages);  // the same 8 chips' HBM
  EXPECT_NE(pp2.capacity.best.tokens_per_s, tp8.capacity.best.tokens_per_s);
  EXPECT_NE(error_of([] {
              load_plan(write_plan("plan_tp_none.yaml",
                                   "model: llama-3.1-70b\ntrace: azure-conv\n"
                                   "demand: {peak_tokens_per_s: 2e6, tokens_per_day: 86.4e9}\n"
                                   "candidates:\n  - chip: h200\n    chips: [4]\n    tp: [8]\n"));
            }).find("a tp divides its chips"),
            std::string::npos);
}

TEST(Planner, ExpertParallelKeyAddsShapesWithTheirOwnCosts) {
  const PlanConfig c =
      load_plan(write_plan("plan_ep.yaml",
                           "model: mixtral-8x7b\ntrace: azure-conv\nrequests: 300\n"
                           "demand: {peak_tokens_per_s: 2e6, tokens_per_day: 86.4e9}\n"
                           "candidates:\n  - chip: h200\n    chips: [8]\n    ep: [1, 8, 3]\n"));
  // ep 3 does not divide TP 8: two shapes.
  std::vector<std::string> shapes;
  for (const InstanceShape& s : c.shapes) shapes.push_back(s.describe());
  EXPECT_EQ(shapes, (std::vector<std::string>{"8 x h200, continuous, batch <= 256",
                                              "8 x h200 (TP 8, EP 8), continuous, batch <= 256"}));
  EvaluationInputs in = inputs_for(c);
  StepCostMemo memo;
  const Prices prices = load_prices(default_prices_path());
  const InstanceEvaluation ep1 = evaluate_instance(in, c.shapes[0], prices, &memo);
  const InstanceEvaluation ep8 = evaluate_instance(in, c.shapes[1], prices, &memo);
  EXPECT_EQ(memo.size(), 2u);
  EXPECT_NE(ep8.capacity.best.tokens_per_s, ep1.capacity.best.tokens_per_s);
}

TEST(Planner, BadDisaggregationNamesTheLineAndKey) {
  // The h100-sxm candidate is the second; its new key is on line 11 of the file.
  for (const std::string value : {"[none, 1:0]", "[2]", "[a:1]", "[65:1]", "1-1", "[1:1:1]"}) {
    const std::string e = error_of([&] {
      load_plan(
          write_plan("plan_bad_split.yaml", kGpuPlan + "    disaggregation: " + value + "\n"));
    });
    EXPECT_NE(e.find("plan_bad_split.yaml:11: key 'candidates[1].disaggregation': expected none "
                     "or P:D"),
              std::string::npos)
        << value << ": " << e;
  }
}

TEST(Planner, DisaggregatedUnitsAreSizedAndCostWithAllTheirChips) {
  const PlanConfig c = load_plan(
      write_plan("plan_units.yaml",
                 "model: llama-3.1-70b\ntrace: azure-conv\nrequests: 300\n"
                 "demand: {peak_tokens_per_s: 2e6, tokens_per_day: 86.4e9}\n"
                 "candidates:\n  - chip: h200\n    chips: [8]\n    disaggregation: [1:2]\n"));
  const PlanResult r = run_plan(c, inputs_for(c), nullptr);
  ASSERT_EQ(r.shapes.size(), 1u);
  const ShapeResult& s = r.shapes[0];
  ASSERT_TRUE(s.evaluation.shape.disaggregated());
  const double capacity = s.evaluation.capacity.best.tokens_per_s;
  EXPECT_GE(s.instances * capacity, 2e6);
  EXPECT_LT((s.instances - 1) * capacity, 2e6);
  const double chip_capex = s.evaluation.chip_cost(r.prices).capex();
  EXPECT_NEAR(s.fleet.capex, s.instances * 24 * chip_capex, 1e-6 * s.fleet.capex);
  ASSERT_EQ(r.mix.parts.size(), 1u);
  EXPECT_DOUBLE_EQ(r.mix.parts[0].chips, s.instances * 24);
}

}  // namespace
}  // namespace seedchip::plan
