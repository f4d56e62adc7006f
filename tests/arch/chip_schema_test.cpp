#include "arch/chip_schema.h"

#include <gtest/gtest.h>

#include <set>

#include "arch/error.h"

namespace seedchip {
namespace {

#define COUNT_ROW(...) +1
#define COUNT_TABLE(TABLE, section) TABLE(COUNT_ROW, COUNT_ROW)
constexpr int kTableRows = 0 SEEDCHIP_ALL_PARAM_TABLES(COUNT_TABLE);
#undef COUNT_TABLE
#undef COUNT_ROW

TEST(ChipSchema, HasOneUniqueEntryPerTableRow) {
  const auto& schema = chip_param_schema();
  EXPECT_EQ(static_cast<int>(schema.size()), kTableRows);
  std::set<std::string> keys;
  for (const ParamInfo& param : schema) {
    EXPECT_TRUE(keys.insert(param.key).second) << param.key;
    EXPECT_FALSE(param.description.empty()) << param.key;
    EXPECT_EQ(find_chip_param(param.key), &param);
  }
}

TEST(ChipSchema, DescribesTypeUnitRangeAndDefault) {
  const ParamInfo* rcd = find_chip_param("hbm.timing.tRCD");
  ASSERT_NE(rcd, nullptr);
  EXPECT_EQ(rcd->type, "int");
  EXPECT_EQ(rcd->unit, "CK");
  EXPECT_EQ(rcd->default_value, "34");
  EXPECT_EQ(rcd->min, 1);
  EXPECT_EQ(rcd->max, 1000);
  EXPECT_EQ(find_chip_param("core.clock_mhz")->type, "float");
  EXPECT_EQ(find_chip_param("mxu.weight_double_buffer")->type, "bool");
  EXPECT_EQ(find_chip_param("hbm.refresh")->choices, "all-bank|per-bank");
  EXPECT_EQ(find_chip_param("hbm.timing"), nullptr);
}

TEST(ChipSchema, DefaultsReadBackAsTheStructDefaults) {
  ChipConfig config;
  for (const ParamInfo& param : chip_param_schema())
    EXPECT_EQ(get_chip_param(config, param.key), param.default_value) << param.key;
}

TEST(ChipSchema, EveryValueRoundTripsThroughText) {
  ChipConfig config;
  set_chip_param(config, "core.clock_mhz", "1234.5678901234");
  set_chip_param(config, "hbm.timing.tRCD", "40");
  set_chip_param(config, "mxu.weight_double_buffer", "false");
  set_chip_param(config, "hbm.refresh", "per-bank");
  EXPECT_EQ(config.core.clock_mhz, 1234.5678901234);
  EXPECT_EQ(config.hbm.timing.tRCD, 40);
  EXPECT_FALSE(config.mxu.weight_double_buffer);
  EXPECT_EQ(config.hbm.refresh, "per-bank");
  ChipConfig copy;
  for (const ParamInfo& param : chip_param_schema())
    set_chip_param(copy, param.key, get_chip_param(config, param.key));
  EXPECT_EQ(copy, config);
  EXPECT_EQ(get_chip_param_number(config, "hbm.timing.tRCD"), 40);
}

void expect_rejected(const std::string& key, const std::string& value,
                     const std::string& expected) {
  ChipConfig config;
  try {
    set_chip_param(config, key, value);
    ADD_FAILURE() << key << "=" << value << " was accepted";
  } catch (const InputError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find(key), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
  EXPECT_EQ(config, ChipConfig{});
}

TEST(ChipSchema, RejectsBadValuesNamingKeyAndExpectation) {
  expect_rejected("hbm.stacks", "17", "in [0, 16] stacks");
  expect_rejected("hbm.stacks", "-1", "in [0, 16]");
  expect_rejected("hbm.stacks", "4.5", "an integer");
  expect_rejected("hbm.stacks", "four", "an integer");
  expect_rejected("hbm.stacks", "", "an integer");
  expect_rejected("core.clock_mhz", "fast", "a number");
  expect_rejected("core.clock_mhz", "nan", "a number");
  expect_rejected("core.clock_mhz", "0.5", "in [1, 10000] MHz");
  expect_rejected("mxu.weight_double_buffer", "2", "true or false");
  expect_rejected("hbm.refresh", "sometimes", "one of all-bank|per-bank");
  expect_rejected("hbm.mapping", "", "a non-empty string");
  expect_rejected("hbm.nonexistent", "1", "unknown parameter");
}

TEST(ChipSchema, KnowsSectionsAndTheirChildren) {
  EXPECT_TRUE(is_chip_param_path("hbm"));
  EXPECT_TRUE(is_chip_param_path("hbm.timing"));
  EXPECT_TRUE(is_chip_param_path("hbm.timing.tFAW"));
  EXPECT_FALSE(is_chip_param_path("hbm.tim"));
  EXPECT_FALSE(is_chip_param_path("hbm.timing.tFAWX"));
  std::vector<std::string> macs = chip_param_children("mxu.macs_per_pe");
  EXPECT_EQ(macs, (std::vector<std::string>{"bf16", "fp16", "fp8", "int8", "fp32"}));
  std::vector<std::string> top = chip_param_children("");
  EXPECT_EQ(top.front(), "core");
  EXPECT_EQ(top.back(), "efficiency");
  EXPECT_EQ(chip_param_children("efficiency.allreduce"),
            (std::vector<std::string>{"link", "step_ns"}));
}

}  // namespace
}  // namespace seedchip
