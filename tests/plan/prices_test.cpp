#include "plan/prices.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "arch/chip_loader.h"
#include "tests/input_error.h"

namespace seedchip::plan {
namespace {

using seedchip::testing::error_of;

std::string write_temp(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

// A small prices file with one bought chip; the extras are appended to the chips and sources.
std::string small_prices(const std::string& chips_extra = "",
                         const std::string& sources_extra = "") {
  return "hbm_yuan_per_gbyte: 100\nelectricity_yuan_per_kwh: 0.5\npue: 1.2\n"
         "depreciation_years: 4\noperations_per_year: 0.1\nhost_yuan_per_chip: 1000\n"
         "host_watts_per_chip: 100\nutilization: 0.5\n"
         "processes:\n  p:\n    wafer_yuan: 100000\n    defect_density_per_cm2: 0.1\n"
         "chips:\n  h200:\n    build: bought\n    unit_yuan: 200000\n" +
         chips_extra +
         "sources:\n  hbm_yuan_per_gbyte: a\n  electricity_yuan_per_kwh: a\n  pue: a\n"
         "  depreciation_years: a\n  operations_per_year: a\n  host_yuan_per_chip: a\n"
         "  host_watts_per_chip: a\n  utilization: a\n  processes.p: a\n  chips.h200: a\n" +
         sources_extra;
}

TEST(Prices, DefaultFileLoadsWithASourceForEveryValue) {
  const Prices p = load_prices(default_prices_path());
  EXPECT_GT(p.chips.size(), 3u);
  for (const auto& [name, chip] : p.chips) EXPECT_TRUE(p.sources.count("chips." + name)) << name;
  // Every priced chip is a chip preset.
  for (const auto& [name, chip] : p.chips) EXPECT_NO_THROW(load_chip(name)) << name;
}

TEST(Prices, BoughtChipCostsItsUnitPriceAndHost) {
  const Prices p = load_prices(default_prices_path());
  const ChipCost c = chip_cost(p, load_chip("h200").config);
  EXPECT_DOUBLE_EQ(c.unit, p.chips.at("h200").unit_yuan);
  EXPECT_DOUBLE_EQ(c.hbm, 0);  // included in the unit price
  EXPECT_DOUBLE_EQ(c.capex(), p.chips.at("h200").unit_yuan + p.host_yuan_per_chip);
}

TEST(Prices, BuiltChipDieFromWaferAndYield) {
  const Prices p = load_prices(default_prices_path());
  const ChipCost c = chip_cost(p, load_chip("seedchip-v1").config);
  // 600 mm^2 on a 300 mm wafer: pi 300^2 / (4 x 600) - pi 300 / sqrt(1200) = 90.60 gross dies;
  // Poisson yield exp(-6 cm^2 x 0.1) = 0.5488, 49.72 good dies; 127,800 yuan / 49.72 = 2,570.2.
  EXPECT_NEAR(c.good_dies_per_wafer, 49.7238, 1e-3);
  EXPECT_NEAR(c.die_yield, 0.548812, 1e-6);
  EXPECT_NEAR(c.die, 2570.196, 1e-2);
  EXPECT_DOUBLE_EQ(c.hbm, 107.0 * 144);  // 4 stacks x 36 GB
  EXPECT_DOUBLE_EQ(c.nre, 3550000000.0 / 100000);
  EXPECT_DOUBLE_EQ(c.capex(), c.die + 7100 + 10650 + 35500 + 15408 + 40000);
}

TEST(Prices, YearlyCostIsDepreciationOperationsAndPowerAtThePue) {
  const Prices p = load_prices(write_temp("prices_small.yaml", small_prices()));
  const ChipCost c = chip_cost(p, load_chip("h200").config);  // 200,000 + 1,000 host
  const YearlyCost y = yearly_cost(p, c, 500);
  EXPECT_DOUBLE_EQ(y.depreciation, 201000.0 / 4);
  EXPECT_DOUBLE_EQ(y.operations, 201000.0 * 0.1);
  // (500 W + 100 W host) x 1.2 x 8766 h = 6311.52 kWh at 0.5 yuan.
  EXPECT_NEAR(y.electricity, 600 * 1.2 * 8766 / 1000.0 * 0.5, 1e-6);
}

TEST(Prices, ScalingAChipPriceMovesOnlyThatChip) {
  Prices p = load_prices(default_prices_path());
  const ChipConfig v1 = load_chip("seedchip-v1").config;
  const ChipConfig exported = load_chip("seedchip-v1-export").config;
  const ChipCost before = chip_cost(p, v1), other_before = chip_cost(p, exported);
  scale_price(p, "chip_price.seedchip-v1", 1.2);
  const ChipCost after = chip_cost(p, v1);
  EXPECT_NEAR(after.die, before.die * 1.2, 1e-9 * before.die);
  EXPECT_DOUBLE_EQ(after.package, before.package * 1.2);
  EXPECT_DOUBLE_EQ(after.board, before.board * 1.2);
  EXPECT_DOUBLE_EQ(after.hbm, before.hbm);  // HBM has its own price
  EXPECT_DOUBLE_EQ(after.nre, before.nre);
  EXPECT_DOUBLE_EQ(chip_cost(p, exported).capex(), other_before.capex());  // same process
  scale_price(p, "utilization", 3);
  EXPECT_DOUBLE_EQ(p.utilization, 1);  // clamped to its range
}

TEST(Prices, BadInputNamesFileAndKey) {
  EXPECT_NE(error_of([] {
              load_prices(write_temp("prices_unknown.yaml", small_prices("    unit_yaun: 3\n")));
            }).find("unknown key 'chips.h200.unit_yaun'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              load_prices(write_temp("prices_nosource.yaml",
                                     small_prices("  h100-sxm:\n    build: bought\n    "
                                                  "unit_yuan: 5\n")));
            }).find("key 'chips.h100-sxm' has no source"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              load_prices(write_temp("prices_process.yaml",
                                     small_prices("  seedchip-v1:\n    build: built\n    process: "
                                                  "q\n",
                                                  "  chips.seedchip-v1: a\n")));
            }).find("'q' is not one of the processes"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              std::string text = small_prices();
              text.replace(text.find("pue: 1.2"), 8, "pue: 0.5");
              load_prices(write_temp("prices_range.yaml", text));
            }).find("key 'pue': expected a number in [1"),
            std::string::npos);
  const Prices p = load_prices(write_temp("prices_small.yaml", small_prices()));
  EXPECT_NE(error_of([&] {
              chip_cost(p, load_chip("seedchip-v1").config);
            }).find("no price for chip 'seedchip-v1'"),
            std::string::npos);
  Prices q = p;
  EXPECT_NE(error_of([&] { scale_price(q, "wafers", 2); }).find("unknown price key 'wafers'"),
            std::string::npos);
}

}  // namespace
}  // namespace seedchip::plan
