#pragma once
// `seedchip sweep SWEEP.yaml` with a `fleet` key: one fleet serving a trace, simulated as S
// independent shards (serve/fleet/shards.h says what sharding assumes) that the processes of an
// MPI job share out; rank 0 merges the shards' results into the fleet's report. One process runs
// every shard and gives the same report, to the bit: each shard's result travels as the same JSON
// text in either case, and the merge takes the shards in order.
//
// This file holds no MPI (tools/cmd_sweep.cpp shares the shards out: shard s to rank s mod N).
//
// SWEEP.yaml keys for a fleet (model, trace and fleet are required):
//   model: a model preset (configs/models)
//   trace: azure-conv | azure-code | mooncake | servegen:... | FILE, drawn as a stream (a file
//     must be in arrival order); requests: N (the first N; 0 = all, default); rate_scale: X
//     (default 1)
//   slo: {ttft_s (default 2), tpot_s (default 0.2), attainment (default 0.99: reported against)}
//   fleet: a fleet file (serve/fleet/fleet_config.h), relative to the sweep's folder; each pool's
//     instances must be a multiple of `shards`
//   shards: S (default 1)
//   router: round-robin (default) | least-outstanding-tokens | prefix-affinity, inside each shard
//   prefix_caching: false (default) | true
//   latencies: binned (default: percentiles within 0.5%, memory independent of the trace) | exact
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plan/instance.h"
#include "serve/fleet/fleet.h"
#include "serve/fleet/fleet_config.h"
#include "serve/fleet/shards.h"

namespace seedchip::plan {

// Whether the sweep file at `path` is a fleet sweep (has a top-level `fleet` key).
bool is_fleet_sweep(const std::string& path);

struct FleetSweepConfig {
  std::string file;
  std::string model, trace, fleet_file, router = "round-robin";
  int64_t requests = 0, shards = 1;
  double rate_scale = 1;
  Slo slo;
  bool prefix_caching = false;
  serve::LatencyDistribution::Mode latencies = serve::LatencyDistribution::Mode::kBinned;
  std::vector<serve::PoolSpec> pools;  // the whole fleet's
};

// Parses and checks everything that can be checked before any work: the model, the fleet file,
// the router, and that every pool divides into the shards. InputError naming the file, line and
// key path.
FleetSweepConfig load_fleet_sweep(const std::string& path);

// What running any shard needs, built once per process: the pools with their step costs (measured,
// or read from `cost_cache_dir`; pools of one chip, chips and batch limit share them).
struct FleetSweep {
  FleetSweepConfig config;
  llm::LlamaConfig model;
  StepCostMemo costs;
  std::vector<serve::Pool> pools;  // one shard's: each pool's instances / shards
  serve::FleetOptions options;
};
FleetSweep prepare_fleet_sweep(FleetSweepConfig config, const std::string& cost_cache_dir, int jobs,
                               const serve::CachedStepCost::Progress& progress);

// The shards process `rank` of `ranks` runs: s with s % ranks == rank.
std::vector<int64_t> shards_of_rank(const FleetSweepConfig& config, int rank, int ranks);
serve::ShardResult run_fleet_shard(const FleetSweep& sweep, int64_t shard);

// The fleet's report as `--json` writes it: the inputs and the merged figures, each with its unit,
// the whole fleet's and each pool's.
// Nothing in it depends on how the shards were split between processes.
nlohmann::json fleet_sweep_json(const FleetSweep& sweep, const serve::MergedShards& merged);

}  // namespace seedchip::plan
