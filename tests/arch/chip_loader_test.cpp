#include "arch/chip_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "arch/chip_schema.h"
#include "arch/error.h"

namespace seedchip {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kDesignPresets = {"seedchip-v1", "seedchip-v1-export", "seedchip-n5",
                                                 "h200",        "ascend-910b",        "zhenwu-ppu",
                                                 "kunlun-p800", "a100-80gb",          "h100-sxm"};

// A valid preset built on seedchip-v1, with `extra` appended (YAML text).
std::string preset_with(const std::string& extra) {
  return "name: test-chip\nkind: seedchip\nbase: seedchip-v1\n" + extra;
}

std::string load_error(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    load_chip_yaml(yaml, "configs/presets/x.yaml", overrides);
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "loaded without error:\n" << yaml;
  return "";
}

void expect_contains(const std::string& message, const std::vector<std::string>& parts) {
  for (const std::string& part : parts) EXPECT_NE(message.find(part), std::string::npos) << message;
}

fs::path temp_dir() {
  fs::path dir =
      fs::temp_directory_path() /
      ("seedchip_arch_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
       "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::create_directories(dir);
  return dir;
}

TEST(ChipLoader, ListsEveryDesignPreset) {
  std::vector<std::string> presets = list_presets();
  for (const std::string& name : kDesignPresets)
    EXPECT_NE(std::find(presets.begin(), presets.end(), name), presets.end()) << name;
}

TEST(ChipLoader, EveryPresetLoadsWithASourceForEveryParameter) {
  for (const std::string& name : list_presets()) {
    SCOPED_TRACE(name);
    LoadedChip chip = load_chip(name);
    EXPECT_EQ(chip.config.name, name);
    EXPECT_FALSE(chip.config.description.empty());
    EXPECT_EQ(chip.sources.size(), chip_param_schema().size());
    for (const auto& [key, source] : chip.sources) EXPECT_FALSE(source.empty()) << key;
  }
}

TEST(ChipLoader, SeedchipV1MatchesTheDesignTable) {
  ChipConfig v1 = load_chip("seedchip-v1").config;
  EXPECT_EQ(v1.core_count(), 16);
  EXPECT_EQ(v1.mxu.rows, 128);
  EXPECT_EQ(v1.sram.bytes, 8 * 1024 * 1024);
  EXPECT_EQ(v1.hbm.standard, "HBM3E");
  EXPECT_EQ(v1.power.tdp_w, 500);
  // The table's defaults are seedchip-v1's, so the preset and the default struct agree.
  ChipConfig defaults;
  defaults.description = v1.description;
  EXPECT_EQ(v1, defaults);
}

TEST(ChipLoader, DerivedPresetInheritsAndOverrides) {
  LoadedChip v1 = load_chip("seedchip-v1");
  LoadedChip exported = load_chip("seedchip-v1-export");
  EXPECT_EQ(exported.config.mxu.rows, 64);
  EXPECT_EQ(exported.config.links.count, 4);
  EXPECT_EQ(exported.config.hbm, v1.config.hbm);
  EXPECT_EQ(exported.sources.at("hbm.stacks"), v1.sources.at("hbm.stacks"));
  EXPECT_NE(exported.sources.at("mxu.rows"), v1.sources.at("mxu.rows"));
}

TEST(ChipLoader, SourcesMarkEstimates) {
  LoadedChip h200 = load_chip("h200");
  EXPECT_FALSE(is_estimate(h200.sources.at("core.mesh_x")));
  EXPECT_TRUE(is_estimate(h200.sources.at("hbm.timing.tRCD")));
  for (const auto& [key, source] : load_chip("kunlun-p800").sources)
    EXPECT_TRUE(is_estimate(source)) << key << ": " << source;
  EXPECT_TRUE(is_estimate("Estimate: guess"));
  EXPECT_FALSE(is_estimate("vendor datasheet"));
}

TEST(ChipLoader, AcceptsAPathAsWellAsAName) {
  LoadedChip chip = load_chip(presets_dir() + "/h200.yaml");
  EXPECT_EQ(chip.config, load_chip("h200").config);
}

TEST(ChipLoader, RejectsUnknownKeysWithFullPathAndAlternatives) {
  expect_contains(
      load_error(preset_with("hbm:\n  timing:\n    tRCDX: 5\n")),
      {"configs/presets/x.yaml:6", "unknown key 'hbm.timing.tRCDX'", "hbm.timing.tRCD"});
  expect_contains(load_error(preset_with("hbmm:\n  stacks: 2\n")),
                  {"x.yaml:4", "unknown key 'hbmm'", "hbm", "sources"});
  expect_contains(load_error(preset_with("sources:\n  hbm.stackz: vendor\n")),
                  {"x.yaml:5", "unknown key 'hbm.stackz'", "hbm.stacks"});
}

TEST(ChipLoader, RejectsBadTypesAndRangesNamingFileKeyValueAndRange) {
  expect_contains(load_error(preset_with("hbm:\n  stacks: many\nsources:\n  hbm: x\n")),
                  {"x.yaml:5", "'hbm.stacks' = 'many'", "an integer in [0, 16]"});
  expect_contains(load_error(preset_with("hbm:\n  stacks: 99\nsources:\n  hbm: x\n")),
                  {"x.yaml:5", "'hbm.stacks' = '99'", "[0, 16] stacks"});
  expect_contains(load_error(preset_with("core:\n  clock_mhz: [1, 2]\n")),
                  {"x.yaml:5", "core.clock_mhz", "a single value"});
  expect_contains(load_error(preset_with("core: 5\n")), {"x.yaml:4", "'core' is a section"});
}

TEST(ChipLoader, RejectsBadChoices) {
  expect_contains(load_error(preset_with("hbm:\n  refresh: never\nsources:\n  hbm: x\n")),
                  {"x.yaml:5", "hbm.refresh", "all-bank|per-bank"});
  expect_contains(load_error("name: y\nkind: fpga\n"),
                  {"x.yaml:2", "'kind' = 'fpga'", "seedchip|gpu|npu"});
}

TEST(ChipLoader, RequiresASourceForEveryValueSetInTheFile) {
  expect_contains(load_error(preset_with("hbm:\n  stacks: 2\n")),
                  {"x.yaml", "parameter 'hbm.stacks' has no source"});
  // A source on a section covers everything below it.
  EXPECT_EQ(load_chip_yaml(preset_with("hbm:\n  stacks: 2\nsources:\n  hbm: \"estimate: half\"\n"),
                           "x.yaml")
                .sources.at("hbm.timing.tRP"),
            "estimate: half");
  // Without a base, every parameter needs one.
  expect_contains(load_error("name: y\nkind: seedchip\nsources:\n  core: a\n"),
                  {"x.yaml", "parameter 'mxu.rows' has no source"});
}

TEST(ChipLoader, RejectsBadBases) {
  expect_contains(load_error("kind: seedchip\nbase: no-such-chip\n"),
                  {"x.yaml:2", "base preset 'no-such-chip' not found", "seedchip-v1"});
  expect_contains(load_error("kind: seedchip\nbase: ../presets/h200\n"), {"x.yaml:2", "not found"});
}

TEST(ChipLoader, RejectsABaseCycle) {
  fs::path dir = temp_dir();
  fs::create_directories(dir / "presets");
  std::ofstream(dir / "presets" / "a.yaml") << "kind: npu\nbase: b\n";
  std::ofstream(dir / "presets" / "b.yaml") << "kind: npu\nbase: a\n";
  setenv("SEEDCHIP_CONFIG_DIR", dir.c_str(), 1);
  try {
    load_chip("a");
    ADD_FAILURE() << "a base cycle loaded";
  } catch (const InputError& e) {
    expect_contains(e.what(), {"b.yaml:2", "inherits from itself"});
  }
  unsetenv("SEEDCHIP_CONFIG_DIR");
  fs::remove_all(dir);
}

TEST(ChipLoader, RejectsMalformedYamlNamingFileAndLine) {
  fs::path dir = temp_dir();
  std::ifstream in(presets_dir() + "/h200.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  fs::path truncated = dir / "truncated.yaml";
  std::ofstream(truncated) << text.substr(0, text.find("sources:") + 40) << "\n  - [";
  try {
    load_chip(truncated.string());
    ADD_FAILURE() << "a truncated preset loaded";
  } catch (const InputError& e) {
    expect_contains(e.what(), {"truncated.yaml:", "malformed YAML"});
  }
  fs::remove_all(dir);
  expect_contains(load_error("name: [unclosed\n"), {"x.yaml:", "malformed YAML"});
  expect_contains(load_error(""), {"x.yaml", "expected a map"});
  expect_contains(load_error("- a\n- b\n"), {"x.yaml", "expected a map"});
  expect_contains(load_error(preset_with("name: again\n")), {"x.yaml:4", "duplicate key 'name'"});
}

TEST(ChipLoader, RejectsUnknownPresetNamesListingTheKnownOnes) {
  try {
    load_chip("h300");
    ADD_FAILURE();
  } catch (const InputError& e) {
    expect_contains(e.what(), {"unknown chip preset 'h300'", "h200", "seedchip-v1"});
  }
  try {
    load_chip("/no/such/dir/chip.yaml");
    ADD_FAILURE();
  } catch (const InputError& e) {
    expect_contains(e.what(), {"/no/such/dir/chip.yaml", "cannot read"});
  }
}

TEST(ChipLoader, AppliesAndValidatesOverrides) {
  LoadedChip chip = load_chip("seedchip-v1", {"core.clock_mhz=1000", "hbm.stacks=6"});
  EXPECT_EQ(chip.config.core.clock_mhz, 1000);
  EXPECT_EQ(chip.config.hbm.stacks, 6);
  EXPECT_EQ(chip.sources.at("core.clock_mhz"), "override");
  expect_contains(load_error(preset_with(""), {"hbm.stacks=17"}),
                  {"--set 'hbm.stacks=17'", "[0, 16]"});
  expect_contains(load_error(preset_with(""), {"hbm.timing.tRCDX=3"}),
                  {"--set", "unknown key 'hbm.timing.tRCDX'", "hbm.timing.tRCD"});
  expect_contains(load_error(preset_with(""), {"core.clock_mhz"}),
                  {"--set 'core.clock_mhz'", "key=value"});
  expect_contains(load_error(preset_with(""), {"hbm.write_drain_low=60"}),
                  {"x.yaml with --set", "hbm.write_drain_low (60)", "hbm.write_drain_high (48)"});
}

TEST(ChipLoader, ChecksCrossFieldConsistency) {
  auto error_for = [](const std::vector<std::string>& overrides) {
    try {
      load_chip("seedchip-v1", overrides);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  expect_contains(error_for({"hbm.write_drain_high=80"}),
                  {"hbm.write_drain_high (80)", "hbm.write_queue (64)"});
  expect_contains(error_for({"mxu.macs_per_pe.bf16=0", "mxu.macs_per_pe.fp16=0",
                             "mxu.macs_per_pe.fp8=0", "mxu.macs_per_pe.int8=0"}),
                  {"mxu.macs_per_pe", "at least one"});
  expect_contains(error_for({"hbm.data_rate_gbps=6.4"}),
                  {"hbm.access_bytes (32)", "hbm.clock_mhz"});
  EXPECT_EQ(error_for({"hbm.data_rate_gbps=6.4", "hbm.clock_mhz=1600"}), "");
  expect_contains(error_for({"hbm.timing.tRAS=200"}),
                  {"hbm.timing.tRC (" + std::to_string(ChipConfig{}.hbm.timing.tRC) + ")",
                   "hbm.timing.tRAS (200)"});
  expect_contains(error_for({"sram.bytes=10000"}), {"sram.bytes (10000)", "2048"});
}

TEST(ChipLoader, ResolvedYamlRoundTripsEveryPreset) {
  for (const std::string& name : list_presets()) {
    SCOPED_TRACE(name);
    LoadedChip chip = load_chip(name, {"core.clock_mhz=1111.125", "hbm.refresh=per-bank"});
    std::string yaml = resolved_config_yaml(chip);
    LoadedChip again = load_chip_yaml(yaml, "resolved.yaml");
    EXPECT_EQ(again.config, chip.config);
    EXPECT_EQ(again.sources, chip.sources);
    std::string yaml_again =
        resolved_config_yaml(again);  // differs only in the comment naming the file
    EXPECT_EQ(yaml_again.substr(yaml_again.find('\n')), yaml.substr(yaml.find('\n')));
  }
}

}  // namespace
}  // namespace seedchip
