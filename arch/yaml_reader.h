#pragma once
// Reads one YAML mapping of a config file key by key, so that every bad value and every unknown
// key becomes an InputError naming the file, the line, the full key path and what was expected.
// Used by the config files that are not chip presets (model presets, prices, plans).
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace seedchip {

// Parses `path` as YAML; InputError when it cannot be opened or is not valid YAML. `what` names the
// file's role in the message ("the model preset").
YAML::Node load_yaml_file(const std::string& path, const std::string& what);

class YamlMapReader {
 public:
  // `prefix` is the key path of this mapping inside the file ("" at the top, "chips.h200" below).
  YamlMapReader(std::string file, YAML::Node map, std::string prefix = "");

  bool has(const std::string& key) const { return static_cast<bool>(map_[key]); }
  std::string text(const std::string& key, bool required, const std::string& fallback = "");
  int64_t integer(const std::string& key, bool required, int64_t fallback, int64_t min,
                  int64_t max);
  double number(const std::string& key, bool required, double fallback, double min, double max);
  bool flag(const std::string& key, bool fallback);
  // A scalar or a list of scalars, as strings; a scalar is a list of one.
  std::vector<std::string> texts(const std::string& key, bool required);
  std::vector<int64_t> integers(const std::string& key, bool required, int64_t min, int64_t max);
  // The child mapping at `key` (required: InputError when missing or not a mapping).
  YamlMapReader child(const std::string& key);
  // The mappings of the list at `key`, each with its key path ("parameters[2]").
  std::vector<YamlMapReader> children(const std::string& key, bool required);
  // The keys of this mapping, in file order (for maps keyed by name, such as chips).
  std::vector<std::string> keys() const;
  // Every key of this mapping must have been read; `listed_in` tells the reader where the keys are
  // documented.
  void reject_unknown_keys(const std::string& listed_in) const;
  [[noreturn]] void fail(const std::string& key, const YAML::Node& node,
                         const std::string& expected) const;
  std::string path_of(const std::string& key) const {
    return prefix_.empty() ? key : prefix_ + "." + key;
  }
  const std::string& file() const { return file_; }

 private:
  YAML::Node take(const std::string& key, bool required);
  std::string file_;
  YAML::Node map_;
  std::string prefix_;
  std::set<std::string> seen_;
};

}  // namespace seedchip
