#include "sim/stats.h"

#include <stdexcept>

namespace seedchip::sim {

StatTree::Stat& StatTree::add(const std::string& path, const std::string& unit,
                              const std::string& desc) {
  auto [it, inserted] = stats_.try_emplace(path);
  Stat& s = it->second;
  if (inserted) {
    s.unit = unit;
    s.desc = desc;
  } else if (s.unit != unit || s.desc != desc) {
    throw std::logic_error("stat '" + path + "' registered twice with different unit/description");
  }
  return s;
}

uint64_t& StatTree::counter(const std::string& path, const std::string& unit,
                            const std::string& desc) {
  Stat& s = add(path, unit, desc);
  if (!s.count) {
    if (s.real || s.compute) throw std::logic_error("stat '" + path + "' is not a counter");
    s.count = std::make_unique<uint64_t>(0);
  }
  return *s.count;
}

double& StatTree::value(const std::string& path, const std::string& unit, const std::string& desc) {
  Stat& s = add(path, unit, desc);
  if (!s.real) {
    if (s.count || s.compute) throw std::logic_error("stat '" + path + "' is not a value");
    s.real = std::make_unique<double>(0.0);
  }
  return *s.real;
}

void StatTree::formula(const std::string& path, const std::string& unit, const std::string& desc,
                       std::function<double()> compute) {
  Stat& s = add(path, unit, desc);
  if (s.count || s.real) throw std::logic_error("stat '" + path + "' is not a formula");
  s.compute = std::move(compute);
}

double StatTree::get(const std::string& path) const {
  const Stat& s = stats_.at(path);
  if (s.count) return static_cast<double>(*s.count);
  if (s.real) return *s.real;
  return s.compute();
}

nlohmann::json StatTree::to_json() const {
  nlohmann::json root = nlohmann::json::object();
  for (const auto& [path, s] : stats_) {
    nlohmann::json* node = &root;
    size_t start = 0;
    for (size_t dot; (dot = path.find('.', start)) != std::string::npos; start = dot + 1)
      node = &(*node)[path.substr(start, dot - start)];
    nlohmann::json leaf;
    if (s.count)
      leaf["value"] = *s.count;
    else
      leaf["value"] = s.real ? *s.real : s.compute();
    leaf["unit"] = s.unit;
    leaf["desc"] = s.desc;
    (*node)[path.substr(start)] = std::move(leaf);
  }
  return root;
}

nlohmann::json StatTree::schema() const {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [path, s] : stats_)
    out.push_back({{"path", path}, {"unit", s.unit}, {"desc", s.desc}});
  return out;
}

}  // namespace seedchip::sim
