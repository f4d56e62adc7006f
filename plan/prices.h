#pragma once
// Prices and operating assumptions of the fleet planner (configs/prices.yaml), and the yearly cost
// of owning and running one chip. Every value carries its source; a source beginning with
// "estimate" marks an estimate (as in the chip presets).
//
// A chip is either bought (a GPU: one unit price, its HBM included) or built (a SeedChip: the die
// priced from its process's wafer cost and yield at the preset's die area, plus packaging, board,
// a share of the design's one-off engineering cost, and its HBM bought by the gigabyte).
// Every chip also pays its share of a host server and network.
#include <map>
#include <string>
#include <vector>

#include "arch/chip_config.h"

namespace seedchip::plan {

struct ProcessPrices {
  double wafer_yuan = 0;              // one processed 300 mm wafer
  double wafer_diameter_mm = 300;     // mm
  double defect_density_per_cm2 = 0;  // defects/cm^2, Poisson yield model
};

struct ChipPrices {
  bool built = false;       // false: bought at unit_yuan
  double unit_yuan = 0;     // bought: the module, HBM included
  std::string process;      // built: a key of Prices::processes
  double package_yuan = 0;  // built: 2.5D packaging, assembly and test
  double board_yuan = 0;    // built: board, power delivery, cooling
  double nre_yuan = 0;      // built: design, IP, masks and software, once
  double volume = 1;        // built: chips the one-off cost is spread over
};

struct Prices {
  std::string file;
  double hbm_yuan_per_gbyte = 0;        // yuan/GB, for built chips
  double electricity_yuan_per_kwh = 0;  // yuan/kWh
  double pue = 1;                       // facility power / IT power
  double depreciation_years = 1;        // years
  double operations_per_year = 0;       // yearly operations cost as a share of capex
  double host_yuan_per_chip = 0;        // host server and network, per accelerator
  double host_watts_per_chip = 0;       // W
  double utilization = 1;  // mean load over provisioned capacity (sensitivity's default)
  std::map<std::string, ProcessPrices> processes;
  std::map<std::string, ChipPrices> chips;     // by chip preset name
  std::map<std::string, std::string> sources;  // key path -> source
};

// Throws InputError naming the file, line and key path: unknown keys, values out of range, a value
// without a source, a built chip naming an unknown process.
Prices load_prices(const std::string& path);
std::string default_prices_path();  // config_dir()/prices.yaml

// Scales one priced value by `factor` (the sensitivity analysis): "hbm_yuan_per_gbyte",
// "electricity_yuan_per_kwh", "utilization", ..., or "chip_price.NAME" (a bought chip's unit price,
// or a built chip's die, package and board). Throws InputError for an unknown key.
void scale_price(Prices& prices, const std::string& key, double factor);
std::vector<std::string> scalable_price_keys();

// What one chip costs to own, in yuan, and its parts.
struct ChipCost {
  double die = 0, package = 0, board = 0, nre = 0, hbm = 0;  // built chips
  double unit = 0;                                           // bought chips
  double host = 0;
  double good_dies_per_wafer = 0, die_yield = 0;  // built chips
  double capex() const { return die + package + board + nre + hbm + unit + host; }
};
// Throws InputError when `prices` has no entry for the chip.
ChipCost chip_cost(const Prices& prices, const ChipConfig& chip);

// Yearly cost of one chip running at `average_watts` (its own mean power, the host's added here).
struct YearlyCost {
  double depreciation = 0, operations = 0, electricity = 0;  // yuan/year
  double total() const { return depreciation + operations + electricity; }
};
YearlyCost yearly_cost(const Prices& prices, const ChipCost& cost, double average_watts);

inline constexpr double kSecondsPerYear = 365.25 * 24 * 3600;

}  // namespace seedchip::plan
