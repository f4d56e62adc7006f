#pragma once
// A fleet simulated as independent shards, so that processes can share it out (`seedchip sweep`
// with a `fleet`, under mpirun: plan/fleet_sweep.h); this file holds no MPI.
//
// What sharding assumes. Request k of the trace goes to shard k mod S, and each shard is the
// fleet's pools with 1/S of each pool's instances behind its own router: a two-level router whose
// first level deals the requests round-robin over the shards, blind to their load, and whose second
// is the fleet's router inside the shard. With round-robin routing this is exactly the whole fleet
// (request k reaches instance k mod N either way, with every pool's count a multiple of S:
// tests/serve/fleet checks every figure). With routers that look at the instances it is not: a
// shard's router sees only its own (prefix-affinity cannot find a prefix cached in another shard;
// least-outstanding-tokens balances inside a shard), which is what a front end hashing requests to
// groups of instances does. A disaggregated shard hands its sequences to its own decode pool.
// Every shard's clock starts at 0, where the arrivals of every serve/workload stream start.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "serve/engine/engine.h"
#include "serve/fleet/fleet.h"
#include "serve/workload/workload.h"

namespace seedchip::serve {

// The requests of `trace` (which must outlive it) whose id k has k mod shards == shard, as drawn.
class ShardStream final : public RequestStream {
 public:
  ShardStream(RequestStream& trace, int64_t shard, int64_t shards)
      : trace_(trace), shard_(shard), shards_(shards) {}
  const std::string& name() const override { return trace_.name(); }
  bool next(Request& r) override;

 private:
  RequestStream& trace_;
  int64_t shard_, shards_;
};

// The pools of one shard: each pool with 1/shards of its instances. InputError naming the pool
// when its count is not a multiple of `shards` (>= 1).
std::vector<Pool> shard_pools(const std::vector<Pool>& pools, int64_t shards);

// What one shard reports: its instances' figures summed as FleetReport::total sums them (makespan
// from 0 to `end`), and its finished requests' latencies by SLO class; the same for each pool.
struct ShardResult {
  struct Pool {
    int64_t instances = 0;
    double idle_watts = 0;  // all its instances together
    ServeReport total;      // as PoolReport::total, counters and sums only
    ClassLatencies latencies;
  };
  int64_t shard = 0;
  int64_t instances = 0;
  double end = 0;         // seconds: when its last step ended
  double idle_watts = 0;  // all its instances together
  ServeReport total;      // counters and sums only: its percentiles are not merged
  std::vector<int64_t> class_requests;
  std::vector<ClassLatencies> latencies;  // per SLO class
  std::vector<Pool> pools;                // as the pools given to run_shard
};

// Runs shard `shard` of `shards` of a fleet: the requests ShardStream gives from `trace` through
// `pools` (shard_pools' result) behind a router made by name, with `options` (keep_samples and
// start are set here).
ShardResult run_shard(RequestStream& trace, const std::vector<Pool>& pools,
                      const std::string& router, FleetOptions options, int64_t shard,
                      int64_t shards);

// As JSON and back, every figure to the bit; InputError naming `what` for JSON that is not one.
nlohmann::json shard_to_json(const ShardResult& r);
ShardResult shard_from_json(const nlohmann::json& j, const std::string& what);

// The whole fleet from its shards (in any order; each shard once): the counters summed, the
// makespan to the last shard's end (each shard's idle energy extended to it), busy the mean over
// every instance, the percentiles over every finished request, and the per-class reports; each
// pool likewise over its instances (its makespan the fleet's).
struct MergedShards {
  ServeReport total;
  std::vector<ClassReport> classes;
  std::vector<ServeReport> pools;  // as the shards' pools
  int64_t instances = 0;
};
MergedShards merge_shards(std::vector<ShardResult> shards, const std::vector<SloClass>& classes);

}  // namespace seedchip::serve
