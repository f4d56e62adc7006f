#include "plan/prices.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "arch/yaml_reader.h"

namespace seedchip::plan {
namespace {

constexpr const char* kKeysListedIn = "plan/prices.h and configs/prices.yaml";
constexpr double kHuge = 1e15;

// The top-level numbers, in file order, with their range.
struct NumberKey {
  const char* key;
  double Prices::*field;
  double min, max;
};
const NumberKey kNumbers[] = {
    {"hbm_yuan_per_gbyte", &Prices::hbm_yuan_per_gbyte, 0, kHuge},
    {"electricity_yuan_per_kwh", &Prices::electricity_yuan_per_kwh, 0, kHuge},
    {"pue", &Prices::pue, 1, 10},
    {"depreciation_years", &Prices::depreciation_years, 0.1, 100},
    {"operations_per_year", &Prices::operations_per_year, 0, 10},
    {"host_yuan_per_chip", &Prices::host_yuan_per_chip, 0, kHuge},
    {"host_watts_per_chip", &Prices::host_watts_per_chip, 0, 1e6},
    {"utilization", &Prices::utilization, 1e-3, 1},
};

}  // namespace

std::string default_prices_path() {
  return (std::filesystem::path(config_dir()) / "prices.yaml").string();
}

Prices load_prices(const std::string& path) {
  YamlMapReader r(path, load_yaml_file(path, "the prices file"));
  Prices p;
  p.file = path;
  for (const NumberKey& k : kNumbers) p.*k.field = r.number(k.key, true, 0, k.min, k.max);

  YamlMapReader processes = r.child("processes");
  for (const std::string& name : processes.keys()) {
    YamlMapReader pr = processes.child(name);
    ProcessPrices& process = p.processes[name];
    process.wafer_yuan = pr.number("wafer_yuan", true, 0, 1, kHuge);
    process.wafer_diameter_mm = pr.number("wafer_diameter_mm", false, 300, 50, 1000);
    process.defect_density_per_cm2 = pr.number("defect_density_per_cm2", true, 0, 0, 100);
    pr.reject_unknown_keys(kKeysListedIn);
  }

  YamlMapReader chips = r.child("chips");
  for (const std::string& name : chips.keys()) {
    YamlMapReader cr = chips.child(name);
    ChipPrices& chip = p.chips[name];
    const std::string build = cr.text("build", true);
    if (build != "built" && build != "bought")
      throw InputError(path + ": key 'chips." + name + ".build': expected built or bought, got '" +
                       build + "'");
    chip.built = build == "built";
    if (chip.built) {
      chip.process = cr.text("process", true);
      if (!p.processes.count(chip.process))
        throw InputError(path + ": key 'chips." + name + ".process': '" + chip.process +
                         "' is not one of the processes under 'processes'");
      chip.package_yuan = cr.number("package_yuan", true, 0, 0, kHuge);
      chip.board_yuan = cr.number("board_yuan", true, 0, 0, kHuge);
      chip.nre_yuan = cr.number("nre_yuan", true, 0, 0, kHuge);
      chip.volume = cr.number("volume", true, 0, 1, kHuge);
    } else {
      chip.unit_yuan = cr.number("unit_yuan", true, 0, 1, kHuge);
    }
    cr.reject_unknown_keys(kKeysListedIn);
  }

  YamlMapReader sources = r.child("sources");
  for (const std::string& key : sources.keys()) p.sources[key] = sources.text(key, true);
  r.reject_unknown_keys(kKeysListedIn);

  // Every value needs a source: the top-level numbers one each, processes and chips one per entry.
  auto require_source = [&](const std::string& key) {
    if (!p.sources.count(key))
      throw InputError(path + ": key '" + key + "' has no source under 'sources' (say where the " +
                       "value comes from; begin with \"estimate\" for an estimate)");
  };
  for (const NumberKey& k : kNumbers) require_source(k.key);
  for (const auto& [name, process] : p.processes) require_source("processes." + name);
  for (const auto& [name, chip] : p.chips) require_source("chips." + name);
  return p;
}

std::vector<std::string> scalable_price_keys() {
  std::vector<std::string> keys;
  for (const NumberKey& k : kNumbers) keys.push_back(k.key);
  keys.push_back("chip_price.NAME");
  return keys;
}

void scale_price(Prices& prices, const std::string& key, double factor) {
  for (const NumberKey& k : kNumbers)
    if (key == k.key) {
      prices.*k.field = std::clamp(prices.*k.field * factor, k.min, k.max);
      return;
    }
  const std::string chip_prefix = "chip_price.";
  if (key.rfind(chip_prefix, 0) == 0) {
    const auto it = prices.chips.find(key.substr(chip_prefix.size()));
    if (it == prices.chips.end())
      throw InputError("price key '" + key + "': no chip of that name in " + prices.file);
    ChipPrices& chip = it->second;
    if (!chip.built) {
      chip.unit_yuan *= factor;
    } else {
      // The die's price moves with its wafer's; a process may be shared, so give this chip its own.
      const std::string own = chip.process + "/" + it->first;
      ProcessPrices process = prices.processes.at(chip.process);
      process.wafer_yuan *= factor;
      prices.processes[own] = process;
      chip.process = own;
      chip.package_yuan *= factor;
      chip.board_yuan *= factor;
    }
    return;
  }
  std::string known;
  for (const std::string& k : scalable_price_keys()) known += (known.empty() ? "" : ", ") + k;
  throw InputError("unknown price key '" + key + "' (expected one of " + known + ")");
}

ChipCost chip_cost(const Prices& prices, const ChipConfig& config) {
  const auto it = prices.chips.find(config.name);
  if (it == prices.chips.end()) {
    std::string known;
    for (const auto& [name, chip] : prices.chips) known += (known.empty() ? "" : ", ") + name;
    throw InputError(prices.file + ": no price for chip '" + config.name +
                     "' under 'chips' (priced: " + known + ")");
  }
  const ChipPrices& chip = it->second;
  ChipCost cost;
  cost.host = prices.host_yuan_per_chip;
  if (!chip.built) {
    cost.unit = chip.unit_yuan;
    return cost;
  }
  const ProcessPrices& process = prices.processes.at(chip.process);
  // Gross dies on a round wafer (area over die area, less the partial dies along the edge) and a
  // Poisson yield exp(-area x D0): the textbook first-order model.
  const double area = config.die.area_mm2;
  const double d = process.wafer_diameter_mm;
  const double gross =
      std::numbers::pi * d * d / (4 * area) - std::numbers::pi * d / std::sqrt(2 * area);
  if (!(gross >= 1))
    throw InputError(prices.file + ": chip '" + config.name + "': a die of " +
                     std::to_string(area) + " mm^2 does not fit on a " + std::to_string(d) +
                     " mm wafer");
  cost.die_yield = std::exp(-area / 100.0 * process.defect_density_per_cm2);
  cost.good_dies_per_wafer = gross * cost.die_yield;
  cost.die = process.wafer_yuan / cost.good_dies_per_wafer;
  cost.package = chip.package_yuan;
  cost.board = chip.board_yuan;
  cost.nre = chip.nre_yuan / chip.volume;
  cost.hbm = prices.hbm_yuan_per_gbyte * config.hbm.stacks * config.hbm.stack_gbytes;
  return cost;
}

YearlyCost yearly_cost(const Prices& prices, const ChipCost& cost, double average_watts) {
  YearlyCost y;
  y.depreciation = cost.capex() / prices.depreciation_years;
  y.operations = cost.capex() * prices.operations_per_year;
  const double kwh =
      (average_watts + prices.host_watts_per_chip) * prices.pue * kSecondsPerYear / 3600.0 / 1000.0;
  y.electricity = kwh * prices.electricity_yuan_per_kwh;
  return y;
}

}  // namespace seedchip::plan
