#include "plan/instance.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "arch/error.h"
#include "serve/fleet/fleet_config.h"

namespace seedchip::plan {
namespace {

// The load `w` offers and how the run `r` of it went.
LoadPoint load_point(const serve::Workload& w, double scale, const serve::ServeReport& r,
                     double idle_watts) {
  LoadPoint p;
  p.rate_scale = scale;
  const double span =
      w.requests.empty() ? 0 : w.requests.back().arrival - w.requests.front().arrival;
  double tokens = 0, output = 0;
  for (const serve::Request& q : w.requests) {
    tokens += static_cast<double>(q.prompt + q.output);
    output += static_cast<double>(q.output);
  }
  if (span > 0) {
    p.requests_per_s = static_cast<double>(w.requests.size()) / span;
    p.tokens_per_s = tokens / span;
    p.output_tokens_per_s = output / span;
  }
  p.attainment = r.requests ? static_cast<double>(r.good) / static_cast<double>(r.requests) : 0;
  p.ttft_p99 = r.ttft.p99;
  p.tpot_p99 = r.tpot.p99;
  p.watts = r.makespan > 0 ? (r.energy_busy + r.energy_idle) / r.makespan : idle_watts;
  return p;
}

// Bisects, in log scale, for the highest rate scale at which `run` (the report of `w` scaled to
// that rate) meets the SLO.
Capacity bisect(const serve::Workload& w, const Slo& slo, const CapacitySearch& search,
                double idle_watts,
                const std::function<serve::ServeReport(const serve::Workload&)>& run) {
  if (w.requests.size() < 2 || serve::mean_rate(w) <= 0)
    throw InputError("capacity search on " + w.name +
                     ": needs at least two requests arriving at different times");
  Capacity c;
  auto at = [&](double scale) {
    const serve::Workload scaled = serve::scale_rate(w, scale);
    c.curve.push_back(load_point(scaled, scale, run(scaled), idle_watts));
    return c.curve.back();
  };
  // Bracket [lo, hi): lo meets the SLO, hi does not.
  double lo = 1, hi = 1;
  LoadPoint p = at(1);
  if (p.meets(slo)) {
    c.met = true;
    c.best = p;
    while (hi < search.max_scale) {
      hi *= 2;
      const LoadPoint q = at(hi);
      if (!q.meets(slo)) break;
      lo = hi;
      c.best = q;
    }
  } else {
    c.best = p;
    while (lo > search.min_scale) {
      hi = lo;
      lo /= 2;
      const LoadPoint q = at(lo);
      c.best = q;
      if (q.meets(slo)) {
        c.met = true;
        break;
      }
    }
  }
  if (c.met) {
    while (hi / lo > search.resolution) {
      const double mid = std::sqrt(lo * hi);
      const LoadPoint q = at(mid);
      if (q.meets(slo)) {
        lo = mid;
        c.best = q;
      } else {
        hi = mid;
      }
    }
  }
  std::sort(c.curve.begin(), c.curve.end(),
            [](const LoadPoint& a, const LoadPoint& b) { return a.rate_scale < b.rate_scale; });
  return c;
}

// A file name for a cost identity: FNV-1a of the text (the identity itself is checked on reading).
std::string identity_file(const std::string& identity) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : identity) h = (h ^ ch) * 1099511628211ull;
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.json", static_cast<unsigned long long>(h));
  return name;
}

}  // namespace

Slo read_slo(YamlMapReader& file, const std::string& keys_listed_in) {
  Slo s;
  if (!file.has("slo")) return s;
  YamlMapReader slo = file.child("slo");
  s.ttft = slo.number("ttft_s", false, s.ttft, 1e-6, 1e6);
  s.tpot = slo.number("tpot_s", false, s.tpot, 1e-6, 1e6);
  s.attainment = slo.number("attainment", false, s.attainment, 0.01, 1);
  slo.reject_unknown_keys(keys_listed_in);
  return s;
}

std::string read_prices_path(YamlMapReader& file) {
  const std::string given = file.text("prices", false, "");
  if (given.empty()) return default_prices_path();
  if (std::filesystem::path(given).is_absolute()) return given;
  return (std::filesystem::path(file.file()).parent_path() / given).string();
}

Capacity find_capacity(const serve::Workload& w, const serve::StepCostModel& cost,
                       const std::string& scheduler, serve::EngineOptions options,
                       int64_t max_context, double idle_watts, const Slo& slo,
                       const CapacitySearch& search) {
  options.slo_ttft = slo.ttft;
  options.slo_tpot = slo.tpot;
  return bisect(w, slo, search, idle_watts, [&](const serve::Workload& scaled) {
    std::unique_ptr<serve::Scheduler> s = serve::make_scheduler(scheduler);
    return serve::run_engine(scaled, cost, *s, options, max_context, idle_watts);
  });
}

Capacity find_fleet_capacity(const serve::Workload& w, const std::vector<serve::Pool>& pools,
                             const std::string& router, const Slo& slo,
                             const CapacitySearch& search) {
  serve::FleetOptions options;
  options.slo_classes = {serve::SloClass{"default", slo.ttft, slo.tpot}};
  double idle_watts = 0;
  for (const serve::Pool& p : pools) idle_watts += p.idle_watts * static_cast<double>(p.instances);
  return bisect(w, slo, search, idle_watts, [&](const serve::Workload& scaled) {
    // A fresh router each run: a router may keep state from one request to the next.
    std::unique_ptr<serve::Router> r = serve::make_router(router);
    return serve::run_fleet(scaled, pools, *r, options).total;
  });
}

StepCosts measure_step_costs(const llm::LlamaConfig& model, const LoadedChip& chip, int64_t tp,
                             int64_t pp, int64_t ep, const serve::CostGridOptions& grid,
                             const std::string& cache_dir, int jobs,
                             const serve::CachedStepCost::Progress& progress) {
  StepCosts s;
  s.direct = serve::make_direct_cost(model, chip, tp, pp, ep);
  s.cached = std::make_unique<serve::CachedStepCost>(*s.direct, grid);
  std::string path;
  if (!cache_dir.empty()) {
    const std::string identity = serve::cost_identity(model, chip, tp, *s.direct, pp, ep);
    std::error_code error;
    std::filesystem::create_directories(cache_dir, error);
    if (error)
      throw InputError(cache_dir + ": cannot create the cost cache folder: " + error.message());
    path = (std::filesystem::path(cache_dir) / identity_file(identity)).string();
    for (const auto& [shape, step] : serve::load_cost_table(path, identity))
      s.cached->add_measured(shape, step);
    const size_t known = s.cached->measured().size();
    s.cached->measure(jobs, progress);
    s.measured_now = static_cast<int64_t>(s.cached->measured().size() - known);
    if (s.measured_now > 0) serve::save_cost_table(path, identity, s.cached->measured());
  } else {
    s.cached->measure(jobs, progress);
    s.measured_now = static_cast<int64_t>(s.cached->measured().size());
  }
  return s;
}

std::string InstanceShape::describe() const {
  std::string text = std::to_string(chips) + " x " + chip;
  for (const std::string& o : overrides) text += " [" + o + "]";
  if (tensor_parallel() < chips || ep > 1)
    text += " (" + serve::parallelism(chips, tensor_parallel(), ep) + ")";
  const std::string batch = ", batch <= " + std::to_string(max_batch);
  if (!disaggregated()) return text + ", " + scheduler + batch;
  return "disaggregated " + std::to_string(prefill_instances) + " prefill + " +
         std::to_string(decode_instances) + " decode x (" + text + ")" + batch;
}

FleetCost InstanceEvaluation::cost(const Prices& prices, double instances,
                                   double utilization) const {
  FleetCost f;
  const double chips = static_cast<double>(shape.unit_chips()) * instances;
  const double busy_watts = capacity.best.watts;
  f.average_watts = (idle_watts + (busy_watts - idle_watts) * utilization) * instances;
  const ChipCost one = chip_cost(prices);
  const YearlyCost per_chip = yearly_cost(prices, one, f.average_watts / chips);
  f.capex = one.capex() * chips;
  f.yearly = per_chip.total() * chips;
  f.depreciation = per_chip.depreciation * chips;
  f.operations = per_chip.operations * chips;
  f.electricity = per_chip.electricity * chips;
  return f;
}

double InstanceEvaluation::yuan_per_million_tokens(const Prices& prices, double utilization) const {
  const double tokens_per_year = capacity.best.tokens_per_s * utilization * kSecondsPerYear;
  return tokens_per_year > 0 ? cost(prices, 1, utilization).yearly / tokens_per_year * 1e6 : 0;
}

double InstanceEvaluation::tokens_per_s_per_watt() const {
  return capacity.best.watts > 0 ? capacity.best.tokens_per_s / capacity.best.watts : 0;
}

InstanceEvaluation evaluate_instance(const EvaluationInputs& in, const InstanceShape& shape,
                                     const Prices& prices, StepCostMemo* memo) {
  InstanceEvaluation e;
  e.shape = shape;
  e.chip = load_chip(shape.chip, shape.overrides);
  e.chip_cost(prices);  // no price for the chip: say so before minutes of simulation
  e.kv = serve::kv_pages_for(in.model, e.chip.config, shape.chips, in.engine.page_tokens);
  e.idle_watts = e.chip.config.power.idle_w * static_cast<double>(shape.unit_chips());
  serve::CostGridOptions grid = in.grid;
  grid.decode_batch_max = shape.max_batch;
  StepCostMemo local;
  StepCostMemo& costs = memo ? *memo : local;
  const int64_t tp = shape.tensor_parallel(), pp = shape.chips / tp;
  std::string key = shape.chip + "|" + std::to_string(shape.chips) + "|" + std::to_string(tp) +
                    "|" + std::to_string(shape.ep) + "|" + std::to_string(shape.max_batch);
  for (const std::string& o : shape.overrides) key += "|" + o;
  auto it = costs.find(key);
  if (it == costs.end())
    it = costs
             .emplace(key, measure_step_costs(in.model, e.chip, tp, pp, shape.ep, grid,
                                              in.cost_cache_dir, in.jobs, in.progress))
             .first;
  serve::PoolSpec spec;
  spec.chip = shape.chip;
  spec.overrides = shape.overrides;
  spec.chips = shape.chips;
  spec.tp = tp;
  spec.ep = shape.ep;
  spec.max_batch = shape.max_batch;
  spec.scheduler = shape.scheduler;
  if (!shape.disaggregated()) {
    const serve::Pool p =
        serve::make_pool(spec, in.model, e.chip, it->second.cached.get(), in.engine);
    e.capacity = find_capacity(in.workload, *p.cost, p.scheduler, p.engine, p.max_context,
                               p.idle_watts, in.slo);
    return e;
  }
  spec.instances = shape.prefill_instances;
  spec.role = serve::PoolRole::kPrefill;
  serve::PoolSpec decode = spec;
  decode.instances = shape.decode_instances;
  decode.role = serve::PoolRole::kDecode;
  const std::vector<serve::Pool> pools = {
      serve::make_pool(spec, in.model, e.chip, it->second.cached.get(), in.engine),
      serve::make_pool(decode, in.model, e.chip, it->second.cached.get(), in.engine)};
  e.capacity = find_fleet_capacity(in.workload, pools, kDisaggregatedRouter, in.slo);
  return e;
}

}  // namespace seedchip::plan
