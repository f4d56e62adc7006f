#include "plan/sensitivity.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "arch/chip_loader.h"
#include "llm/model_preset.h"
#include "tests/input_error.h"

namespace seedchip::plan {
namespace {

using seedchip::testing::error_of;

const SensitivityParameter& parameter(const SensitivityConfig& c, const std::string& name) {
  for (const SensitivityParameter& p : c.parameters)
    if (p.name == name) return p;
  throw std::runtime_error("no parameter " + name);
}

TEST(Sensitivity, DefaultConfigCoversTheIssueParameters) {
  const SensitivityConfig c = load_sensitivity_config(default_sensitivity_config_path());
  EXPECT_DOUBLE_EQ(c.delta, 0.2);
  for (const char* name : {"hbm-timing", "mxu-efficiency", "link-bandwidth", "chip-price"})
    EXPECT_NO_THROW(parameter(c, name)) << name;
}

TEST(Sensitivity, OverridesScaleRoundAndClamp) {
  const SensitivityConfig c = load_sensitivity_config(default_sensitivity_config_path());
  const ChipConfig v1 = load_chip("seedchip-v1").config;
  bool clamped = true;
  const auto up = perturbed_overrides(v1, parameter(c, "hbm-timing"), 0.2, &clamped);
  EXPECT_FALSE(clamped);
  // tCL 34 CK x 1.2 = 40.8, rounded to a whole clock.
  EXPECT_NE(std::find(up.begin(), up.end(), "hbm.timing.tCL=41"), up.end());
  const auto mxu = perturbed_overrides(v1, parameter(c, "mxu-efficiency"), -0.2);
  EXPECT_NE(std::find(mxu.begin(), mxu.end(), "mxu.macs_per_pe.bf16=0.8"), mxu.end());
  // The overrides load: each is a valid chip parameter value.
  EXPECT_NO_THROW(load_chip("seedchip-v1", up));
  EXPECT_NO_THROW(load_chip("seedchip-v1", mxu));

  // On a GPU, HBM timing acts inversely on the fitted memory efficiencies, clamped at 1.
  const ChipConfig h200 = load_chip("h200").config;
  const auto slower = perturbed_overrides(h200, parameter(c, "hbm-timing"), 0.2, &clamped);
  EXPECT_FALSE(clamped);
  const std::string key = "efficiency.gemm_large.memory=";
  const auto it = std::find_if(slower.begin(), slower.end(),
                               [&](const std::string& o) { return o.rfind(key, 0) == 0; });
  ASSERT_NE(it, slower.end());
  EXPECT_NEAR(std::stod(it->substr(key.size())), h200.efficiency.gemm_large_memory / 1.2, 1e-8);
  perturbed_overrides(h200, parameter(c, "hbm-timing"), -0.2, &clamped);
  EXPECT_TRUE(clamped);  // 0.8955 / 0.8 > 1
  EXPECT_TRUE(perturbed_overrides(v1, parameter(c, "chip-price"), 0.2).empty());
}

TEST(Sensitivity, PricesMoveCostAndChipParametersMoveThroughput) {
  const SensitivityConfig config = load_sensitivity_config(default_sensitivity_config_path());
  const Prices prices = load_prices(default_prices_path());
  EvaluationInputs in;
  in.model = llm::load_model_preset("llama-3.1-70b").config;
  in.workload = serve::first_requests(serve::load_workload("azure-conv"), 300);
  const InstanceShape shape{"h200", {}, 8, "continuous", 256};
  const SensitivityResult r = run_sensitivity(in, shape, prices, config, nullptr);
  ASSERT_TRUE(r.base.capacity.met);
  ASSERT_EQ(r.rows.size(), 2 * config.parameters.size());
  const double base_tokens = r.base.capacity.best.tokens_per_s;
  const double base_cost = r.base_yuan_per_million_tokens;
  for (const SensitivityRow& row : r.rows) {
    if (row.parameter == "chip-price") {
      // Only the unit price's depreciation and operations move, in proportion.
      const ChipCost chip = r.base.chip_cost(prices);
      const FleetCost fleet = r.base.cost(prices, 1, prices.utilization);
      const double unit_yearly =
          chip.unit * 8 * (1 / prices.depreciation_years + prices.operations_per_year);
      EXPECT_NEAR(row.yuan_per_million_tokens / base_cost - 1,
                  row.change * unit_yearly / fleet.yearly, 1e-9);
      EXPECT_DOUBLE_EQ(row.tokens_per_s, base_tokens);
    }
    if (row.parameter == "hbm-price") {
      EXPECT_DOUBLE_EQ(row.yuan_per_million_tokens, base_cost);
    }
    if (row.parameter == "link-bandwidth" || row.parameter == "mxu-efficiency") {
      EXPECT_TRUE(row.applicable);
      if (row.change > 0) {
        EXPECT_GE(row.tokens_per_s, base_tokens) << row.parameter;
      } else {
        EXPECT_LE(row.tokens_per_s, base_tokens) << row.parameter;
      }
    }
  }
}

TEST(Sensitivity, BadConfigNamesTheKey) {
  const auto path = std::filesystem::temp_directory_path() / "sensitivity_bad.yaml";
  std::ofstream(path)
      << "delta: 0.2\nparameters:\n  - name: x\n    description: y\n"
         "    chip_keys:\n      seedchip:\n        keys: [hbm.stacks, links.topology]\n";
  EXPECT_NE(error_of([&] {
              load_sensitivity_config(path.string());
            }).find("'links.topology' is not a numeric chip parameter"),
            std::string::npos);
  std::ofstream(path) << "delta: 0.2\nparameters:\n  - name: x\n    description: y\n";
  EXPECT_NE(error_of([&] {
              load_sensitivity_config(path.string());
            }).find("give either chip_keys or a price"),
            std::string::npos);
  std::ofstream(path) << "delta: 0.2\nparameters:\n  - name: x\n    description: y\n"
                         "    price: wafer\n";
  EXPECT_NE(error_of([&] { load_sensitivity_config(path.string()); }).find("unknown price key"),
            std::string::npos);
}

}  // namespace
}  // namespace seedchip::plan
