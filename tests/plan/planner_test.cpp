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
  for (const char* name : {"doubao-llama-3.1-70b", "doubao-qwen3-235b-a22b"}) {
    const PlanConfig c = load_plan(config_dir() + "/plans/" + std::string(name) + ".yaml");
    EXPECT_DOUBLE_EQ(c.demand.peak_tokens_per_s, 1.06e9);
    EXPECT_NEAR(c.demand.mean_tokens_per_s, 50e12 / 86400, 1);
    EXPECT_DOUBLE_EQ(c.budget_yuan_per_year, 160e9);
    EXPECT_EQ(c.shapes.size(), 4u);  // two chips x two schedulers
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

}  // namespace
}  // namespace seedchip::plan
