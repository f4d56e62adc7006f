#pragma once
// Export-control metrics of a chip (TPP, performance density) and the class they fall in under
// thresholds read from a data file (configs/export_control.yaml), so new rules need no code change.
#include <limits>
#include <string>
#include <vector>

#include "arch/chip_config.h"

namespace seedchip {

// A rule matches when tpp_min <= TPP < tpp_below and pd_min <= PD < pd_below.
struct ExportRule {
  std::string name;
  double tpp_min = 0;
  double tpp_below = std::numeric_limits<double>::infinity();
  double pd_min = 0;
  double pd_below = std::numeric_limits<double>::infinity();

  bool matches(double tpp, double pd) const;
  std::string text() const;  // e.g. "TPP >= 1600 and PD >= 5.92"
};

struct ExportClass {
  std::string name;
  std::vector<ExportRule> rules;
};

struct ExportThresholds {
  std::string source;
  std::vector<ExportClass> classes;  // checked in order; the first with a matching rule applies
  std::string not_controlled;        // the class reported when no rule matches
};

// Throws InputError naming the file, line and expected form on bad input.
ExportThresholds load_export_thresholds(const std::string& path);
std::string default_export_thresholds_path();  // config_dir()/export_control.yaml

struct ExportMetrics {
  double tpp = 0;          // 2 x dense MAC TOPS x operand bits, largest over formats
  std::string tpp_format;  // the format that gives it
  int tpp_bits = 0;        // its operand width
  double pd = 0;           // TPP / die.area_mm2
  std::string classification;
  std::string rule;  // the matching rule's name, empty when not controlled
  std::string rule_text;
};

ExportMetrics export_metrics(const ChipConfig& config, const ExportThresholds& thresholds);
ExportMetrics export_metrics(const ChipConfig& config);  // with the default thresholds file

}  // namespace seedchip
