#pragma once
// The parameter schema of ChipConfig, generated from the tables in chip_config.h, and access to any
// parameter by its key path. Setting a value checks its type, range and choices; a bad value throws
// InputError naming the key, the value and what was expected (callers prefix the file and line).
#include <string>
#include <string_view>
#include <vector>

#include "arch/chip_config.h"

namespace seedchip {

struct ParamInfo {
  std::string key;   // full key path, e.g. "hbm.timing.tRCD"
  std::string type;  // "int", "float", "bool" or "string"
  std::string unit;
  std::string description;
  std::string choices;  // "a|b|c" for strings with a fixed set of values, else empty
  double min = 0;       // numeric types only
  double max = 0;
  std::string default_value;
};

// Every parameter, in table order.
const std::vector<ParamInfo>& chip_param_schema();

// nullptr when `key` names no parameter.
const ParamInfo* find_chip_param(std::string_view key);

// True when `path` is a key or a section above keys (e.g. "hbm", "hbm.timing").
bool is_chip_param_path(std::string_view path);

// The names one level below `section` ("" = top level), e.g. "hbm.timing" -> {"tBL", "tCL", ...}.
std::vector<std::string> chip_param_children(std::string_view section);

// The value as text that set_chip_param reads back to the identical value.
std::string get_chip_param(const ChipConfig& config, std::string_view key);

// The value of a numeric parameter (bools as 0/1); throws InputError for unknown or string keys.
double get_chip_param_number(const ChipConfig& config, std::string_view key);

// Parses and validates `value` for `key` and stores it; throws InputError without changing config.
void set_chip_param(ChipConfig& config, std::string_view key, std::string_view value);

}  // namespace seedchip
