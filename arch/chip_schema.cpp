#include "arch/chip_schema.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <set>

#include "arch/error.h"

namespace seedchip {
namespace {

struct ParamEntry {
  ParamInfo info;
  std::function<std::string(const ChipConfig&)> get;
  std::function<double(const ChipConfig&)> get_number;  // empty for strings
  std::function<void(ChipConfig&, std::string_view)> set;
};

template <typename T>
constexpr const char* type_name() {
  if constexpr (std::is_same_v<T, bool>) return "bool";
  if constexpr (std::is_integral_v<T>) return "int";
  return "float";
}

template <typename T>
std::string format_value(T value) {
  if constexpr (std::is_same_v<T, bool>) return value ? "true" : "false";
  return fmt::format("{}", value);  // shortest text that reads back to the same value
}

[[noreturn]] void throw_expected(const ParamInfo& info, std::string_view text,
                                 std::string_view expected) {
  throw InputError(fmt::format("'{}' = '{}': expected {}", info.key, text, expected));
}

std::string range_text(const ParamInfo& info) {
  return fmt::format("in [{}, {}]{}", info.min, info.max, info.unit.empty() ? "" : " " + info.unit);
}

template <typename T>
T parse_value(const ParamInfo& info, std::string_view text) {
  T value{};
  if constexpr (std::is_same_v<T, bool>) {
    if (text == "true" || text == "True") return true;
    if (text == "false" || text == "False") return false;
    throw_expected(info, text, "true or false");
  } else {
    const char* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    bool finite = true;
    if constexpr (std::is_floating_point_v<T>) finite = std::isfinite(value);
    if (text.empty() || ec != std::errc() || ptr != end || !finite) {
      throw_expected(info, text,
                     fmt::format("{} {}", std::is_integral_v<T> ? "an integer" : "a number",
                                 range_text(info)));
    }
    if (static_cast<double>(value) < info.min || static_cast<double>(value) > info.max)
      throw_expected(info, text, range_text(info));
  }
  return value;
}

template <typename T, typename Field>
ParamEntry make_num_entry(const char* key, const char* unit, T default_value, double min,
                          double max, const char* description, Field field) {
  ParamEntry entry;
  entry.info = {key, type_name<T>(), unit, description, "", min, max, format_value(default_value)};
  entry.get = [field](const ChipConfig& c) { return format_value<T>(field(c)); };
  entry.get_number = [field](const ChipConfig& c) { return static_cast<double>(field(c)); };
  entry.set = [field, info = entry.info](ChipConfig& c, std::string_view text) {
    field(c) = parse_value<T>(info, text);
  };
  return entry;
}

template <typename Field>
ParamEntry make_str_entry(const char* key, const char* default_value, const char* choices,
                          const char* description, Field field) {
  ParamEntry entry;
  entry.info = {key, "string", "", description, choices, 0, 0, default_value};
  entry.get = [field](const ChipConfig& c) { return field(c); };
  entry.set = [field, info = entry.info](ChipConfig& c, std::string_view text) {
    if (info.choices.empty()) {
      if (text.empty()) throw_expected(info, text, "a non-empty string");
    } else {
      std::string_view rest = info.choices;
      bool found = false;
      while (!found) {
        size_t bar = rest.find('|');
        found = rest.substr(0, bar) == text;
        if (bar == std::string_view::npos) break;
        rest.remove_prefix(bar + 1);
      }
      if (!found) throw_expected(info, text, "one of " + info.choices);
    }
    field(c) = std::string(text);
  };
  return entry;
}

#define SEEDCHIP_SCHEMA_NUM(type, member, key, unit, def, lo, hi, desc) \
  entries.push_back(make_num_entry<type>(                               \
      key, unit, static_cast<type>(def), lo, hi,                        \
      desc, [section](auto& c) -> auto& { return section(c).member; }));
#define SEEDCHIP_SCHEMA_STR(member, key, def, choices, desc) \
  entries.push_back(make_str_entry(                          \
      key, def, choices, desc, [section](auto& c) -> auto& { return section(c).member; }));
#define SEEDCHIP_SCHEMA_TABLE(TABLE, sec)                            \
  {                                                                  \
    auto section = [](auto& config) -> auto& { return config.sec; }; \
    TABLE(SEEDCHIP_SCHEMA_NUM, SEEDCHIP_SCHEMA_STR)                  \
  }

std::vector<ParamEntry> build_entries() {
  std::vector<ParamEntry> entries;
  SEEDCHIP_ALL_PARAM_TABLES(SEEDCHIP_SCHEMA_TABLE)
  return entries;
}

#undef SEEDCHIP_SCHEMA_TABLE
#undef SEEDCHIP_SCHEMA_STR
#undef SEEDCHIP_SCHEMA_NUM

struct Registry {
  std::vector<ParamEntry> entries = build_entries();
  std::vector<ParamInfo> schema;
  std::map<std::string, size_t, std::less<>> index;

  Registry() {
    for (size_t i = 0; i < entries.size(); ++i) {
      schema.push_back(entries[i].info);
      index.emplace(entries[i].info.key, i);
    }
  }
};

const Registry& registry() {
  static const Registry instance;
  return instance;
}

const ParamEntry& entry_for(std::string_view key) {
  const Registry& reg = registry();
  auto it = reg.index.find(key);
  if (it == reg.index.end()) throw InputError(fmt::format("unknown parameter '{}'", key));
  return reg.entries[it->second];
}

}  // namespace

const std::vector<ParamInfo>& chip_param_schema() { return registry().schema; }

const ParamInfo* find_chip_param(std::string_view key) {
  const Registry& reg = registry();
  auto it = reg.index.find(key);
  return it == reg.index.end() ? nullptr : &reg.schema[it->second];
}

bool is_chip_param_path(std::string_view path) {
  for (const ParamInfo& info : chip_param_schema()) {
    std::string_view key = info.key;
    if (key == path ||
        (key.size() > path.size() && key.starts_with(path) && key[path.size()] == '.'))
      return true;
  }
  return false;
}

std::vector<std::string> chip_param_children(std::string_view section) {
  std::vector<std::string> children;
  std::set<std::string, std::less<>> seen;
  std::string prefix = section.empty() ? "" : std::string(section) + ".";
  for (const ParamInfo& info : chip_param_schema()) {
    if (!info.key.starts_with(prefix) || info.key.size() == prefix.size()) continue;
    std::string child =
        info.key.substr(prefix.size(), info.key.find('.', prefix.size()) - prefix.size());
    if (seen.insert(child).second) children.push_back(child);
  }
  return children;
}

std::string get_chip_param(const ChipConfig& config, std::string_view key) {
  return entry_for(key).get(config);
}

double get_chip_param_number(const ChipConfig& config, std::string_view key) {
  const ParamEntry& entry = entry_for(key);
  if (!entry.get_number) throw InputError(fmt::format("parameter '{}' is not numeric", key));
  return entry.get_number(config);
}

void set_chip_param(ChipConfig& config, std::string_view key, std::string_view value) {
  entry_for(key).set(config, value);
}

}  // namespace seedchip
