#pragma once
// A fleet of serving instances behind a router (issue 5): pools of identical instances (one chip
// type on K chips each, a scheduler, a batch limit), and a router that sends each arriving request
// to one instance, chosen by name. Each instance is a serve::Engine; a discrete-event loop runs
// their steps in time order, and dispatches every arrival before any step that starts at or after
// it (the same order as run_engine, so a one-instance fleet reports what run_engine does).
//
// What the fleet assumes: the router sees every instance's state as it is after that instance's
// latest step (its results are there once the step has run; see Engine), decides instantly, and
// the request reaches the instance with no network delay; instances share nothing (each has its
// own KV cache and prefix cache); every request is served where it is routed (no retry elsewhere
// when an instance rejects it as too long).
//
// Disaggregated prefill and decode (as DistServe, Splitwise, Mooncake): pools whose role is
// kPrefill take the arrivals (the router chooses among them), and hand every sequence that has
// produced its first token and has more to generate to the kDecode instance with the fewest
// outstanding tokens (lowest number on a tie), with its KV: the transfer takes the KV bytes of its
// positions over the sending instance's chip links (Pool::link_bytes_per_s), and the sequence
// joins the decode instance when the transfer ends (Engine::add_prefilled). The links are not
// shared between transfers, and the prefill instance frees the pages at once.
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "serve/cost/cost.h"
#include "serve/engine/engine.h"
#include "serve/workload/workload.h"

namespace seedchip::serve {

// What a pool's instances do: everything (kBoth), or one side of a disaggregated fleet.
enum class PoolRole { kBoth, kPrefill, kDecode };

// Identical instances of one kind.
struct Pool {
  std::string name;                      // for reports ("h200 x8")
  const StepCostModel* cost = nullptr;   // prices every instance's steps; outlives the run
  std::string scheduler = "continuous";  // serve::schedulers(); each instance has its own
  // Each instance's options (kv_pages set). The fleet replaces slo_classes with its own, and
  // ignores progress, keep_going, keep_samples and timeline_interval.
  EngineOptions engine;
  int64_t instances = 1;
  int64_t chips = 1;        // per instance (for per-chip figures)
  int64_t max_context = 0;  // the model's longest sequence
  double idle_watts = 0;    // per instance: power.idle_w x chips
  PoolRole role = PoolRole::kBoth;
  // For the transfers out of a prefill instance: KV bytes per position, and the bandwidth of the
  // instance's chip links (chips x links.count x links.gbytes_per_s: each chip sends its
  // tensor-parallel share of the KV over its own links).
  double kv_bytes_per_token = 0, link_bytes_per_s = 0;
};

// What a router sees when a request arrives: every instance that takes arrivals (all but the
// decode pools' instances; numbered from 0 across the pools, in pool order) as it is after its
// latest step.
class FleetView {
 public:
  FleetView(std::span<const int64_t> outstanding, std::span<const Engine* const> engines)
      : outstanding_(outstanding), engines_(engines) {}
  size_t size() const { return engines_.size(); }
  // Engine::outstanding_tokens, read from one contiguous array (a router scans every instance
  // for every request).
  int64_t outstanding_tokens(size_t i) const { return outstanding_[i]; }
  int64_t cached_prefix(size_t i, const Request& q) const { return engines_[i]->cached_prefix(q); }

 private:
  std::span<const int64_t> outstanding_;
  std::span<const Engine* const> engines_;
};

// Picks the instance for each request, in arrival order. Deterministic.
class Router {
 public:
  virtual ~Router() = default;
  // An instance of `fleet` (< fleet.size(), which is at least 1).
  virtual size_t route(const Request& q, const FleetView& fleet) = 0;
};

struct RouterInfo {
  std::string description;
  std::function<std::unique_ptr<Router>()> make;
};
// Name -> router: "round-robin" (request k to instance k mod N), "least-outstanding-tokens" (the
// instance with the fewest Engine::outstanding_tokens, the lowest number on a tie) and
// "prefix-affinity" (the instance whose prefix cache holds the longest leading run of the
// request's blocks, ties as least-outstanding-tokens; least-outstanding-tokens for a request
// without hash_ids or with no block cached anywhere).
const std::map<std::string, RouterInfo>& routers();
std::unique_ptr<Router> make_router(const std::string& name);  // InputError listing names

struct FleetOptions {
  // Per Request::slo_class (each request's class must be listed).
  std::vector<SloClass> slo_classes = {SloClass{}};
  // Called every progress_every steps (all instances together) with requests finished and
  // simulated seconds; return false from `keep_going` to stop (the report covers what finished).
  std::function<void(int64_t finished, double now)> progress;
  std::function<bool()> keep_going;
  int64_t progress_every = 10000;
  // How every instance keeps its latencies (EngineOptions::latencies).
  LatencyDistribution::Mode latencies = LatencyDistribution::Mode::kExact;
  bool record_routes = false;  // FleetReport::routed_to (memory grows with the requests)
  // total's ttft_samples, tpot_samples and e2e_samples (ServeReport, keep_samples), for plots,
  // and FleetReport::latencies.
  bool keep_samples = false;
  // The time every instance's clock starts from, and makespans count from; NaN: the first
  // arrival. (A shard of a fleet starts where the whole fleet does: serve/fleet/shards.h.)
  double start = std::numeric_limits<double>::quiet_NaN();
};

struct ClassReport {
  SloClass slo;
  int64_t requests = 0;  // drawn from the arrivals
  int64_t finished = 0, good = 0;
  double goodput = 0;  // good requests per second of the fleet's makespan
  Percentiles ttft, tpot, e2e;
};

struct PoolReport {
  std::string name;
  int64_t instances = 0, chips = 0;  // chips per instance
  PoolRole role = PoolRole::kBoth;
  // In `total`: a prefill pool's requests are the arrivals it took, and it finishes only those of
  // one output token; a decode pool's requests are the sequences handed to it, and the latencies
  // and the prompt and prefix-hit tokens of a request are counted where it finishes.
  ServeReport total;  // over the pool's instances, as FleetReport::total is over all of them
  // With FleetOptions::keep_samples: the latencies of the requests finished here, every class.
  ClassLatencies latencies;
};

struct FleetReport {
  // Over every instance: requests, tokens, steps, preemptions, energy, KV pages (the peak too: the
  // sum of each instance's peak) and good requests summed; makespan from the first arrival to the
  // last step's end anywhere; busy the mean over instances, so that utilization() is the mean busy
  // share; mean_batch time-weighted over every step; percentiles over every finished request.
  // `good` counts each request against its own class's SLO.
  ServeReport total;
  std::vector<PoolReport> pools;
  std::vector<ClassReport> classes;  // as FleetOptions::slo_classes
  // With FleetOptions::keep_samples: per SLO class, the finished requests' latencies over every
  // instance.
  std::vector<ClassLatencies> latencies;
  std::vector<ServeReport> instances;  // each over the fleet's makespan
  // With FleetOptions::record_routes: per request routed, in arrival order, its instance.
  std::vector<int64_t> routed_to;
  // Disaggregated fleets: sequences moved from prefill to decode instances, and the time their
  // KV took to move.
  int64_t kv_transfers = 0;
  Percentiles kv_transfer_seconds;
};

// Runs the requests of `arrivals` through the pools' instances behind `router`, drawing each as
// its arrival comes (only the requests the instances hold are in memory). Throws InputError for a
// pool without instances or cost model, an unknown scheduler, no SLO class, a request whose class
// is not listed, prefill pools without decode pools (or the other way round), or a prefill pool
// without KV bytes per token or link bandwidth. total.requests counts the requests drawn (a
// stopped run leaves the rest unread); the Workload form counts all of them.
FleetReport run_fleet(RequestStream& arrivals, const std::vector<Pool>& pools, Router& router,
                      const FleetOptions& options);
FleetReport run_fleet(const Workload& workload, const std::vector<Pool>& pools, Router& router,
                      const FleetOptions& options);

// The per-class reports of finished requests: `requests` drawn and `merged` latencies per class
// (as FleetOptions::slo_classes), goodput over `makespan` seconds.
std::vector<ClassReport> class_reports(const std::vector<int64_t>& requests,
                                       const std::vector<ClassLatencies>& merged,
                                       const std::vector<SloClass>& classes, double makespan);

}  // namespace seedchip::serve
