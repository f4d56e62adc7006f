#include "arch/chip_info.h"

#include <gtest/gtest.h>

#include "arch/chip_schema.h"

namespace seedchip {
namespace {

TEST(ChipInfo, TextListsEveryParameterWithSourceThenPeaksAndExportClass) {
  LoadedChip chip = load_chip("h200", {"core.clock_mhz=1000"});
  std::string text = format_chip_info(chip);
  for (const ParamInfo& param : chip_param_schema()) {
    EXPECT_NE(text.find(param.key), std::string::npos) << param.key;
    EXPECT_NE(text.find(param.description), std::string::npos) << param.key;
  }
  EXPECT_NE(text.find("source: override"), std::string::npos);
  EXPECT_NE(text.find("source: vendor: 132 SMs"), std::string::npos);
  EXPECT_NE(text.find("GB/s"), std::string::npos);
  EXPECT_NE(text.find("3A090.a"), std::string::npos);
  EXPECT_LT(text.find("Derived peaks"), text.find("Export control"));
}

TEST(ChipInfo, JsonCarriesTheSameFiguresWithUnits) {
  LoadedChip chip = load_chip("seedchip-v1");
  nlohmann::json info = chip_info_json(chip);
  EXPECT_EQ(info["name"], "seedchip-v1");
  EXPECT_EQ(info["parameters"].size(), chip_param_schema().size());
  const nlohmann::json& rcd = info["parameters"]["hbm.timing.tRCD"];
  EXPECT_EQ(rcd["value"], chip.config.hbm.timing.tRCD);
  EXPECT_EQ(rcd["unit"], "CK");
  EXPECT_EQ(rcd["estimate"], true);
  EXPECT_EQ(info["parameters"]["core.mesh_x"]["estimate"], false);
  EXPECT_EQ(info["parameters"]["hbm.refresh"]["value"], "per-bank");
  EXPECT_EQ(info["parameters"]["mxu.weight_double_buffer"]["value"], true);
  EXPECT_NEAR(info["peaks"]["mxu"]["bf16"]["value"].get<double>(), 629.1, 0.1);
  EXPECT_EQ(info["peaks"]["mxu"]["bf16"]["unit"], "TFLOP/s");
  EXPECT_EQ(info["peaks"]["mxu"]["int8"]["unit"], "TOPS");
  EXPECT_NEAR(info["peaks"]["hbm_bandwidth"]["value"].get<double>(), 4915.2, 0.1);
  EXPECT_NEAR(info["export_control"]["tpp"]["value"].get<double>(), 10066.3, 0.1);
  EXPECT_EQ(info["export_control"]["class"], "3A090.a");
}

TEST(ChipInfo, PresetTableHasOneLinePerPreset) {
  std::string table = format_preset_table();
  std::vector<std::string> presets = list_presets();
  EXPECT_EQ(static_cast<size_t>(std::count(table.begin(), table.end(), '\n')), presets.size() + 1);
  for (const std::string& name : presets) EXPECT_NE(table.find(name), std::string::npos) << name;
  EXPECT_EQ(table.find("error"), std::string::npos) << table;
  nlohmann::json json = preset_table_json();
  ASSERT_EQ(json.size(), presets.size());
  for (const nlohmann::json& row : json) EXPECT_FALSE(row.contains("error")) << row;
}

}  // namespace
}  // namespace seedchip
