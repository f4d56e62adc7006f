#pragma once
// Statistics as one tree keyed by component path ("chip.core3.mxu.busy_cycles"); every stat carries
// a unit and a description. Components register counters once and bump them through a reference,
// so counting costs one add. Derived stats are formulas over others, evaluated when the tree is
// written. Output is JSON with sorted keys, so identical runs give byte-identical files.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace seedchip::sim {

class StatTree {
 public:
  // Returns the counter at `path`, creating it at zero. Registering the same path twice returns
  // the same counter (unit and description must then match, else std::logic_error).
  uint64_t& counter(const std::string& path, const std::string& unit, const std::string& desc);
  double& value(const std::string& path, const std::string& unit, const std::string& desc);
  void formula(const std::string& path, const std::string& unit, const std::string& desc,
               std::function<double()> compute);

  bool contains(const std::string& path) const { return stats_.count(path) != 0; }
  // Current value of any stat (formulas evaluated); std::out_of_range for an unknown path.
  double get(const std::string& path) const;

  // {"chip": {"core0": {"mxu": {"busy_cycles": {"value": 12, "unit": "cycles", "desc": ...}}}}}
  nlohmann::json to_json() const;
  // Flat listing of every stat path with unit and description, for `seedchip info`.
  nlohmann::json schema() const;

 private:
  struct Stat {
    std::string unit;
    std::string desc;
    std::unique_ptr<uint64_t> count;
    std::unique_ptr<double> real;
    std::function<double()> compute;
  };
  Stat& add(const std::string& path, const std::string& unit, const std::string& desc);

  std::map<std::string, Stat> stats_;
};

}  // namespace seedchip::sim
