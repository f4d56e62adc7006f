#pragma once
// `seedchip sensitivity`: how the headline results of one instance (tokens/s at the SLO, yuan per
// million tokens) move when each uncertain parameter moves by +-delta, so that a reader sees which
// estimates matter. The parameters and the chip keys each one scales are data
// (configs/sensitivity.yaml); a chip parameter moves the chip model and so its measured step costs
// and capacity, a price moves only the cost.
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "plan/instance.h"
#include "plan/prices.h"

namespace seedchip::plan {

// The chip keys one parameter scales on one kind of chip (ChipConfig::kind).
struct KeyScaling {
  std::vector<std::string> keys;
  // false: each value x (1 + d); true: each value / (1 + d) (an efficiency that falls as a timing
  // parameter grows).
  bool inverse = false;
};

struct SensitivityParameter {
  std::string name;
  std::string description;
  std::map<std::string, KeyScaling> chip_keys;  // by chip kind; empty for a price
  // A price key for scale_price; "chip_price" means the instance's chip's price.
  std::string price_key;
};

struct SensitivityConfig {
  double delta = 0.2;  // relative change of each parameter, both ways
  std::vector<SensitivityParameter> parameters;
};

// Throws InputError naming the file, line and key: unknown keys, a chip key that is not a numeric
// chip parameter, a parameter with both or neither of chip keys and a price.
SensitivityConfig load_sensitivity_config(const std::string& path);
std::string default_sensitivity_config_path();  // config_dir()/sensitivity.yaml

// The "key=value" overrides that move `parameter` by relative change `d` on `chip`: each value
// scaled and clamped to the key's range (integers rounded). `clamped` is set when any value was.
// Empty when the parameter has no keys for the chip's kind.
std::vector<std::string> perturbed_overrides(const ChipConfig& chip,
                                             const SensitivityParameter& parameter, double d,
                                             bool* clamped = nullptr);

struct SensitivityRow {
  std::string parameter;
  double change = 0;                   // -delta or +delta
  bool applicable = true;              // false: the parameter does not act on this chip's kind
  bool clamped = false;                // a value hit its range
  std::vector<std::string> overrides;  // chip keys set (empty for a price)
  bool met = false;
  double tokens_per_s = 0;  // at the SLO
  double yuan_per_million_tokens = 0;
};

struct SensitivityResult {
  InstanceEvaluation base;
  double base_yuan_per_million_tokens = 0;
  double utilization = 0;
  std::vector<SensitivityRow> rows;  // per parameter: -delta then +delta
};

// `progress` is told which run starts ("mxu-efficiency -20%").
SensitivityResult run_sensitivity(const EvaluationInputs& inputs, const InstanceShape& shape,
                                  const Prices& prices, const SensitivityConfig& config,
                                  const std::function<void(const std::string&)>& progress);

}  // namespace seedchip::plan
