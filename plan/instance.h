#pragma once
// One serving instance as the planner sees it: a model on K chips of one type, its step costs
// measured by the chip model (serve/cost), the highest load of a trace it serves within the SLO
// (serve/engine, searched over the trace's arrival rate), and what it costs a year. A
// disaggregated shape is a unit of prefill and decode instances (serve/fleet) that the planner
// treats as one instance.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "arch/chip_loader.h"
#include "arch/yaml_reader.h"
#include "llm/llama2c.h"
#include "plan/prices.h"
#include "serve/cost/cost.h"
#include "serve/engine/engine.h"
#include "serve/fleet/fleet.h"
#include "serve/workload/workload.h"

namespace seedchip::plan {

// The latency objectives of a good request, and the share of requests that must be good.
struct Slo {
  double ttft = 2.0;         // seconds
  double tpot = 0.2;         // seconds, mean per output token after the first
  double attainment = 0.99;  // good requests / all requests
};

// The optional `slo` mapping of a plan or sweep file ({ttft_s, tpot_s, attainment}, defaults as
// Slo's), and its optional `prices` key: a prices file, relative to the reader's file, or
// default_prices_path(). Bad values throw InputError naming the key path.
Slo read_slo(YamlMapReader& file, const std::string& keys_listed_in);
std::string read_prices_path(YamlMapReader& file);

// One load the capacity search tried.
struct LoadPoint {
  double rate_scale = 0;      // the trace's arrival rate multiplied by this
  double requests_per_s = 0;  // offered: requests over the span of their arrivals
  double tokens_per_s = 0;    // offered: prompt + output tokens over the same span
  double output_tokens_per_s = 0;
  double attainment = 0;              // good / all requests
  double ttft_p99 = 0, tpot_p99 = 0;  // seconds
  double watts = 0;                   // instance mean power over the run (chips only)
  bool meets(const Slo& slo) const { return attainment >= slo.attainment; }
};

struct Capacity {
  bool met = false;  // some load met the SLO
  // The highest load found that meets the SLO (met), or the lightest load tried (not met: how far
  // it misses is best.attainment against the target).
  LoadPoint best;
  std::vector<LoadPoint> curve;  // every load tried, by rate
};

struct CapacitySearch {
  double min_scale = 1.0 / 1024, max_scale = 1 << 20;
  double resolution = 1.005;  // stop when the bracket's upper end is within 0.5% of its lower end
};

// Runs `w` at scaled rates through one engine (the scheduler named by `scheduler`) and bisects, in
// log scale, for the highest rate whose attainment meets the SLO. Attainment falls as the rate
// grows (queues only grow with load), which the bisection assumes.
Capacity find_capacity(const serve::Workload& w, const serve::StepCostModel& cost,
                       const std::string& scheduler, serve::EngineOptions options,
                       int64_t max_context, double idle_watts, const Slo& slo,
                       const CapacitySearch& search = {});
// The same search over a fleet of `pools` behind the router named `router` (serve::run_fleet,
// every request judged by the SLO): the load is the whole fleet's, the power all its instances'.
Capacity find_fleet_capacity(const serve::Workload& w, const std::vector<serve::Pool>& pools,
                             const std::string& router, const Slo& slo,
                             const CapacitySearch& search = {});

// A model's step costs on a chip: the direct model and the cached grid over it (serve/cost). When
// `cache_dir` is not empty, measured steps are read from and written to a file there named after
// the cost identity, so a rerun of the same chip, model and TP measures nothing.
struct StepCosts {
  std::unique_ptr<serve::StepCostModel> direct;
  std::unique_ptr<serve::CachedStepCost> cached;
  int64_t measured_now = 0;  // steps simulated by this call
};
StepCosts measure_step_costs(const llm::LlamaConfig& model, const LoadedChip& chip, int64_t tp,
                             int64_t pp, int64_t ep, const serve::CostGridOptions& grid,
                             const std::string& cache_dir, int jobs,
                             const serve::CachedStepCost::Progress& progress);

// What an instance shape is: chips of one preset (with overrides), tensor parallel over all of
// them, a batch scheduler and its batch limit.
//
// Disaggregated (prefill_instances > 0): a unit of prefill_instances instances that take the
// arrivals and decode_instances instances that take each sequence, with its KV, after its first
// token (serve/fleet/fleet.h), each such an instance of `chips` chips, as `seedchip serve-sim
// --scheduler disaggregated` builds them. The router among the prefill instances is
// least-outstanding-tokens (kDisaggregatedRouter). The planner sizes, prices and multiplies the
// unit as it does one instance.
struct InstanceShape {
  std::string chip;
  std::vector<std::string> overrides;  // chip "key=value"
  int64_t chips = 8;                   // per instance
  std::string scheduler = "continuous";
  int64_t max_batch = 256;
  int64_t prefill_instances = 0, decode_instances = 0;  // both 0: not disaggregated
  int64_t tp = 0;  // chips per tensor-parallel group (0: all); chips / tp pipeline stages
  int64_t ep = 1;  // expert groups among a TP group's chips (mixtures of experts)
  int64_t tensor_parallel() const { return tp > 0 ? tp : chips; }
  bool disaggregated() const { return prefill_instances > 0; }
  // The chips of what the planner multiplies into a fleet: the instance, or the whole unit.
  int64_t unit_chips() const {
    return chips * (disaggregated() ? prefill_instances + decode_instances : 1);
  }
  // "8 x h200, continuous, batch <= 256", "8 x h200 (TP 4 x PP 2), continuous, batch <= 256",
  // "8 x h200 (TP 8, EP 8), ...", or
  // "disaggregated 1 prefill + 2 decode x (8 x h200), batch <= 256"
  std::string describe() const;
};
inline constexpr const char* kDisaggregatedRouter = "least-outstanding-tokens";

// The yearly cost of `instances` instances (disaggregated: units) serving a mean load at
// `utilization` of their capacity: each chip's power moves from idle to its power at capacity with
// the load.
struct FleetCost {
  double capex = 0;   // yuan, all chips with their hosts
  double yearly = 0;  // yuan/year: depreciation + operations + electricity
  double depreciation = 0, operations = 0, electricity = 0;  // yuan/year, the parts of `yearly`
  double average_watts = 0;                                  // all chips, hosts and PUE excluded
};

struct InstanceEvaluation {
  InstanceShape shape;
  LoadedChip chip;
  serve::KvBudget kv;
  Capacity capacity;
  double idle_watts = 0;  // the instance's (or unit's) chips when idle
  ChipCost chip_cost(const Prices& prices) const { return plan::chip_cost(prices, chip.config); }
  FleetCost cost(const Prices& prices, double instances, double utilization) const;
  // Yuan per million tokens (prompt + output) at `utilization` of capacity.
  double yuan_per_million_tokens(const Prices& prices, double utilization) const;
  double tokens_per_s_per_watt() const;  // at capacity, chips only
};

struct EvaluationInputs {
  llm::LlamaConfig model;
  serve::Workload workload;  // already cut and scaled as wanted
  Slo slo;
  serve::EngineOptions engine;  // max_batch comes from the shape; kv_pages is computed
  serve::CostGridOptions grid;
  std::string cost_cache_dir;
  int jobs = 1;
  serve::CachedStepCost::Progress progress;
};

// Step costs already measured, by chip (with overrides), chips and batch limit: shapes that
// differ only in their scheduler, disaggregation or SLO share one measurement.
using StepCostMemo = std::map<std::string, StepCosts>;

// Measures the shape's step costs (or takes them from `memo`) and finds its capacity. Throws
// InputError when the model does not fit the instance's memory.
InstanceEvaluation evaluate_instance(const EvaluationInputs& in, const InstanceShape& shape,
                                     const Prices& prices, StepCostMemo* memo = nullptr);

}  // namespace seedchip::plan
