#include "arch/yaml_reader.h"

#include "arch/error.h"

namespace seedchip {

YAML::Node load_yaml_file(const std::string& path, const std::string& what) {
  try {
    return YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw InputError(path + ": cannot open " + what);
  } catch (const YAML::Exception& e) {
    throw InputError(path + ":" + std::to_string(e.mark.line + 1) + ": not valid YAML: " + e.msg);
  }
}

YamlMapReader::YamlMapReader(std::string file, YAML::Node map, std::string prefix)
    : file_(std::move(file)), map_(std::move(map)), prefix_(std::move(prefix)) {
  if (!map_.IsMap())
    throw InputError(file_ + ":" + std::to_string(map_.Mark().line + 1) + ": " +
                     (prefix_.empty() ? std::string("the file") : "key '" + prefix_ + "'") +
                     ": expected a mapping of keys");
}

YAML::Node YamlMapReader::take(const std::string& key, bool required) {
  seen_.insert(key);
  YAML::Node n = map_[key];
  if (!n && required) throw InputError(file_ + ": required key '" + path_of(key) + "' is missing");
  return n;
}

void YamlMapReader::fail(const std::string& key, const YAML::Node& n,
                         const std::string& expected) const {
  throw InputError(file_ + ":" + std::to_string(n.Mark().line + 1) + ": key '" + path_of(key) +
                   "': expected " + expected + ", got '" + (n.IsScalar() ? n.Scalar() : "?") + "'");
}

std::string YamlMapReader::text(const std::string& key, bool required,
                                const std::string& fallback) {
  const YAML::Node n = take(key, required);
  if (!n) return fallback;
  if (!n.IsScalar()) fail(key, n, "a string");
  return n.Scalar();
}

int64_t YamlMapReader::integer(const std::string& key, bool required, int64_t fallback, int64_t min,
                               int64_t max) {
  const YAML::Node n = take(key, required);
  if (!n) return fallback;
  int64_t v = 0;
  if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v) || v < min || v > max)
    fail(key, n, "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return v;
}

double YamlMapReader::number(const std::string& key, bool required, double fallback, double min,
                             double max) {
  const YAML::Node n = take(key, required);
  if (!n) return fallback;
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !(v >= min && v <= max))
    fail(key, n, "a number in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return v;
}

bool YamlMapReader::flag(const std::string& key, bool fallback) {
  const YAML::Node n = take(key, false);
  if (!n) return fallback;
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) fail(key, n, "true or false");
  return v;
}

std::vector<std::string> YamlMapReader::texts(const std::string& key, bool required) {
  const YAML::Node n = take(key, required);
  std::vector<std::string> out;
  if (!n) return out;
  if (n.IsScalar()) return {n.Scalar()};
  if (!n.IsSequence() || n.size() == 0) fail(key, n, "a value or a non-empty list of values");
  for (const auto& item : n) {
    if (!item.IsScalar()) fail(key, item, "a list of plain values");
    out.push_back(item.Scalar());
  }
  return out;
}

std::vector<int64_t> YamlMapReader::integers(const std::string& key, bool required, int64_t min,
                                             int64_t max) {
  const YAML::Node n = take(key, required);
  std::vector<int64_t> out;
  if (!n) return out;
  const std::string expected =
      "an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "] or a list of them";
  if (!n.IsScalar() && (!n.IsSequence() || n.size() == 0)) fail(key, n, expected);
  for (const auto& item :
       n.IsScalar() ? std::vector<YAML::Node>{n} : std::vector<YAML::Node>(n.begin(), n.end())) {
    int64_t v = 0;
    if (!item.IsScalar() || !YAML::convert<int64_t>::decode(item, v) || v < min || v > max)
      fail(key, item, expected);
    out.push_back(v);
  }
  return out;
}

YamlMapReader YamlMapReader::child(const std::string& key) {
  return YamlMapReader(file_, take(key, true), path_of(key));
}

std::vector<YamlMapReader> YamlMapReader::children(const std::string& key, bool required) {
  const YAML::Node n = take(key, required);
  std::vector<YamlMapReader> out;
  if (!n) return out;
  if (!n.IsSequence()) fail(key, n, "a list of mappings");
  for (size_t i = 0; i < n.size(); ++i)
    out.emplace_back(file_, n[i], path_of(key) + "[" + std::to_string(i) + "]");
  return out;
}

std::vector<std::string> YamlMapReader::keys() const {
  std::vector<std::string> out;
  for (const auto& kv : map_) out.push_back(kv.first.as<std::string>());
  return out;
}

void YamlMapReader::reject_unknown_keys(const std::string& listed_in) const {
  for (const auto& kv : map_) {
    const std::string key = kv.first.as<std::string>();
    if (!seen_.count(key))
      throw InputError(file_ + ":" + std::to_string(kv.first.Mark().line + 1) + ": unknown key '" +
                       path_of(key) + "'; the keys are listed in " + listed_in);
  }
}

}  // namespace seedchip
