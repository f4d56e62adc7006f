#include "arch/chip_loader.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "arch/chip_schema.h"
#include "arch/error.h"

namespace seedchip {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPresetFields[] = {"name", "description", "kind", "base", "sources"};
constexpr const char* kKinds[] = {"seedchip", "gpu", "npu"};
constexpr const char* kOverrideSource = "override";

std::string where(const std::string& file, const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return file;
  return fmt::format("{}:{}", file, mark.line + 1);
}

std::string join(const std::vector<std::string>& items) {
  return fmt::format("{}", fmt::join(items, ", "));
}

// Names the deepest valid section of `path` and what it may contain, so a typo is easy to spot.
std::string unknown_key_message(const std::string& path, std::vector<std::string> extra_top = {}) {
  std::string section = path;
  while (!section.empty()) {
    size_t dot = section.rfind('.');
    section = dot == std::string::npos ? "" : section.substr(0, dot);
    if (section.empty() || is_chip_param_path(section)) break;
  }
  std::vector<std::string> expected =
      section.empty() ? std::move(extra_top) : std::vector<std::string>{};
  for (const std::string& child : chip_param_children(section))
    expected.push_back(section.empty() ? child : section + "." + child);
  return fmt::format("unknown key '{}' (expected one of {})", path, join(expected));
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(fmt::format("{}: cannot read file", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

YAML::Node parse_yaml(const std::string& text, const std::string& file) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    std::string at =
        e.mark.is_null() ? file : fmt::format("{}:{}:{}", file, e.mark.line + 1, e.mark.column + 1);
    throw InputError(fmt::format("{}: malformed YAML: {}", at, e.msg));
  }
}

std::string scalar_text(const YAML::Node& node, const std::string& file, const std::string& key) {
  if (!node.IsScalar())
    throw InputError(fmt::format("{}: '{}' expected a single value, got {}", where(file, node), key,
                                 node.IsMap()        ? "a map"
                                 : node.IsSequence() ? "a list"
                                                     : "nothing"));
  return node.Scalar();
}

struct PresetValue {
  std::string key;
  std::string text;
  YAML::Node node;
};

// The keys one YAML map sets, flattened to key paths, checked against the schema.
void collect_values(const YAML::Node& map, const std::string& section, const std::string& file,
                    std::vector<PresetValue>& values) {
  std::set<std::string> seen;
  for (const auto& item : map) {
    std::string name = scalar_text(item.first, file, section + ".<key>");
    std::string path = section + "." + name;
    if (!seen.insert(name).second)
      throw InputError(fmt::format("{}: duplicate key '{}'", where(file, item.first), path));
    if (!is_chip_param_path(path))
      throw InputError(fmt::format("{}: {}", where(file, item.first), unknown_key_message(path)));
    if (find_chip_param(path)) {
      values.push_back({path, scalar_text(item.second, file, path), item.second});
    } else if (item.second.IsMap()) {
      collect_values(item.second, path, file, values);
    } else {
      throw InputError(fmt::format("{}: '{}' is a section: expected a map of its keys ({})",
                                   where(file, item.second), path,
                                   join(chip_param_children(path))));
    }
  }
}

// The source entry of `sources` that covers `key` most specifically, or nullptr.
const std::string* covering_source(const std::map<std::string, std::string>& sources,
                                   const std::string& key) {
  for (std::string path = key;;) {
    if (auto it = sources.find(path); it != sources.end()) return &it->second;
    size_t dot = path.rfind('.');
    if (dot == std::string::npos) return nullptr;
    path.resize(dot);
  }
}

LoadedChip load_layer(const std::string& text, const std::string& file,
                      std::vector<std::string>& chain);

LoadedChip load_base(const YAML::Node& base_node, const std::string& file,
                     std::vector<std::string>& chain) {
  std::string base = scalar_text(base_node, file, "base");
  fs::path path = fs::path(presets_dir()) / (base + ".yaml");
  if (base.empty() || base.find('/') != std::string::npos || !fs::is_regular_file(path))
    throw InputError(fmt::format("{}: base preset '{}' not found (expected one of {})",
                                 where(file, base_node), base, join(list_presets())));
  if (std::find(chain.begin(), chain.end(), path.string()) != chain.end())
    throw InputError(
        fmt::format("{}: base preset '{}' inherits from itself", where(file, base_node), base));
  return load_layer(read_file(path.string()), path.string(), chain);
}

LoadedChip load_layer(const std::string& text, const std::string& file,
                      std::vector<std::string>& chain) {
  chain.push_back(file);
  YAML::Node root = parse_yaml(text, file);
  if (!root.IsMap())
    throw InputError(
        fmt::format("{}: expected a map with name, kind and parameter sections at top level",
                    where(file, root)));

  std::vector<std::string> top_level(std::begin(kPresetFields), std::end(kPresetFields));
  std::vector<PresetValue> values;
  std::map<std::string, std::string> own_sources;
  std::optional<YAML::Node> name_node, description_node, kind_node, base_node;
  std::set<std::string> seen;
  for (const auto& item : root) {
    std::string name = scalar_text(item.first, file, "<key>");
    if (!seen.insert(name).second)
      throw InputError(fmt::format("{}: duplicate key '{}'", where(file, item.first), name));
    if (name == "name") {
      name_node = item.second;
    } else if (name == "description") {
      description_node = item.second;
    } else if (name == "kind") {
      kind_node = item.second;
    } else if (name == "base") {
      base_node = item.second;
    } else if (name == "sources") {
      if (!item.second.IsMap())
        throw InputError(fmt::format("{}: 'sources' expected a map from key path to source text",
                                     where(file, item.second)));
      for (const auto& source : item.second) {
        std::string key = scalar_text(source.first, file, "sources.<key>");
        if (!is_chip_param_path(key))
          throw InputError(
              fmt::format("{}: sources: {}", where(file, source.first), unknown_key_message(key)));
        std::string source_text = scalar_text(source.second, file, "sources." + key);
        if (source_text.empty())
          throw InputError(fmt::format("{}: 'sources.{}' expected a source text",
                                       where(file, source.second), key));
        if (!own_sources.emplace(key, source_text).second)
          throw InputError(
              fmt::format("{}: duplicate key 'sources.{}'", where(file, source.first), key));
      }
    } else if (is_chip_param_path(name) && !find_chip_param(name)) {
      if (!item.second.IsMap())
        throw InputError(fmt::format("{}: '{}' is a section: expected a map of its keys ({})",
                                     where(file, item.second), name,
                                     join(chip_param_children(name))));
      collect_values(item.second, name, file, values);
    } else {
      throw InputError(
          fmt::format("{}: {}", where(file, item.first), unknown_key_message(name, top_level)));
    }
  }

  LoadedChip chip;
  bool has_base = base_node.has_value();
  if (has_base) {
    chip = load_base(*base_node, file, chain);
  } else if (!kind_node) {
    throw InputError(
        fmt::format("{}: missing 'kind' (expected one of {})", file, fmt::join(kKinds, "|")));
  }
  chip.preset_file = file;
  chip.config.name =
      name_node ? scalar_text(*name_node, file, "name") : fs::path(file).stem().string();
  if (description_node)
    chip.config.description = scalar_text(*description_node, file, "description");
  if (kind_node) {
    std::string kind = scalar_text(*kind_node, file, "kind");
    if (std::find(std::begin(kKinds), std::end(kKinds), kind) == std::end(kKinds))
      throw InputError(fmt::format("{}: 'kind' = '{}': expected one of {}", where(file, *kind_node),
                                   kind, fmt::join(kKinds, "|")));
    chip.config.kind = kind;
  }

  std::set<std::string> set_here;
  for (const PresetValue& value : values) {
    try {
      set_chip_param(chip.config, value.key, value.text);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: {}", where(file, value.node), e.what()));
    }
    set_here.insert(value.key);
  }

  // A value set here needs a source here: an inherited citation does not justify a changed value.
  for (const ParamInfo& param : chip_param_schema()) {
    if (const std::string* source = covering_source(own_sources, param.key)) {
      chip.sources[param.key] = *source;
    } else if (set_here.count(param.key) || !has_base) {
      throw InputError(fmt::format(
          "{}: parameter '{}' has no source (add '{}' or a section above it under 'sources:')",
          file, param.key, param.key));
    }
  }

  try {
    validate_chip_config(chip.config);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: {}", file, e.what()));
  }
  chain.pop_back();
  return chip;
}

void check(bool ok, const std::string& message) {
  if (!ok) throw InputError(message);
}

}  // namespace

std::string config_dir() {
  if (const char* dir = std::getenv("SEEDCHIP_CONFIG_DIR"); dir && *dir) return dir;
  return SEEDCHIP_CONFIG_DIR;
}

std::string presets_dir() { return (fs::path(config_dir()) / "presets").string(); }

std::vector<std::string> list_presets() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(presets_dir(), error))
    if (entry.is_regular_file() && entry.path().extension() == ".yaml")
      names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool is_estimate(const std::string& source) {
  constexpr std::string_view kMark = "estimate";
  if (source.size() < kMark.size()) return false;
  for (size_t i = 0; i < kMark.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(source[i])) != kMark[i]) return false;
  return true;
}

LoadedChip load_chip_yaml(const std::string& yaml_text, const std::string& file_name,
                          const std::vector<std::string>& overrides) {
  std::vector<std::string> chain;
  LoadedChip chip = load_layer(yaml_text, file_name, chain);
  apply_overrides(chip, overrides);
  return chip;
}

LoadedChip load_chip(const std::string& preset_name_or_yaml_path,
                     const std::vector<std::string>& overrides) {
  const std::string& name = preset_name_or_yaml_path;
  bool is_path =
      name.find('/') != std::string::npos || name.ends_with(".yaml") || name.ends_with(".yml");
  std::string path = is_path ? name : (fs::path(presets_dir()) / (name + ".yaml")).string();
  if (!is_path && !fs::is_regular_file(path))
    throw InputError(
        fmt::format("unknown chip preset '{}' (expected one of {}, or a path to a .yaml file)",
                    name, join(list_presets())));
  return load_chip_yaml(read_file(path), path, overrides);
}

void apply_overrides(LoadedChip& chip, const std::vector<std::string>& overrides) {
  if (overrides.empty()) return;
  for (const std::string& override_text : overrides) {
    size_t eq = override_text.find('=');
    if (eq == std::string::npos)
      throw InputError(
          fmt::format("--set '{}': expected key=value, e.g. core.clock_mhz=1000", override_text));
    std::string key = override_text.substr(0, eq);
    if (!find_chip_param(key))
      throw InputError(fmt::format("--set '{}': {}", override_text, unknown_key_message(key)));
    try {
      set_chip_param(chip.config, key, override_text.substr(eq + 1));
    } catch (const InputError& e) {
      throw InputError(fmt::format("--set '{}': {}", override_text, e.what()));
    }
    chip.sources[key] = kOverrideSource;
  }
  try {
    validate_chip_config(chip.config);
  } catch (const InputError& e) {
    throw InputError(
        fmt::format("{} with --set {}: {}", chip.preset_file, join(overrides), e.what()));
  }
}

void validate_chip_config(const ChipConfig& c) {
  const MxuConfig& m = c.mxu;
  check(m.macs_per_pe_bf16 + m.macs_per_pe_fp16 + m.macs_per_pe_fp8 + m.macs_per_pe_int8 +
                m.macs_per_pe_fp32 >
            0,
        "mxu.macs_per_pe: every format is 0; expected at least one supported format");
  const HbmConfig& h = c.hbm;
  check(h.write_drain_low < h.write_drain_high,
        fmt::format("hbm.write_drain_low ({}) must be below hbm.write_drain_high ({})",
                    h.write_drain_low, h.write_drain_high));
  check(h.write_drain_high <= h.write_queue,
        fmt::format("hbm.write_drain_high ({}) must not exceed hbm.write_queue ({})",
                    h.write_drain_high, h.write_queue));
  check(h.row_bytes % h.access_bytes == 0,
        fmt::format("hbm.row_bytes ({}) must be a multiple of hbm.access_bytes ({})", h.row_bytes,
                    h.access_bytes));
  double beats_per_ck = h.data_rate_gbps * 1000 / h.clock_mhz;
  double burst_bytes =
      static_cast<double>(h.pc_bus_bits) * static_cast<double>(h.timing.tBL) * beats_per_ck / 8;
  check(std::abs(burst_bytes - static_cast<double>(h.access_bytes)) <
            1e-6 * static_cast<double>(h.access_bytes),
        fmt::format("hbm.access_bytes ({}) must equal hbm.pc_bus_bits ({}) x hbm.timing.tBL ({}) x "
                    "beats per CK "
                    "(hbm.data_rate_gbps x 1000 / hbm.clock_mhz = {}) / 8 = {}",
                    h.access_bytes, h.pc_bus_bits, h.timing.tBL, beats_per_ck, burst_bytes));
  check(h.timing.tRC >= h.timing.tRAS,
        fmt::format("hbm.timing.tRC ({}) must be at least hbm.timing.tRAS ({})", h.timing.tRC,
                    h.timing.tRAS));
  const SramConfig& s = c.sram;
  check(s.bytes % (s.banks * s.bank_width_bytes) == 0,
        fmt::format("sram.bytes ({}) must be a multiple of sram.banks x sram.bank_width_bytes ({})",
                    s.bytes, s.banks * s.bank_width_bytes));
}

std::string resolved_config_yaml(const LoadedChip& chip) {
  YAML::Node root;
  root["name"] = chip.config.name;
  root["description"] = chip.config.description;
  root["kind"] = chip.config.kind;
  for (const ParamInfo& param : chip_param_schema()) {
    YAML::Node node = root;
    std::string_view rest = param.key;
    for (size_t dot; (dot = rest.find('.')) != std::string_view::npos; rest.remove_prefix(dot + 1))
      node.reset(node[std::string(rest.substr(0, dot))]);
    node[std::string(rest)] = get_chip_param(chip.config, param.key);
  }
  YAML::Node sources;
  for (const ParamInfo& param : chip_param_schema()) {
    auto it = chip.sources.find(param.key);
    sources[param.key] = it == chip.sources.end() ? "not recorded" : it->second;
  }
  root["sources"] = sources;
  YAML::Emitter out;
  out << YAML::Comment(fmt::format("SeedChip resolved chip config, from {}", chip.preset_file))
      << YAML::Newline;
  out << root;
  return std::string(out.c_str()) + "\n";
}

}  // namespace seedchip
