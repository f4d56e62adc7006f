#pragma once
// `seedchip plan PLAN.yaml`: how many chips of each type serve a demand within the SLO, what they
// cost, and the cheapest mix within the budget (DESIGN.md, "capacity planner").
//
// For every candidate instance shape (chip preset, chips per instance, scheduler, batch limit,
// prefill/decode disaggregation) the planner measures the model's step costs on that chip, finds
// the highest rate of the trace one instance (or disaggregated unit) serves within the SLO
// (plan/instance.h), and sizes a fleet for the peak demand. A fleet mix gives each chip type a
// share of the peak (in steps of mix_step); the cheapest mix that respects every minimum share of
// yearly spend is chosen, and checked against the budget.
//
// PLAN.yaml keys (every one but model, trace, demand and candidates has a default):
//   model: a model preset (configs/models)
//   trace: azure-conv | azure-code | mooncake | FILE; requests: N (first N; 0 = all)
//   demand: peak_tokens_per_s and/or tokens_per_day, with peak_to_mean when only one is given,
//     or curve: servegen:MODEL (peak over mean of that ServeGen rate curve's 14 days)
//   slo: ttft_s, tpot_s, attainment
//   budget_yuan_per_year (default 160e9), prices (default configs/prices.yaml; relative paths are
//   read from the plan's folder)
//   candidates: a list of {chip, chips: [..], tp: [..], ep: [..], scheduler: [..], max_batch:
//     [..], set: [key=value], disaggregation: [..]}; each shape is one of every combination of the
//     lists (tp: chips per tensor-parallel group, default all of them; chips / tp pipeline stages;
//     a tp that does not divide a chip count is left out for it; ep: expert groups among a TP
//     group's chips for a mixture of experts, default 1, left out where it does not divide the
//     tp). disaggregation
//     items are none (default: one instance does prefill and decode) or P:D, a unit of P prefill
//     and D decode instances of `chips` chips each (1 to 64 of each), both sides continuous
//     whatever `scheduler` says (plan/instance.h, InstanceShape)
//   min_spend_share: {chip: share}, mix_step (default 0.05)
//   slo_scales: multipliers of both latency targets for the cost-vs-SLO curve (default [1])
//   sources: {key: where a demand or SLO figure comes from}
#include <map>
#include <string>
#include <vector>

#include "plan/instance.h"
#include "plan/prices.h"

namespace seedchip::plan {

struct Demand {
  double peak_tokens_per_s = 0;  // prompt + output tokens
  double mean_tokens_per_s = 0;
};

struct PlanConfig {
  std::string file;
  std::string model, trace;
  int64_t requests = 0;
  Demand demand;
  Slo slo;
  double budget_yuan_per_year = 160e9;
  std::string prices_path;
  std::vector<InstanceShape> shapes;  // every combination of each candidate's lists
  std::map<std::string, double> min_spend_share;
  double mix_step = 0.05;
  std::vector<double> slo_scales{1.0};
  std::map<std::string, std::string> sources;
};

// Throws InputError naming the file, line and key path.
PlanConfig load_plan(const std::string& path);

// One shape sized for the whole peak on its own.
struct ShapeResult {
  InstanceEvaluation evaluation;
  double instances = 0;  // at the peak, whole instances (disaggregated: whole units)
  FleetCost fleet;       // serving the mean demand
  double yuan_per_million_tokens = 0;
  std::string export_class;
};

struct MixPart {
  std::string chip;
  const ShapeResult* shape = nullptr;  // the cheapest shape of that chip
  double peak_share = 0;               // of the peak tokens/s
  double instances = 0, chips = 0;     // instances: disaggregated, units
  FleetCost fleet;
};

struct Mix {
  std::vector<MixPart> parts;
  double capex = 0, yearly = 0, yuan_per_million_tokens = 0;
  bool within_budget = false;
};

// The cheapest mix at one SLO scale, for the cost-vs-SLO curve.
struct SloPoint {
  double scale = 1;
  bool met = false;
  double yuan_per_million_tokens = 0;     // cheapest mix
  std::map<std::string, double> by_chip;  // chip -> its cheapest shape alone, yuan/M tokens
};

// Relative change of the chosen mix's yuan per million tokens when one input moves by +-20% (the
// cheapest mix is chosen again under the moved input).
struct PlanSensitivity {
  std::string input;           // "chip_price.h200", "hbm_yuan_per_gbyte", "utilization"
  double minus = 0, plus = 0;  // NaN where no mix respects the spend shares
};

struct PlanResult {
  PlanConfig config;
  Prices prices;
  std::vector<ShapeResult> shapes;  // every candidate shape meeting the SLO, cheapest first
  Mix mix;
  std::vector<SloPoint> slo_curve;
  std::vector<PlanSensitivity> sensitivity;
  double shortfall_tokens_per_s = 0;  // peak the budget cannot serve with the chosen mix's costs
};

// Throws InputError when no shape meets the SLO (naming the closest shape and by how much it
// misses) or no mix meets the spend shares.
// `inputs` carries the model, the workload (config.trace, read and cut) and the engine options;
// its SLO is replaced by config.slo scaled for each point of the curve.
PlanResult run_plan(const PlanConfig& config, const EvaluationInputs& inputs,
                    const std::function<void(const std::string&)>& progress);

}  // namespace seedchip::plan
