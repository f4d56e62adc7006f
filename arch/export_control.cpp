#include "arch/export_control.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "arch/chip_loader.h"
#include "arch/chip_peaks.h"
#include "arch/error.h"

namespace seedchip {
namespace {

std::string where(const std::string& file, const YAML::Node& node) {
  return node.Mark().is_null() ? file : fmt::format("{}:{}", file, node.Mark().line + 1);
}

std::string scalar(const YAML::Node& node, const std::string& file, const std::string& key) {
  if (!node.IsDefined() || !node.IsScalar())
    throw InputError(fmt::format("{}: '{}' expected a single value", where(file, node), key));
  return node.Scalar();
}

double number(const YAML::Node& node, const std::string& file, const std::string& key) {
  std::string text = scalar(node, file, key);
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() ||
      !std::isfinite(value) || value < 0)
    throw InputError(fmt::format("{}: '{}' = '{}': expected a non-negative number",
                                 where(file, node), key, text));
  return value;
}

ExportRule parse_rule(const YAML::Node& node, const std::string& file, const std::string& path) {
  if (!node.IsMap())
    throw InputError(fmt::format("{}: '{}' expected a map", where(file, node), path));
  ExportRule rule;
  for (const auto& item : node) {
    std::string key = scalar(item.first, file, path + ".<key>");
    std::string key_path = path + "." + key;
    if (key == "rule") {
      rule.name = scalar(item.second, file, key_path);
    } else if (key == "tpp_min") {
      rule.tpp_min = number(item.second, file, key_path);
    } else if (key == "tpp_below") {
      rule.tpp_below = number(item.second, file, key_path);
    } else if (key == "pd_min") {
      rule.pd_min = number(item.second, file, key_path);
    } else if (key == "pd_below") {
      rule.pd_below = number(item.second, file, key_path);
    } else {
      throw InputError(fmt::format(
          "{}: unknown key '{}' (expected one of rule, tpp_min, tpp_below, pd_min, pd_below)",
          where(file, item.first), key_path));
    }
  }
  if (rule.name.empty())
    throw InputError(fmt::format("{}: '{}' expected a 'rule' name", where(file, node), path));
  return rule;
}

std::string bound_text(const char* metric, double min, double below) {
  std::string text = fmt::format("{} >= {}", metric, min);
  if (std::isfinite(below)) text += fmt::format(" and < {}", below);
  return text;
}

}  // namespace

bool ExportRule::matches(double tpp, double pd) const {
  return tpp >= tpp_min && tpp < tpp_below && pd >= pd_min && pd < pd_below;
}

std::string ExportRule::text() const {
  std::string text = bound_text("TPP", tpp_min, tpp_below);
  if (pd_min > 0 || std::isfinite(pd_below)) text += " and " + bound_text("PD", pd_min, pd_below);
  return text;
}

std::string default_export_thresholds_path() {
  return (std::filesystem::path(config_dir()) / "export_control.yaml").string();
}

ExportThresholds load_export_thresholds(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot read file", path));
  std::ostringstream text;
  text << in.rdbuf();
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}:{}: malformed YAML: {}", path, e.mark.line + 1, e.msg));
  }
  if (!root.IsMap())
    throw InputError(fmt::format("{}: expected a map with source, classes, not_controlled", path));
  ExportThresholds thresholds;
  for (const auto& item : root) {
    std::string key = scalar(item.first, path, "<key>");
    if (key == "source") {
      thresholds.source = scalar(item.second, path, key);
    } else if (key == "not_controlled") {
      thresholds.not_controlled = scalar(item.second, path, key);
    } else if (key == "classes") {
      if (!item.second.IsSequence())
        throw InputError(fmt::format("{}: 'classes' expected a list", where(path, item.second)));
      for (size_t i = 0; i < item.second.size(); ++i) {
        const YAML::Node& class_node = item.second[i];
        std::string class_path = fmt::format("classes[{}]", i);
        if (!class_node.IsMap() || !class_node["rules"].IsSequence())
          throw InputError(fmt::format("{}: '{}' expected a map with 'class' and a list of 'rules'",
                                       where(path, class_node), class_path));
        ExportClass export_class;
        export_class.name = scalar(class_node["class"], path, class_path + ".class");
        for (size_t r = 0; r < class_node["rules"].size(); ++r)
          export_class.rules.push_back(
              parse_rule(class_node["rules"][r], path, fmt::format("{}.rules[{}]", class_path, r)));
        thresholds.classes.push_back(export_class);
      }
    } else {
      throw InputError(
          fmt::format("{}: unknown key '{}' (expected one of source, classes, not_controlled)",
                      where(path, item.first), key));
    }
  }
  if (thresholds.not_controlled.empty())
    throw InputError(fmt::format(
        "{}: missing 'not_controlled' (the class reported when no rule matches)", path));
  return thresholds;
}

ExportMetrics export_metrics(const ChipConfig& config, const ExportThresholds& thresholds) {
  ExportMetrics metrics;
  for (const MxuFormatPeak& format : chip_peaks(config).formats) {
    double tpp = format.tflops * format.bits;  // TFLOP/s = 2 x MAC TOPS
    if (tpp > metrics.tpp) {
      metrics.tpp = tpp;
      metrics.tpp_format = format.name;
      metrics.tpp_bits = format.bits;
    }
  }
  metrics.pd = metrics.tpp / config.die.area_mm2;
  metrics.classification = thresholds.not_controlled;
  for (const ExportClass& export_class : thresholds.classes) {
    for (const ExportRule& rule : export_class.rules) {
      if (rule.matches(metrics.tpp, metrics.pd)) {
        metrics.classification = export_class.name;
        metrics.rule = rule.name;
        metrics.rule_text = rule.text();
        return metrics;
      }
    }
  }
  return metrics;
}

ExportMetrics export_metrics(const ChipConfig& config) {
  return export_metrics(config, load_export_thresholds(default_export_thresholds_path()));
}

}  // namespace seedchip
