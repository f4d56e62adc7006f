#pragma once
// `seedchip sweep SWEEP.yaml`: the design space of DESIGN.md's chip architect, as independent
// design points (chip preset, chip overrides, chips per instance, scheduler, batch limit), each
// judged on one model, trace and SLO by plan::evaluate_instance: tokens/s at the SLO, yuan per
// million tokens, tokens/s per watt, chip capex and export class.
//
// This file holds no MPI: the command (tools/cmd_sweep.cpp) hands each process a subset of the
// points (points_of_rank), and the processes exchange result rows as the JSON of row_to_json, which
// row_from_json reads back exactly, so that rank 0 assembles the same rows in any split.
//
// SWEEP.yaml keys (every one but model, trace and points.chip has a default):
//   model: a model preset (configs/models)
//   trace: azure-conv | azure-code | mooncake | FILE; requests: N (the first N; 0 = all, default)
//   slo: {ttft_s (default 2), tpot_s (default 0.2), attainment (default 0.99)}
//   prices: a prices file (default configs/prices.yaml; a relative path is read from the sweep's
//     folder); costs per token are at its `utilization`
//   points: the design points, every combination of these lists:
//     chip: [preset, ...]
//     set: [[key=value, ...], ...]  chip overrides, one list per point (default [[]]: none)
//     chips: [K, ...]               chips per instance (default [8])
//     tp: [T, ...]                  chips per tensor-parallel group (default: all the chips); the
//                                   rest pipeline stages (serve/cost/cost.h); a T that does not
//                                   divide K leaves that combination out
//     scheduler: [name, ...]        (default [continuous])
//     max_batch: [B, ...]           (default [256])
// Points are numbered with chip varying slowest, then set, chips, tp, max_batch, and scheduler
// fastest. Points with the same chip, set and chips are neighbours: they share one step-cost
// file (the cost identity has no batch limit), and points differing only in scheduler share one
// measured step table.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "arch/export_control.h"
#include "plan/instance.h"
#include "plan/prices.h"

namespace seedchip::plan {

struct SweepConfig {
  std::string file;
  std::string model, trace;
  int64_t requests = 0;  // first N of the trace; 0 = all
  Slo slo;
  std::string prices_path;
  std::vector<InstanceShape> points;  // the product of the point lists, in point order
};

// Parses and enumerates the sweep, and checks before any work that the model preset exists, every
// chip preset loads with every override list, every chip has a price and every scheduler exists.
// Throws InputError naming the file, line and key path.
SweepConfig load_sweep(const std::string& path);

// What evaluating any point needs, read once per process.
struct Sweep {
  SweepConfig config;
  EvaluationInputs inputs;  // the model, the trace's first `requests`, the SLO
  Prices prices;
  ExportThresholds thresholds;
};
// `cost_cache_dir`, `jobs` and `progress` as in EvaluationInputs. Throws InputError for a trace
// that cannot be read or has fewer than two requests.
Sweep prepare_sweep(SweepConfig config, const std::string& cost_cache_dir, int jobs,
                    const serve::CachedStepCost::Progress& progress);

// One design point's result. Figures that only a met SLO defines (cost per token, tokens/s per
// watt) are 0 when no load meets it.
struct SweepRow {
  size_t index = 0;  // in SweepConfig::points
  InstanceShape shape;
  bool fits = true;         // false: the weights do not fit the instance's memory (nothing run)
  std::string why_not;      // when !fits: the reason
  bool met = false;         // some load meets the SLO
  LoadPoint capacity;       // the highest load meeting the SLO (or the lightest tried when !met)
  int64_t loads_tried = 0;  // by the capacity search
  double yuan_per_million_tokens = 0;  // at prices.utilization of capacity
  double tokens_per_s_per_watt = 0;    // at capacity, chips only
  double chip_capex = 0;               // yuan, one chip with its host share
  double tpp = 0;                      // export-control total processing performance
  std::string export_class;
  bool operator==(const SweepRow&) const;
};

// The points process `rank` of `ranks` evaluates, in point order. A group is a run of points with
// the same chip, set and chips; rank r takes the groups g with g % ranks == r (with one point per
// group: the points i with i % ranks == r). Whole groups, so that no step table is measured by two
// processes and no two processes write one cost-cache file.
std::vector<size_t> points_of_rank(const SweepConfig& config, int rank, int ranks);

// Evaluates sweep.config.points[index]. `memo` shares step tables between points of one process.
SweepRow evaluate_point(const Sweep& sweep, size_t index, StepCostMemo* memo);

// A row as JSON (every figure with its unit) and back; row_from_json(row_to_json(r)) == r, and
// InputError (naming `what`) for JSON that is not such a row.
nlohmann::json row_to_json(const SweepRow& row);
SweepRow row_from_json(const nlohmann::json& j, const std::string& what);

// The whole result as `--json` writes it: the sweep's inputs and the rows in point order. Nothing
// in it depends on how the points were split between processes or how long they took.
nlohmann::json sweep_json(const Sweep& sweep, const std::vector<SweepRow>& rows);

}  // namespace seedchip::plan
