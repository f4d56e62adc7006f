#include "plan/sensitivity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "arch/chip_loader.h"
#include "arch/chip_schema.h"
#include "arch/error.h"
#include "arch/yaml_reader.h"

namespace seedchip::plan {
namespace {

constexpr const char* kKeysListedIn = "plan/sensitivity.h and configs/sensitivity.yaml";

std::string percent(double change) {
  char text[16];
  std::snprintf(text, sizeof text, "%+.0f%%", change * 100);
  return text;
}

}  // namespace

std::string default_sensitivity_config_path() {
  return (std::filesystem::path(config_dir()) / "sensitivity.yaml").string();
}

SensitivityConfig load_sensitivity_config(const std::string& path) {
  YamlMapReader r(path, load_yaml_file(path, "the sensitivity config"));
  SensitivityConfig c;
  c.delta = r.number("delta", true, 0, 1e-6, 0.9);
  for (YamlMapReader& pr : r.children("parameters", true)) {
    SensitivityParameter p;
    p.name = pr.text("name", true);
    p.description = pr.text("description", true);
    p.price_key = pr.text("price", false);
    if (pr.has("chip_keys")) {
      YamlMapReader kinds = pr.child("chip_keys");
      for (const std::string& kind : kinds.keys()) {
        YamlMapReader kr = kinds.child(kind);
        KeyScaling& scaling = p.chip_keys[kind];
        scaling.keys = kr.texts("keys", true);
        scaling.inverse = kr.flag("inverse", false);
        kr.reject_unknown_keys(kKeysListedIn);
        for (const std::string& key : scaling.keys) {
          const ParamInfo* info = find_chip_param(key);
          if (!info || (info->type != "int" && info->type != "float"))
            throw InputError(path + ": key '" + kr.path_of("keys") + "': '" + key +
                             "' is not a numeric chip parameter (seedchip info lists them)");
        }
      }
    }
    pr.reject_unknown_keys(kKeysListedIn);
    if (p.chip_keys.empty() == p.price_key.empty())
      throw InputError(path + ": parameter '" + p.name +
                       "': give either chip_keys or a price, not both or neither");
    if (!p.price_key.empty() && p.price_key != "chip_price") {
      Prices probe;  // rejects an unknown price key now, not after minutes of simulation
      scale_price(probe, p.price_key, 1.0);
    }
    c.parameters.push_back(std::move(p));
  }
  r.reject_unknown_keys(kKeysListedIn);
  return c;
}

std::vector<std::string> perturbed_overrides(const ChipConfig& chip,
                                             const SensitivityParameter& parameter, double d,
                                             bool* clamped) {
  std::vector<std::string> overrides;
  if (clamped) *clamped = false;
  const auto it = parameter.chip_keys.find(chip.kind);
  if (it == parameter.chip_keys.end()) return overrides;
  const double factor = it->second.inverse ? 1 / (1 + d) : 1 + d;
  for (const std::string& key : it->second.keys) {
    const ParamInfo& info = *find_chip_param(key);
    double value = get_chip_param_number(chip, key) * factor;
    if (info.type == "int") value = std::round(value);
    const double bounded = std::clamp(value, info.min, info.max);
    if (bounded != value && clamped) *clamped = true;
    char text[64];
    if (info.type == "int")
      std::snprintf(text, sizeof text, "%lld", static_cast<long long>(bounded));
    else
      std::snprintf(text, sizeof text, "%.9g", bounded);
    overrides.push_back(key + "=" + text);
  }
  return overrides;
}

SensitivityResult run_sensitivity(const EvaluationInputs& inputs, const InstanceShape& shape,
                                  const Prices& prices, const SensitivityConfig& config,
                                  const std::function<void(const std::string&)>& progress) {
  SensitivityResult result;
  result.utilization = prices.utilization;
  if (progress) progress("base");
  result.base = evaluate_instance(inputs, shape, prices);
  result.base_yuan_per_million_tokens =
      result.base.yuan_per_million_tokens(prices, prices.utilization);
  for (const SensitivityParameter& p : config.parameters) {
    for (const double change : {-config.delta, config.delta}) {
      SensitivityRow row;
      row.parameter = p.name;
      row.change = change;
      if (progress) progress(p.name + " " + percent(change));
      if (!p.price_key.empty()) {
        Prices moved = prices;
        scale_price(moved, p.price_key == "chip_price" ? "chip_price." + shape.chip : p.price_key,
                    1 + change);
        row.met = result.base.capacity.met;
        row.tokens_per_s = result.base.capacity.best.tokens_per_s;
        row.yuan_per_million_tokens = result.base.yuan_per_million_tokens(moved, moved.utilization);
      } else {
        row.overrides = perturbed_overrides(result.base.chip.config, p, change, &row.clamped);
        row.applicable = !row.overrides.empty();
        if (!row.applicable) {
          row.met = result.base.capacity.met;
          row.tokens_per_s = result.base.capacity.best.tokens_per_s;
          row.yuan_per_million_tokens = result.base_yuan_per_million_tokens;
        } else {
          InstanceShape moved = shape;
          moved.overrides.insert(moved.overrides.end(), row.overrides.begin(), row.overrides.end());
          const InstanceEvaluation e = evaluate_instance(inputs, moved, prices);
          row.met = e.capacity.met;
          row.tokens_per_s = e.capacity.best.tokens_per_s;
          row.yuan_per_million_tokens = e.yuan_per_million_tokens(prices, prices.utilization);
        }
      }
      result.rows.push_back(std::move(row));
    }
  }
  return result;
}

}  // namespace seedchip::plan
