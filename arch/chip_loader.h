#pragma once
// Loads a chip from a YAML preset (configs/presets/<name>.yaml, optionally built on a `base:`
// preset) plus "key=value" overrides. Every parameter ends up with a source text; any bad input
// (syntax, unknown key, type, range, choice, missing source, inconsistent fields) throws
// InputError naming the file, the line or key path, and what was expected.
#include <map>
#include <string>
#include <vector>

#include "arch/chip_config.h"

namespace seedchip {

struct LoadedChip {
  ChipConfig config;
  std::map<std::string, std::string> sources;  // every parameter key -> where its value comes from
  std::string preset_file;
};

// A preset name (looked up in presets_dir()) or a path to a YAML file.
LoadedChip load_chip(const std::string& preset_name_or_yaml_path,
                     const std::vector<std::string>& overrides = {});

// The same from YAML text; `file_name` is used in messages (and `base:` still reads presets_dir()).
LoadedChip load_chip_yaml(const std::string& yaml_text, const std::string& file_name,
                          const std::vector<std::string>& overrides = {});

// Applies "key=value" overrides (from --set), each validated and sourced "override".
void apply_overrides(LoadedChip& chip, const std::vector<std::string>& overrides);

// Cross-field consistency; throws InputError naming the keys and the rule broken.
void validate_chip_config(const ChipConfig& config);

// $SEEDCHIP_CONFIG_DIR when set, else the configs/ folder of the source tree.
std::string config_dir();
std::string presets_dir();
std::vector<std::string> list_presets();  // names, sorted

// A source text beginning with "estimate" marks an estimated value.
bool is_estimate(const std::string& source);

// Every parameter with its value and source, as a preset that load_chip reads back identically.
std::string resolved_config_yaml(const LoadedChip& chip);

}  // namespace seedchip
