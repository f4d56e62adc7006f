#include "arch/chip_peaks.h"

#include <gtest/gtest.h>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "arch/export_control.h"

namespace seedchip {
namespace {

double format_tflops(const ChipPeaks& peaks, const std::string& name) {
  for (const MxuFormatPeak& format : peaks.formats)
    if (format.name == name) return format.tflops;
  ADD_FAILURE() << "no format " << name;
  return 0;
}

TEST(ChipPeaks, FollowTheFormulasOnAHandCheckableChip) {
  ChipConfig c;
  c.core.mesh_x = 2;
  c.core.mesh_y = 3;
  c.core.clock_mhz = 1000;
  c.mxu.rows = 4;
  c.mxu.cols = 8;
  c.mxu.macs_per_pe_fp8 = 2;
  c.hbm.stacks = 2;
  c.hbm.channels = 8;
  c.hbm.pseudo_channels = 2;
  c.hbm.pc_bus_bits = 64;
  c.hbm.data_rate_gbps = 2;
  c.hbm.stack_gbytes = 16;
  c.sram.bytes = 1 << 20;
  c.links.count = 3;
  c.links.gbytes_per_s = 10;
  ChipPeaks peaks = chip_peaks(c);
  // 6 cores x 32 PEs x 1 MAC x 2 FLOP x 1 GHz = 384 GFLOP/s.
  EXPECT_DOUBLE_EQ(format_tflops(peaks, "bf16"), 0.384);
  EXPECT_DOUBLE_EQ(format_tflops(peaks, "fp8"), 0.768);
  EXPECT_DOUBLE_EQ(format_tflops(peaks, "fp32"), 0);
  EXPECT_EQ(peaks.formats.size(), 5u);
  EXPECT_EQ(peaks.formats[0].bits, 16);
  EXPECT_EQ(peaks.formats[2].bits, 8);
  EXPECT_EQ(peaks.formats[4].bits, 32);
  // 2 stacks x 8 ch x 2 PC x 64 bits x 2 Gb/s / 8 = 512 GB/s.
  EXPECT_DOUBLE_EQ(peaks.hbm_gbytes_per_s, 512);
  EXPECT_DOUBLE_EQ(peaks.hbm_gbytes, 32);
  EXPECT_EQ(peaks.sram_bytes, 6 << 20);
  EXPECT_DOUBLE_EQ(peaks.link_gbytes_per_s, 30);
  EXPECT_DOUBLE_EQ(peaks.link_gbytes_per_s_bidirectional, 60);
  EXPECT_DOUBLE_EQ(peak_tflops(c, "int8"), 0.768);
  EXPECT_DOUBLE_EQ(peak_tflops(c, "fp64"), 0);
}

struct DesignFigures {
  std::string preset;
  double bf16_tflops, fp8_tflops, int8_tops, hbm_gbytes_per_s, hbm_gbytes, links_bidirectional;
};

// The figures DESIGN.md's preset table states (or, where it states none, the preset's own sources).
TEST(ChipPeaks, EveryPresetMatchesItsDesignFigures) {
  const std::vector<DesignFigures> figures = {
      {"seedchip-v1", 629, 1258, 1258, 4915, 144, 1600},
      {"seedchip-v1-export", 157, 315, 315, 4915, 144, 800},
      {"seedchip-n5", 629, 1258, 1258, 3277, 96, 1600},
      {"h200", 989, 1979, 1979, 4800, 144, 900},
      // The vendor's 3.35 and 2.039 TB/s, with the pin rates rounded up (+0.1%, +0.4%) so that the
      // HBM and core clocks have a common multiple (see the presets' sources).
      {"h100-sxm", 989, 1979, 1979, 3353.6, 80, 900},
      {"a100-80gb", 312, 0, 624, 2048, 80, 600},
      {"ascend-910b", 354, 0, 708, 1600, 64, 392},
      {"zhenwu-ppu", 315, 0, 629, 2458, 96, 700},
      {"kunlun-p800", 344, 0, 688, 1638, 64, 800},
  };
  for (const DesignFigures& expected : figures) {
    SCOPED_TRACE(expected.preset);
    ChipPeaks peaks = chip_peaks(load_chip(expected.preset).config);
    EXPECT_NEAR(format_tflops(peaks, "bf16"), expected.bf16_tflops, 1);
    EXPECT_NEAR(format_tflops(peaks, "fp16"), expected.bf16_tflops, 1);
    EXPECT_NEAR(format_tflops(peaks, "fp8"), expected.fp8_tflops, 1);
    EXPECT_NEAR(format_tflops(peaks, "int8"), expected.int8_tops, 1);
    // Design figures are stated to 2-4 digits; presets may round a pin rate to a whole-MHz clock.
    EXPECT_NEAR(peaks.hbm_gbytes_per_s, expected.hbm_gbytes_per_s,
                0.001 * expected.hbm_gbytes_per_s);
    EXPECT_DOUBLE_EQ(peaks.hbm_gbytes, expected.hbm_gbytes);
    EXPECT_DOUBLE_EQ(peaks.link_gbytes_per_s_bidirectional, expected.links_bidirectional);
  }
  EXPECT_EQ(chip_peaks(load_chip("seedchip-v1").config).sram_bytes, 16 * 8 * (int64_t{1} << 20));
  EXPECT_EQ(load_chip("h200").config.die.l2_bytes, 50 * (int64_t{1} << 20));
  EXPECT_EQ(load_chip("h200").config.core_count(), 132);
  EXPECT_EQ(load_chip("ascend-910b").config.core_count(), 24);
  EXPECT_EQ(load_chip("h200").config.power.tdp_w, 700);
  EXPECT_EQ(load_chip("zhenwu-ppu").config.power.tdp_w, 400);
}

TEST(ExportControl, SeedchipV1IsControlledBy3A090a) {
  ExportMetrics m = export_metrics(load_chip("seedchip-v1").config);
  // 629.1 TFLOP/s x 16 bits = 1258.3 x 8 bits = 10066.
  EXPECT_NEAR(m.tpp, 10066.3, 0.1);
  EXPECT_EQ(m.tpp_bits * peak_tflops(load_chip("seedchip-v1").config, m.tpp_format), m.tpp);
  EXPECT_NEAR(m.pd, 10066.3 / 600, 0.01);
  EXPECT_EQ(m.classification, "3A090.a");
  EXPECT_EQ(m.rule, "3A090.a.1");
  EXPECT_EQ(m.rule_text, "TPP >= 4800");
}

TEST(ExportControl, H200IsControlledBy3A090a) {
  ExportMetrics m = export_metrics(load_chip("h200").config);
  // 989.4 x 16 = 1978.9 x 8 = 15831, the figure usually quoted for H100/H200.
  EXPECT_NEAR(m.tpp, 15831, 1);
  EXPECT_NEAR(m.pd, 15831.0 / 814, 0.01);
  EXPECT_EQ(m.classification, "3A090.a");
}

TEST(ExportControl, TheExportVariantFallsUnder3A090bNot3A090a) {
  ExportMetrics m = export_metrics(load_chip("seedchip-v1-export").config);
  EXPECT_NEAR(m.tpp, 2516.6, 0.1);  // a quarter of seedchip-v1
  EXPECT_NEAR(m.pd, 2516.6 / 600, 0.01);
  EXPECT_EQ(m.classification, "3A090.b");
  EXPECT_EQ(m.rule, "3A090.b.1");  // TPP in [2400, 4800) and PD in [1.6, 5.92)
}

TEST(ExportControl, ClassifiesEachThresholdEdge) {
  ExportThresholds t = load_export_thresholds(default_export_thresholds_path());
  ChipConfig c;
  c.mxu.macs_per_pe_fp8 = 0;
  c.mxu.macs_per_pe_int8 = 0;
  // TPP = clock_mhz x 16 cores x 128 x 128 x 2 x 16 bits / 1e6, so the clock sets TPP exactly.
  auto classify = [&](double tpp, double area) {
    c.core.clock_mhz = tpp * 1e6 / (16.0 * 128 * 128 * 2 * 16);
    c.die.area_mm2 = area;
    ExportMetrics m = export_metrics(c, t);
    EXPECT_NEAR(m.tpp, tpp, 1e-6);
    return m.rule.empty() ? m.classification : m.rule;
  };
  EXPECT_EQ(classify(4800, 5000), "3A090.a.1");
  EXPECT_EQ(classify(4799, 4799 / 5.92), "3A090.a.2");
  EXPECT_EQ(classify(1600, 1600 / 5.92), "3A090.a.2");
  EXPECT_EQ(classify(4799, 4799 / 5.9), "3A090.b.1");
  EXPECT_EQ(classify(2400, 2400 / 1.6), "3A090.b.1");
  EXPECT_EQ(classify(2399, 2399 / 3.2), "3A090.b.2");
  EXPECT_EQ(classify(2399, 2399 / 3.1), "not controlled under 3A090");
  EXPECT_EQ(classify(1599, 1599 / 5.0), "not controlled under 3A090");
  EXPECT_EQ(classify(2400, 2400 / 1.5), "not controlled under 3A090");
}

TEST(ExportControl, RejectsABadThresholdsFile) {
  std::string path = testing::TempDir() + "/bad_export_control.yaml";
  {
    std::FILE* f = std::fopen(path.c_str(), "w");
    std::fputs(
        "source: x\nnot_controlled: none\nclasses:\n  - class: A\n    rules:\n      - rule: A.1\n"
        "        tpp_minimum: 5\n",
        f);
    std::fclose(f);
  }
  try {
    load_export_thresholds(path);
    ADD_FAILURE();
  } catch (const InputError& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("bad_export_control.yaml:7"), std::string::npos) << message;
    EXPECT_NE(message.find("classes[0].rules[0].tpp_minimum"), std::string::npos) << message;
  }
  std::remove(path.c_str());
}

}  // namespace
}  // namespace seedchip
