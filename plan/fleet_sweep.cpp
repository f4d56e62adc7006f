#include "plan/fleet_sweep.h"

#include <filesystem>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "arch/yaml_reader.h"
#include "llm/model_preset.h"

namespace seedchip::plan {
namespace {

using nlohmann::json;

constexpr const char* kKeysListedIn = "plan/fleet_sweep.h";

json figure(double value, const std::string& unit) { return {{"value", value}, {"unit", unit}}; }

json percentiles_json(const serve::Percentiles& p) {
  return {{"p50", figure(p.p50, "s")},
          {"p90", figure(p.p90, "s")},
          {"p99", figure(p.p99, "s")},
          {"mean", figure(p.mean, "s")}};
}

}  // namespace

bool is_fleet_sweep(const std::string& path) {
  const YAML::Node root = load_yaml_file(path, "the sweep");
  return root.IsMap() && root["fleet"];
}

FleetSweepConfig load_fleet_sweep(const std::string& path) {
  const YAML::Node root = load_yaml_file(path, "the sweep");
  YamlMapReader r(path, root);
  FleetSweepConfig c;
  c.file = path;
  c.model = r.text("model", true);
  try {
    llm::load_model_preset(c.model);
  } catch (const InputError& e) {
    r.fail("model", root["model"], std::string("a model preset (") + e.what() + ")");
  }
  c.trace = r.text("trace", true);
  c.requests = r.integer("requests", false, 0, 0, int64_t{1} << 40);
  c.rate_scale = r.number("rate_scale", false, 1, 1e-9, 1e9);
  c.slo = read_slo(r, kKeysListedIn);
  const std::string fleet = r.text("fleet", true);
  c.shards = r.integer("shards", false, 1, 1, 1 << 20);
  c.router = r.text("router", false, c.router);
  c.prefix_caching = r.flag("prefix_caching", false);
  const std::string latencies = r.text("latencies", false, "binned");
  r.reject_unknown_keys(kKeysListedIn);
  if (!serve::routers().contains(c.router)) {
    std::string names;
    for (const auto& [name, info] : serve::routers()) names += (names.empty() ? "" : ", ") + name;
    r.fail("router", root["router"], "a router (" + names + ")");
  }
  if (c.router == "prefix-affinity" && !c.prefix_caching)
    r.fail("router", root["router"], "prefix_caching: true with prefix-affinity");
  if (latencies != "binned" && latencies != "exact")
    r.fail("latencies", root["latencies"], "binned or exact");
  c.latencies = latencies == "exact" ? serve::LatencyDistribution::Mode::kExact
                                     : serve::LatencyDistribution::Mode::kBinned;
  const std::filesystem::path fleet_path = std::filesystem::path(fleet).is_absolute()
                                               ? std::filesystem::path(fleet)
                                               : std::filesystem::path(path).parent_path() / fleet;
  c.fleet_file = fleet_path.string();
  c.pools = serve::load_fleet_file(c.fleet_file);
  for (const serve::PoolSpec& p : c.pools)
    if (p.instances % c.shards != 0)
      r.fail("shards", root["shards"],
             "a divisor of every pool's instances (" + c.fleet_file + " has a pool of " +
                 std::to_string(p.instances) + " x " + p.chip + ")");
  return c;
}

FleetSweep prepare_fleet_sweep(FleetSweepConfig config, const std::string& cost_cache_dir, int jobs,
                               const serve::CachedStepCost::Progress& progress) {
  FleetSweep s;
  s.config = std::move(config);
  s.model = llm::load_model_preset(s.config.model).config;
  serve::EngineOptions engine;
  engine.prefix_caching = s.config.prefix_caching;
  std::vector<serve::Pool> pools;
  for (const serve::PoolSpec& spec : s.config.pools) {
    const LoadedChip chip = load_chip(spec.chip, spec.overrides);
    std::string key = spec.chip;
    for (const std::string& o : spec.overrides) key += " " + o;
    key += " x" + std::to_string(spec.chips) + " tp " + std::to_string(spec.tensor_parallel()) +
           " ep " + std::to_string(spec.ep) + " batch " + std::to_string(spec.max_batch);
    auto it = s.costs.find(key);
    if (it == s.costs.end()) {
      serve::CostGridOptions grid;
      grid.decode_batch_max = spec.max_batch;
      it = s.costs
               .emplace(key, measure_step_costs(s.model, chip, spec.tensor_parallel(),
                                                spec.pipeline_stages(), spec.ep, grid,
                                                cost_cache_dir, jobs, progress))
               .first;
    }
    pools.push_back(serve::make_pool(spec, s.model, chip, it->second.cached.get(), engine));
  }
  s.pools = serve::shard_pools(pools, s.config.shards);
  s.options.slo_classes = {serve::SloClass{"default", s.config.slo.ttft, s.config.slo.tpot}};
  s.options.latencies = s.config.latencies;
  return s;
}

std::vector<int64_t> shards_of_rank(const FleetSweepConfig& config, int rank, int ranks) {
  std::vector<int64_t> mine;
  for (int64_t s = rank; s < config.shards; s += ranks) mine.push_back(s);
  return mine;
}

serve::ShardResult run_fleet_shard(const FleetSweep& sweep, int64_t shard) {
  std::unique_ptr<serve::RequestStream> trace;
  try {
    trace = serve::open_trace(sweep.config.trace,
                              {sweep.config.requests, 1, sweep.config.rate_scale, false});
  } catch (const InputError& e) {
    throw InputError(sweep.config.file + ": key 'trace': " + e.what());
  }
  return serve::run_shard(*trace, sweep.pools, sweep.config.router, sweep.options, shard,
                          sweep.config.shards);
}

json fleet_sweep_json(const FleetSweep& sweep, const serve::MergedShards& m) {
  const FleetSweepConfig& c = sweep.config;
  const serve::ServeReport& t = m.total;
  json pools = json::array();
  for (size_t i = 0; i < c.pools.size(); ++i) {
    const serve::PoolSpec& p = c.pools[i];
    const serve::ServeReport& r = m.pools.at(i);
    pools.push_back({{"chip", p.chip},
                     {"set", p.overrides},
                     {"chips", p.chips},
                     {"tp", p.tensor_parallel()},
                     {"ep", p.ep},
                     {"instances", p.instances},
                     {"scheduler", p.scheduler},
                     {"max_batch", p.max_batch},
                     {"role", p.role == serve::PoolRole::kPrefill  ? "prefill"
                              : p.role == serve::PoolRole::kDecode ? "decode"
                                                                   : "both"},
                     {"requests", figure(static_cast<double>(r.requests), "requests")},
                     {"finished", figure(static_cast<double>(r.finished), "requests")},
                     {"ttft", percentiles_json(r.ttft)},
                     {"tpot", percentiles_json(r.tpot)},
                     {"output_tokens_per_s", figure(r.output_tokens_per_s(), "tokens/s")},
                     {"busy", figure(r.utilization(), "ratio")},
                     {"energy_per_output_token", figure(r.joules_per_output_token(), "J/token")}});
  }
  return {
      {"sweep", c.file},
      {"model", c.model},
      {"trace", c.trace},
      {"requests_limit", c.requests},
      {"rate_scale", c.rate_scale},
      {"slo", {{"ttft_s", c.slo.ttft}, {"tpot_s", c.slo.tpot}, {"attainment", c.slo.attainment}}},
      {"fleet", c.fleet_file},
      {"pools", pools},
      {"shards", c.shards},
      {"router", c.router},
      {"prefix_caching", c.prefix_caching},
      {"latencies", c.latencies == serve::LatencyDistribution::Mode::kExact ? "exact" : "binned"},
      {"instances", m.instances},
      {"requests", figure(static_cast<double>(t.requests), "requests")},
      {"finished", figure(static_cast<double>(t.finished), "requests")},
      {"rejected", figure(static_cast<double>(t.rejected), "requests")},
      {"simulated", figure(t.makespan, "s")},
      {"ttft", percentiles_json(t.ttft)},
      {"tpot", percentiles_json(t.tpot)},
      {"max_tbt", percentiles_json(t.max_tbt)},
      {"e2e", percentiles_json(t.e2e)},
      {"output_tokens_per_s", figure(t.output_tokens_per_s(), "tokens/s")},
      {"goodput", figure(t.goodput(), "requests/s")},
      {"attainment",
       figure(t.finished ? static_cast<double>(t.good) / static_cast<double>(t.requests) : 0,
              "ratio")},
      {"busy", figure(t.utilization(), "ratio")},
      {"mean_batch", figure(t.mean_batch, "sequences")},
      {"prefill_tokens", figure(static_cast<double>(t.prefill_tokens), "tokens")},
      {"prefix_hit_tokens", figure(static_cast<double>(t.prefix_hit_tokens), "tokens")},
      {"energy_per_output_token", figure(t.joules_per_output_token(), "J/token")},
      {"steps", figure(static_cast<double>(t.steps), "steps")}};
}

}  // namespace seedchip::plan
