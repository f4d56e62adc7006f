// seedchip serve-sim: a trace-driven serving simulation (serve/): the trace's requests through a
// continuous-batching engine whose every step is priced by the chip model, through a small table
// of measured steps; one instance, or a fleet of instances behind a router (serve/fleet).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "arch/error.h"
#include "llm/model_preset.h"
#include "serve/cost/cost.h"
#include "serve/engine/engine.h"
#include "serve/fleet/fleet.h"
#include "serve/fleet/fleet_config.h"
#include "serve/workload/workload.h"
#include "tools/common.h"
#include "tools/html_report.h"
#include "tools/report.h"

namespace seedchip::tools {
namespace {

struct ServeCommand {
  std::string model, trace, scheduler = "continuous", slo = "ttft=2s,tpot=200ms", json, cost_table,
                            report;
  ChipOptions chip;
  int64_t chips = 1, tp = 0, ep = 1, limit = 0, consistency_samples = 4;
  // A fleet: --instances, --router, --fleet, --slo-class (any of them).
  int64_t instances = 1;
  int64_t prefill_instances = 0;  // --scheduler disaggregated: 0 = half of --instances, rounded up
  std::string router, fleet;
  std::vector<std::string> slo_classes;
  std::vector<std::string> pool_options;  // the one-pool options given (they conflict with --fleet)
  int jobs = 0;
  double rate_scale = 1, time_scale = 1;
  bool offline = false;
  bool stream = false;  // --stream: draw the trace as the run goes, latencies binned
  serve::EngineOptions engine;
  serve::CostGridOptions grid;
};

// A distribution's values for a CDF: every one when exact, else its quantiles at 0, 0.001, ..., 1
// (a sample of the same distribution, to the bins' accuracy).
std::vector<double> plotted(const serve::LatencyDistribution& d) {
  if (d.mode() == serve::LatencyDistribution::Mode::kExact) return d.values();
  std::vector<double> q;
  if (d.count() == 0) return q;
  for (int i = 0; i <= 1000; ++i) q.push_back(d.quantile(i / 1000.0));
  return q;
}

// The report's CDFs of TTFT, TPOT and end-to-end latency (keep_samples).
ReportSection latency_cdfs(const serve::ServeReport& r) {
  auto chart = [](const std::string& name, const serve::LatencyDistribution& seconds) {
    Chart c{name + " CDF", name + " (s)", "share of requests", true, false, true, {}};
    c.series.push_back({name, cdf(plotted(seconds))});
    return svg_chart(c);
  };
  return {"Latency CDFs", chart("TTFT", r.ttft_samples) + chart("TPOT", r.tpot_samples) +
                              chart("end-to-end latency", r.e2e_samples)};
}

// The values behind the CDFs: every one, or (binned) the quantiles at 0, 0.001, ..., 1.
void add_samples(nlohmann::json& data, const serve::ServeReport& r) {
  const bool exact = r.ttft_samples.mode() == serve::LatencyDistribution::Mode::kExact;
  data[exact ? "samples" : "quantiles"] = {{"ttft_s", plotted(r.ttft_samples)},
                                           {"tpot_s", plotted(r.tpot_samples)},
                                           {"e2e_s", plotted(r.e2e_samples)}};
}

// The report's throughput-latency section: the run replayed at each of `scales` times the trace's
// rate (a stopped replay, on Ctrl-C, ends the curve), and in `curve` the figures behind it.
ReportSection throughput_latency(const std::vector<double>& scales,
                                 const std::function<serve::ServeReport(double)>& replay,
                                 nlohmann::json& curve) {
  Chart ttft{"p99 TTFT against throughput",
             "output tokens/s",
             "p99 TTFT (s)",
             false,
             true,
             false,
             {{"p99 TTFT", {}}}};
  Chart tpot{"TPOT against throughput", "output tokens/s", "TPOT (s)", false, true, false,
             {{"p50", {}}, {"p99", {}}}};
  for (const double scale : scales) {
    const serve::ServeReport q = replay(scale);
    if (q.stopped) break;
    ttft.series[0].points.emplace_back(q.output_tokens_per_s(), q.ttft.p99);
    tpot.series[0].points.emplace_back(q.output_tokens_per_s(), q.tpot.p50);
    tpot.series[1].points.emplace_back(q.output_tokens_per_s(), q.tpot.p99);
    curve.push_back({{"rate_scale", scale},
                     {"output_tokens_per_s", q.output_tokens_per_s()},
                     {"ttft_p99_s", q.ttft.p99},
                     {"tpot_p50_s", q.tpot.p50},
                     {"tpot_p99_s", q.tpot.p99},
                     {"goodput_requests_per_s", q.goodput()}});
  }
  char heading[96];
  std::snprintf(heading, sizeof heading,
                "Throughput against latency (the trace at %gx to %gx its rate)", scales.front(),
                scales.back());
  return {heading, svg_chart(ttft) + svg_chart(tpot)};
}

// The --report page: latency CDFs, utilization over time, and a throughput-latency curve from the
// same trace replayed at other rates (cheap: the steps are priced from the measured grid).
// `arrivals(x)` draws the run's requests again at x times their rate.
void write_serve_report(
    const std::string& dir, const std::string& title, const serve::ServeReport& r,
    const serve::EngineOptions& options,
    const std::function<std::unique_ptr<serve::RequestStream>(double)>& arrivals,
    const serve::StepCostModel& cost, const std::string& scheduler, int64_t max_context,
    double idle_watts, nlohmann::json data) {
  std::vector<ReportSection> sections = {latency_cdfs(r)};
  Chart busy{"Utilization over time",
             "simulated time (s)",
             "share of time running steps",
             false,
             false,
             false,
             {{"busy", {}}}};
  Chart batch{
      "Batch over time", "simulated time (s)", "mean sequences per step", false, false, false,
      {{"batch", {}}}};
  nlohmann::json timeline = nlohmann::json::array();
  for (size_t i = 0; i < r.timeline.size(); ++i) {
    const double t = static_cast<double>(i) * options.timeline_interval;
    const auto& b = r.timeline[i];
    busy.series[0].points.emplace_back(t, b.busy / options.timeline_interval);
    batch.series[0].points.emplace_back(t, b.busy > 0 ? b.batch_seconds / b.busy : 0);
    timeline.push_back({{"start_s", t},
                        {"busy", b.busy / options.timeline_interval},
                        {"mean_batch", b.busy > 0 ? b.batch_seconds / b.busy : 0}});
  }
  sections.push_back({"Utilization", svg_chart(busy) + svg_chart(batch)});

  serve::EngineOptions quiet = options;
  quiet.keep_samples = false;
  quiet.timeline_interval = 0;
  quiet.progress = nullptr;
  nlohmann::json curve = nlohmann::json::array();
  sections.push_back(throughput_latency(
      {0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0},
      [&](double scale) {
        std::unique_ptr<serve::Scheduler> s = serve::make_scheduler(scheduler);
        const std::unique_ptr<serve::RequestStream> scaled = arrivals(scale);
        return serve::run_engine(*scaled, cost, *s, quiet, max_context, idle_watts);
      },
      curve));
  add_samples(data, r);
  data["timeline"] = {{"interval_s", options.timeline_interval}, {"intervals", timeline}};
  data["throughput_latency"] = curve;
  write_html_report(dir, title, sections, data);
}

// ", prefill" or ", decode" for a pool of a disaggregated fleet.
std::string role_note(serve::PoolRole role) {
  return role == serve::PoolRole::kPrefill  ? ", prefill"
         : role == serve::PoolRole::kDecode ? ", decode"
                                            : "";
}

// The --report page of a fleet: latency CDFs, each instance's busy share and output tokens by
// pool, and a throughput-latency curve from the same fleet at other rates (fresh instances and
// router for each).
void write_fleet_report(
    const std::string& dir, const std::string& title, const serve::FleetReport& f,
    const std::vector<serve::Pool>& pools, const std::string& router,
    const std::function<std::unique_ptr<serve::RequestStream>(double)>& arrivals,
    serve::FleetOptions options, nlohmann::json data) {
  std::vector<ReportSection> sections = {latency_cdfs(f.total)};
  Chart busy{"Busy share of each instance",
             "instance",
             "share of time running steps",
             false,
             false,
             false,
             {}};
  StackedBars tokens{"Output tokens/s by pool", "output tokens/s", {"output tokens/s"}, {}};
  nlohmann::json instances = nlohmann::json::array();
  size_t i = 0;
  for (size_t p = 0; p < pools.size(); ++p) {
    const std::string name =
        "pool " + std::to_string(p) + ": " + f.pools[p].name + role_note(f.pools[p].role);
    ChartSeries series{name, {}};
    for (int64_t k = 0; k < pools[p].instances; ++k, ++i) {
      const serve::ServeReport& r = f.instances[i];
      series.points.emplace_back(static_cast<double>(i), r.utilization());
      instances.push_back({{"pool", p},
                           {"busy", r.utilization()},
                           {"finished", r.finished},
                           {"output_tokens_per_s", r.output_tokens_per_s()}});
    }
    busy.series.push_back(std::move(series));
    tokens.groups.push_back({name, {f.pools[p].total.output_tokens_per_s()}});
  }
  sections.push_back({"Instances", svg_chart(busy) + svg_stacked_bars(tokens)});

  options.keep_samples = false;
  options.progress = nullptr;
  nlohmann::json curve = nlohmann::json::array();
  sections.push_back(throughput_latency(
      {0.25, 0.5, 1.0, 1.5, 2.0, 3.0},
      [&](double scale) {
        const std::unique_ptr<serve::RequestStream> scaled = arrivals(scale);
        const std::unique_ptr<serve::Router> r = serve::make_router(router);
        return serve::run_fleet(*scaled, pools, *r, options).total;
      },
      curve));
  add_samples(data, f.total);
  data["instances"] = instances;
  data["throughput_latency"] = curve;
  write_html_report(dir, title, sections, data);
}

void add_percentiles(Report& rep, const std::string& key, const std::string& label,
                     const serve::Percentiles& p, double scale, const std::string& unit,
                     bool mean = true) {
  rep.add(key + ".p50", label + " p50", p.p50 * scale, unit);
  rep.add(key + ".p90", label + " p90", p.p90 * scale, unit);
  rep.add(key + ".p99", label + " p99", p.p99 * scale, unit);
  if (mean) rep.add(key + ".mean", label + " mean", p.mean * scale, unit);
}

// What one instance and a fleet report alike: requests, latencies and throughput.
void add_latency_figures(Report& rep, const serve::ServeReport& r, double chips) {
  rep.add("requests.total", "requests in the trace", static_cast<double>(r.requests), "requests");
  rep.add("requests.finished", "requests finished", static_cast<double>(r.finished), "requests");
  rep.add("requests.rejected", "requests rejected (too long)", static_cast<double>(r.rejected),
          "requests");
  rep.add("time.simulated", "simulated time", r.makespan, "s");
  add_percentiles(rep, "ttft", "TTFT", r.ttft, 1e3, "ms");
  add_percentiles(rep, "tpot", "TPOT", r.tpot, 1e3, "ms");
  add_percentiles(rep, "max_tbt", "longest time between tokens", r.max_tbt, 1e3, "ms");
  add_percentiles(rep, "e2e", "end-to-end latency", r.e2e, 1, "s");
  rep.add("throughput.requests", "throughput", r.requests_per_s(), "requests/s");
  rep.add("throughput.output_tokens", "output tokens/s", r.output_tokens_per_s(), "tokens/s");
  rep.add("throughput.output_tokens_per_chip", "output tokens/s per chip",
          r.output_tokens_per_s() / chips, "tokens/s");
}

// Tokens, the prefix cache and preemptions; `reuse_note` qualifies the reuse the trace implies.
// `w` is null for a streamed trace: the reuse it implies needs every request.
void add_token_figures(Report& rep, const serve::ServeReport& r, const serve::Workload* w,
                       const serve::EngineOptions& engine, const std::string& reuse_note) {
  rep.add("tokens.prefill", "prefill tokens (recomputation included)",
          static_cast<double>(r.prefill_tokens), "tokens");
  rep.add("tokens.prompt", "prompt tokens (finished requests)",
          static_cast<double>(r.prompt_tokens), "tokens");
  rep.add("tokens.output", "output tokens", static_cast<double>(r.output_tokens), "tokens");
  if (engine.prefix_caching) {
    rep.add("prefix_cache.hit_tokens", "prefix cache: prompt tokens served from it",
            static_cast<double>(r.prefix_hit_tokens), "tokens");
    rep.add("prefix_cache.hit_ratio", "prefix cache: hit ratio (of prompt tokens)",
            r.prefix_hit_ratio(), "ratio");
    // The bound: every block of an earlier request still cached and ready when a request comes.
    if (w)
      rep.add("prefix_cache.trace_reuse",
              "prefix cache: reuse the trace implies (" + reuse_note + ")",
              serve::prefix_reuse(*w, engine.prefix_block).ratio(), "ratio");
    rep.add("prefix_cache.evicted_blocks", "prefix cache: blocks evicted",
            static_cast<double>(r.prefix_evicted_blocks), "blocks");
  }
  rep.add("preemptions", "preemptions (recompute)", static_cast<double>(r.preemptions),
          "preemptions");
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The step costs of one instance shape: the grid measured once (or read from `table`), then
// interpolated, with the consistency check against the direct model.
struct MeasuredCost {
  std::unique_ptr<serve::StepCostModel> direct;
  std::unique_ptr<serve::CachedStepCost> cached;  // prices through `direct`
  serve::ConsistencyReport check;
  int64_t measured_now = 0;  // steps measured in this run
  double wall = 0;           // seconds measuring
};

MeasuredCost measure_cost(const llm::LlamaConfig& model, const LoadedChip& chip, int64_t tp,
                          int64_t pp, int64_t ep, const serve::CostGridOptions& grid,
                          const std::string& table, int64_t consistency_samples, int jobs) {
  MeasuredCost m;
  m.direct = serve::make_direct_cost(model, chip, tp, pp, ep);
  m.cached = std::make_unique<serve::CachedStepCost>(*m.direct, grid);
  serve::CachedStepCost& cost = *m.cached;
  const std::string identity = serve::cost_identity(model, chip, tp, *m.direct, pp, ep);
  if (!table.empty())
    for (const auto& [shape, step] : serve::load_cost_table(table, identity))
      cost.add_measured(shape, step);
  const size_t known = cost.measured().size();
  const auto measure_start = std::chrono::steady_clock::now();
  if (jobs <= 0) jobs = static_cast<int>(std::thread::hardware_concurrency());
  auto progress = [](const char* what) {
    return [what](int64_t done, int64_t total, const serve::CostShape& shape) {
      std::fprintf(stderr, "%s %lld/%lld: %s\n", what, static_cast<long long>(done + 1),
                   static_cast<long long>(total), serve::describe(shape).c_str());
    };
  };
  // The consistency check's shapes are measured with the grid, so that every thread stays busy.
  std::vector<serve::CostShape> shapes = cost.grid_shapes();
  for (const serve::CostShape& s : serve::consistency_shapes(grid, consistency_samples, 1))
    shapes.push_back(s);
  cost.measure(shapes, jobs, progress("measuring step"));
  m.check = serve::check_consistency(cost, consistency_samples, /*seed=*/1, jobs,
                                     progress("consistency check, direct step"));
  m.wall = seconds_since(measure_start);
  m.measured_now = static_cast<int64_t>(cost.measured().size() - known);
  if (!table.empty()) serve::save_cost_table(table, identity, cost.measured());
  return m;
}

void add_cost_figures(Report& rep, const std::string& prefix, const std::string& label,
                      const MeasuredCost& m) {
  rep.add(prefix + "measured_now", label + "steps measured in this run",
          static_cast<double>(m.measured_now), "steps");
  rep.add(prefix + "consistency.samples", label + "consistency check: random steps",
          static_cast<double>(m.check.samples), "steps");
  rep.add(prefix + "consistency.mean_error", label + "consistency: mean |cached - direct| / direct",
          m.check.mean_error, "ratio");
  rep.add(prefix + "consistency.max_error", label + "consistency: max error", m.check.max_error,
          "ratio");
}

// The run's requests: the trace read whole and transformed, or (--stream) drawn record by record
// as the run goes, so that its length does not bound memory.
class Arrivals {
 public:
  // `rules`: the SLO classes to assign (none: every request keeps class 0).
  explicit Arrivals(const ServeCommand& c, std::vector<serve::SloRule> rules = {})
      : trace_(c.trace),
        options_{c.limit, c.time_scale, c.rate_scale, c.offline},
        rules_(std::move(rules)) {
    if (c.stream) {
      open();  // bad options and an unreadable file fail now, before anything is measured
      return;
    }
    serve::Workload w = serve::load_workload(c.trace);
    if (c.limit > 0) w = serve::first_requests(std::move(w), c.limit);
    w = serve::scale_rate(serve::scale_time(std::move(w), c.time_scale), c.rate_scale);
    if (c.offline) w = serve::offline(std::move(w));
    if (!rules_.empty()) serve::assign_slo_classes(w, rules_);
    whole_ = std::move(w);
  }
  // The requests at `rate` times the run's rate.
  std::unique_ptr<serve::RequestStream> open(double rate = 1) const {
    if (whole_)
      return std::make_unique<serve::WorkloadStream>(*whole_, serve::StreamOptions{0, 1, rate});
    serve::StreamOptions o = options_;
    o.rate_scale *= rate;
    std::unique_ptr<serve::RequestStream> s = serve::open_trace(trace_, o);
    if (rules_.empty()) return s;
    return std::make_unique<serve::ClassifiedStream>(std::move(s), rules_);
  }
  const serve::Workload* whole() const { return whole_ ? &*whole_ : nullptr; }
  std::string name() const { return whole_ ? whole_->name : trace_; }
  std::string count_text() const {
    return whole_ ? std::to_string(whole_->requests.size()) + " requests" : "the requests";
  }
  std::string of_total() const {  // "/N" after a count of finished requests
    return whole_ ? "/" + std::to_string(whole_->requests.size()) : "";
  }
  // Seconds from the first arrival to the last (a streamed trace is read through once for it).
  double span() const {
    if (whole_) return whole_->requests.empty() ? 0 : whole_->requests.back().arrival;
    const std::unique_ptr<serve::RequestStream> s = open();
    double last = 0;
    for (serve::Request q; s->next(q);) last = q.arrival;
    return last;
  }

 private:
  std::string trace_;
  serve::StreamOptions options_;
  std::vector<serve::SloRule> rules_;
  std::optional<serve::Workload> whole_;
};

// --tp: a divisor of --chips; the instance pipelines its layers over the chips / tp groups. --ep:
// a divisor of the TP group (the experts' divisibility is the cost model's to check).
void check_tp(const ServeCommand& c) {
  if (c.tp < 1 || c.chips % c.tp != 0)
    throw InputError("--tp " + std::to_string(c.tp) + ": expected a divisor of --chips " +
                     std::to_string(c.chips) + " (the instance's chips / TP are pipeline stages)");
  if (c.ep < 1 || c.tp % c.ep != 0)
    throw InputError("--ep " + std::to_string(c.ep) + ": expected a divisor of the TP group of " +
                     std::to_string(c.tp) + " chips");
}

// Not an engine scheduler: a fleet whose prefill and decode run on separate pools of instances.
constexpr const char* kDisaggregated = "disaggregated";

void run_fleet_command(ServeCommand c);

void run_serve(ServeCommand c) {
  if (c.instances > 1 || !c.router.empty() || !c.fleet.empty() || !c.slo_classes.empty() ||
      c.scheduler == kDisaggregated)
    return run_fleet_command(std::move(c));
  const auto start = std::chrono::steady_clock::now();
  const llm::ModelPreset preset = llm::load_model_preset(c.model);
  const LoadedChip chip = c.chip.load();
  if (c.tp == 0) c.tp = c.chips;
  check_tp(c);
  const int64_t pp = c.chips / c.tp;
  parse_slo(c.slo, c.engine.slo_ttft, c.engine.slo_tpot);
  std::unique_ptr<serve::Scheduler> scheduler = serve::make_scheduler(c.scheduler);
  const Arrivals arrivals(c);
  if (c.stream) c.engine.latencies = serve::LatencyDistribution::Mode::kBinned;

  const serve::KvBudget kv =
      serve::kv_pages_for(preset.config, chip.config, c.chips, c.engine.page_tokens);
  c.engine.kv_pages = kv.pages;
  std::fprintf(stderr,
               "%s on %lld x %s (%s), %s of %s, scheduler %s; KV cache %.1f GB "
               "(%lld pages of %lld tokens)%s\n",
               preset.config.name.c_str(), static_cast<long long>(c.chips),
               chip.config.name.c_str(), serve::parallelism(c.chips, c.tp, c.ep).c_str(),
               arrivals.count_text().c_str(), arrivals.name().c_str(), c.scheduler.c_str(),
               (kv.hbm_bytes - kv.weight_bytes) / 1e9, static_cast<long long>(kv.pages),
               static_cast<long long>(c.engine.page_tokens),
               c.engine.prefix_caching ? ", prefix caching" : "");

  // The step costs: the grid measured once (or read from --cost-table), then interpolated.
  c.grid.decode_batch_max = c.engine.max_batch;
  const MeasuredCost measured = measure_cost(preset.config, chip, c.tp, pp, c.ep, c.grid,
                                             c.cost_table, c.consistency_samples, c.jobs);
  const serve::CachedStepCost& cost = *measured.cached;

  InterruptGuard guard([] {});
  const bool terminal = isatty(STDERR_FILENO);
  c.engine.keep_going = [] { return !InterruptGuard::interrupted(); };
  auto last = std::chrono::steady_clock::now();
  c.engine.progress = [&](int64_t finished, double now) {
    if (!terminal || seconds_since(last) < 0.2) return;
    last = std::chrono::steady_clock::now();
    std::fprintf(stderr, "\rserving: %lld%s requests finished, %.1f s simulated (Ctrl-C stops)",
                 static_cast<long long>(finished), arrivals.of_total().c_str(), now);
  };
  if (!c.report.empty()) {
    c.engine.keep_samples = true;
    c.engine.timeline_interval = std::max(1e-3, arrivals.span() / 200);
  }
  const auto engine_start = std::chrono::steady_clock::now();
  const std::unique_ptr<serve::RequestStream> stream = arrivals.open();
  const serve::ServeReport r =
      serve::run_engine(*stream, cost, *scheduler, c.engine, preset.config.seq_len,
                        chip.config.power.idle_w * static_cast<double>(c.chips));
  const double engine_wall = seconds_since(engine_start);
  end_progress();

  const bool gpu = chip.config.kind == "gpu";
  const std::string title = preset.config.name + " on " + std::to_string(c.chips) + " x " +
                            chip.config.name + " (" + serve::parallelism(c.chips, c.tp, c.ep) +
                            "), " + arrivals.name() + (c.stream ? ", streamed" : "") +
                            ", scheduler " + c.scheduler + (c.offline ? ", offline" : "") +
                            (c.engine.prefix_caching ? ", prefix caching" : "") +
                            (r.stopped ? " (stopped early)" : "");
  Report rep(title);
  rep.text("model", preset.config.name);
  rep.text("chip", chip.config.name);
  rep.text("trace", arrivals.name());
  rep.text("scheduler", c.scheduler);
  rep.add("chips", "chips", static_cast<double>(c.chips), "chips");
  add_latency_figures(rep, r, static_cast<double>(c.chips));
  rep.add("slo.ttft", "SLO: TTFT at most", c.engine.slo_ttft * 1e3, "ms");
  rep.add("slo.tpot", "SLO: TPOT at most", c.engine.slo_tpot * 1e3, "ms");
  rep.add("goodput", "goodput (requests meeting the SLO)", r.goodput(), "requests/s");
  rep.add("slo.attainment", "finished requests meeting the SLO",
          r.finished ? static_cast<double>(r.good) / static_cast<double>(r.finished) : 0, "ratio");
  rep.add("utilization.busy", "busy (fraction of time running steps)", r.utilization(), "ratio");
  rep.add("utilization.mean_batch", "mean batch (sequences per step, time-weighted)", r.mean_batch,
          "sequences");
  rep.add("steps", "engine steps", static_cast<double>(r.steps), "steps");
  add_token_figures(rep, r, arrivals.whole(), c.engine, "unbounded");
  rep.add("kv.capacity", "KV cache capacity",
          static_cast<double>(r.kv_pages * c.engine.page_tokens), "tokens");
  rep.add("kv.peak", "KV cache peak use",
          static_cast<double>(r.kv_peak_pages) / static_cast<double>(r.kv_pages), "ratio");
  const std::string energy_note = gpu ? " (estimate: TDP x busy + idle)" : "";
  rep.add("energy.per_output_token", "energy per output token" + energy_note,
          r.joules_per_output_token(), "J/token");
  rep.add("energy.busy", "energy, steps", r.energy_busy, "J");
  rep.add("energy.idle", "energy, idle", r.energy_idle, "J");
  rep.text("cost_method", cost.method());
  add_cost_figures(rep, "cost_model.", "", measured);
  if (!measured.check.worst.empty()) rep.text("consistency_worst", measured.check.worst);
  rep.add("wall.cost_model", "wall time, measuring steps", measured.wall, "s");
  rep.add("wall.engine", "wall time, serving simulation", engine_wall, "s");
  rep.add("wall.total", "wall time, total", seconds_since(start), "s");
  rep.print();
  if (!c.json.empty()) write_json(c.json, rep.json(), &chip);
  if (!c.report.empty()) {
    write_serve_report(
        c.report, title, r, c.engine, [&](double scale) { return arrivals.open(scale); }, cost,
        c.scheduler, preset.config.seq_len, chip.config.power.idle_w * static_cast<double>(c.chips),
        rep.json());
    std::printf("report: %s/index.html\n", c.report.c_str());
  }
}

// A table file per cost model when a fleet has several: FILE.json -> FILE.h200-x8.json.
std::string table_for(const std::string& table, const std::string& chip, int64_t chips,
                      bool several) {
  if (table.empty() || !several) return table;
  const size_t dot = table.find_last_of('.');
  const size_t slash = table.find_last_of('/');
  const std::string tag = "." + chip + "-x" + std::to_string(chips);
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return table + tag;
  return table.substr(0, dot) + tag + table.substr(dot);
}

void run_fleet_command(ServeCommand c) {
  const auto start = std::chrono::steady_clock::now();
  if (!c.fleet.empty() && !c.pool_options.empty())
    throw InputError("--fleet: the pools come from the file; drop " + c.pool_options.front());
  if (c.tp != 0 || c.ep != 1) {
    if (c.tp == 0) c.tp = c.chips;
    check_tp(c);
  }
  const std::string router_name = c.router.empty() ? "round-robin" : c.router;
  std::unique_ptr<serve::Router> router = serve::make_router(router_name);
  if (router_name == "prefix-affinity" && !c.engine.prefix_caching)
    throw InputError(
        "--router prefix-affinity: needs --prefix-caching (without it no instance "
        "caches a prefix)");
  const llm::ModelPreset preset = llm::load_model_preset(c.model);
  parse_slo(c.slo, c.engine.slo_ttft, c.engine.slo_tpot);
  const serve::SloClass defaults{"default", c.engine.slo_ttft, c.engine.slo_tpot};

  serve::FleetOptions options;
  std::vector<serve::SloRule> rules;
  for (const std::string& text : c.slo_classes)
    rules.push_back(serve::parse_slo_rule(text, defaults));
  options.slo_classes.clear();
  for (const serve::SloRule& r : rules) options.slo_classes.push_back(r.slo);
  if (rules.empty()) options.slo_classes = {defaults};
  if (c.stream) options.latencies = serve::LatencyDistribution::Mode::kBinned;
  const Arrivals arrivals(c, std::move(rules));

  std::vector<serve::PoolSpec> specs;
  if (!c.fleet.empty()) {
    specs = serve::load_fleet_file(c.fleet);
  } else {
    serve::PoolSpec s;
    s.chip = c.chip.preset;
    s.overrides = c.chip.overrides;
    s.chips = c.chips;
    s.tp = c.tp;
    s.ep = c.ep;
    s.instances = c.instances;
    s.scheduler = c.scheduler;
    s.max_batch = c.engine.max_batch;
    if (c.scheduler == kDisaggregated) {
      // Prefill instances hand each sequence, with its KV, to a decode instance after its first
      // token; both pools batch continuously.
      const int64_t prefill = c.prefill_instances > 0 ? c.prefill_instances : (c.instances + 1) / 2;
      if (c.instances < 2 || prefill >= c.instances)
        throw InputError(
            "--scheduler disaggregated: needs --instances of at least 2 and fewer "
            "--prefill-instances than --instances (got " +
            std::to_string(c.instances) + " instances, " + std::to_string(prefill) +
            " for prefill)");
      s.scheduler = "continuous";
      serve::PoolSpec decode = s;
      s.instances = prefill;
      s.role = serve::PoolRole::kPrefill;
      decode.instances = c.instances - prefill;
      decode.role = serve::PoolRole::kDecode;
      specs = {s, decode};
    } else {
      serve::make_scheduler(s.scheduler);  // an unknown name fails before anything is measured
      specs.push_back(s);
    }
  }

  // Pools of one chip configuration on as many chips share a cost model, measured over the
  // largest batch among them.
  std::vector<LoadedChip> chips;
  std::vector<std::string> identities;
  std::map<std::string, int64_t> batch_max;
  for (const serve::PoolSpec& s : specs) {
    chips.push_back(load_chip(s.chip, s.overrides));
    const auto direct = serve::make_direct_cost(preset.config, chips.back(), s.tensor_parallel(),
                                                s.pipeline_stages(), s.ep);
    identities.push_back(serve::cost_identity(preset.config, chips.back(), s.tensor_parallel(),
                                              *direct, s.pipeline_stages(), s.ep));
    batch_max[identities.back()] = std::max(batch_max[identities.back()], s.max_batch);
  }
  std::map<std::string, MeasuredCost> costs;
  std::vector<std::string> cost_order;  // first use
  std::vector<serve::Pool> pools;
  int64_t total_instances = 0, total_chips = 0;
  for (size_t i = 0; i < specs.size(); ++i) {
    const serve::PoolSpec& s = specs[i];
    const LoadedChip& chip = chips[i];
    const serve::KvBudget kv =
        serve::kv_pages_for(preset.config, chip.config, s.chips, c.engine.page_tokens);
    if (!costs.contains(identities[i])) {
      serve::CostGridOptions grid = c.grid;
      grid.decode_batch_max = batch_max[identities[i]];
      costs.emplace(
          identities[i],
          measure_cost(preset.config, chip, s.tensor_parallel(), s.pipeline_stages(), s.ep, grid,
                       table_for(c.cost_table, chip.config.name, s.chips, batch_max.size() > 1),
                       c.consistency_samples, c.jobs));
      cost_order.push_back(identities[i]);
    }
    pools.push_back(
        serve::make_pool(s, preset.config, chip, costs.at(identities[i]).cached.get(), c.engine));
    total_instances += s.instances;
    total_chips += s.instances * s.chips;
    std::fprintf(stderr,
                 "pool %zu: %lld x (%s on %lld x %s), scheduler %s%s, max batch %lld; KV cache "
                 "%.1f GB per instance (%lld pages of %lld tokens)%s\n",
                 i, static_cast<long long>(s.instances), preset.config.name.c_str(),
                 static_cast<long long>(s.chips), chip.config.name.c_str(), s.scheduler.c_str(),
                 role_note(s.role).c_str(), static_cast<long long>(s.max_batch),
                 (kv.hbm_bytes - kv.weight_bytes) / 1e9, static_cast<long long>(kv.pages),
                 static_cast<long long>(c.engine.page_tokens),
                 c.engine.prefix_caching ? ", prefix caching" : "");
  }
  std::fprintf(stderr, "%s of %s through %lld instances, router %s\n",
               arrivals.count_text().c_str(), arrivals.name().c_str(),
               static_cast<long long>(total_instances), router_name.c_str());

  InterruptGuard guard([] {});
  const bool terminal = isatty(STDERR_FILENO);
  options.keep_going = [] { return !InterruptGuard::interrupted(); };
  auto last = std::chrono::steady_clock::now();
  options.progress = [&](int64_t finished, double now) {
    if (!terminal || seconds_since(last) < 0.2) return;
    last = std::chrono::steady_clock::now();
    std::fprintf(stderr, "\rserving: %lld%s requests finished, %.1f s simulated (Ctrl-C stops)",
                 static_cast<long long>(finished), arrivals.of_total().c_str(), now);
  };
  const auto engine_start = std::chrono::steady_clock::now();
  options.keep_samples = !c.report.empty();
  const std::unique_ptr<serve::RequestStream> stream = arrivals.open();
  const serve::FleetReport f = serve::run_fleet(*stream, pools, *router, options);
  const double engine_wall = seconds_since(engine_start);
  end_progress();

  const serve::ServeReport& r = f.total;
  std::string title = preset.config.name + " on a fleet of";
  for (size_t i = 0; i < specs.size(); ++i)
    title += std::string(i ? " +" : "") + " " + std::to_string(specs[i].instances) + " x (" +
             pools[i].name + ", " + specs[i].scheduler + role_note(specs[i].role) + ")";
  title += ", router " + router_name + ", " + arrivals.name() + (c.stream ? ", streamed" : "") +
           (c.offline ? ", offline" : "") + (c.engine.prefix_caching ? ", prefix caching" : "") +
           (r.stopped ? " (stopped early)" : "");
  Report rep(title);
  rep.text("model", preset.config.name);
  rep.text("trace", arrivals.name());
  rep.text("router", router_name);
  for (size_t i = 0; i < specs.size(); ++i)
    rep.text("pool" + std::to_string(i), std::to_string(specs[i].instances) + " x " +
                                             pools[i].name + role_note(specs[i].role) +
                                             ", scheduler " + specs[i].scheduler + ", max batch " +
                                             std::to_string(specs[i].max_batch));
  rep.add("instances", "instances", static_cast<double>(total_instances), "instances");
  rep.add("chips", "chips", static_cast<double>(total_chips), "chips");
  add_latency_figures(rep, r, static_cast<double>(total_chips));
  rep.add("goodput", "goodput (requests meeting their class's SLO)", r.goodput(), "requests/s");
  rep.add("slo.attainment", "finished requests meeting their SLO",
          r.finished ? static_cast<double>(r.good) / static_cast<double>(r.finished) : 0, "ratio");
  if (c.slo_classes.empty()) {
    rep.add("slo.ttft", "SLO: TTFT at most", defaults.ttft * 1e3, "ms");
    rep.add("slo.tpot", "SLO: TPOT at most", defaults.tpot * 1e3, "ms");
  }
  for (const serve::ClassReport& k :
       c.slo_classes.empty() ? std::vector<serve::ClassReport>{} : f.classes) {
    const std::string key = "classes." + k.slo.name, label = "class " + k.slo.name + ": ";
    rep.add(key + ".slo.ttft", label + "SLO TTFT at most", k.slo.ttft * 1e3, "ms");
    rep.add(key + ".slo.tpot", label + "SLO TPOT at most", k.slo.tpot * 1e3, "ms");
    rep.add(key + ".requests", label + "requests", static_cast<double>(k.requests), "requests");
    rep.add(key + ".finished", label + "finished", static_cast<double>(k.finished), "requests");
    rep.add(key + ".goodput", label + "goodput", k.goodput, "requests/s");
    rep.add(key + ".attainment", label + "finished meeting the SLO",
            k.finished ? static_cast<double>(k.good) / static_cast<double>(k.finished) : 0,
            "ratio");
    add_percentiles(rep, key + ".ttft", label + "TTFT", k.ttft, 1e3, "ms", false);
    add_percentiles(rep, key + ".tpot", label + "TPOT", k.tpot, 1e3, "ms", false);
  }
  rep.add("utilization.busy", "busy (mean over instances of the time running steps)",
          r.utilization(), "ratio");
  rep.add("utilization.mean_batch", "mean batch (sequences per step, time-weighted)", r.mean_batch,
          "sequences");
  rep.add("steps", "engine steps (all instances)", static_cast<double>(r.steps), "steps");
  add_token_figures(rep, r, arrivals.whole(), c.engine, "unbounded, one cache");
  if (f.kv_transfers > 0) {
    rep.add("kv_transfers.count", "sequences moved with their KV, prefill to decode",
            static_cast<double>(f.kv_transfers), "sequences");
    rep.add("kv_transfers.seconds.p50", "KV transfer time p50", f.kv_transfer_seconds.p50 * 1e3,
            "ms");
    rep.add("kv_transfers.seconds.p99", "KV transfer time p99", f.kv_transfer_seconds.p99 * 1e3,
            "ms");
  }
  rep.add("kv.capacity", "KV cache capacity (all instances)",
          static_cast<double>(r.kv_pages * c.engine.page_tokens), "tokens");
  rep.add("kv.peak", "KV cache peak use (sum of each instance's peak)",
          static_cast<double>(r.kv_peak_pages) / static_cast<double>(r.kv_pages), "ratio");
  const bool gpu = std::any_of(chips.begin(), chips.end(),
                               [](const LoadedChip& chip) { return chip.config.kind == "gpu"; });
  const std::string energy_note = gpu ? " (GPU pools estimated: TDP x busy + idle)" : "";
  rep.add("energy.per_output_token", "energy per output token" + energy_note,
          r.joules_per_output_token(), "J/token");
  rep.add("energy.busy", "energy, steps", r.energy_busy, "J");
  rep.add("energy.idle", "energy, idle", r.energy_idle, "J");
  if (f.pools.size() > 1)
    for (size_t i = 0; i < f.pools.size(); ++i) {
      const serve::ServeReport& p = f.pools[i].total;
      const std::string key = "pools." + std::to_string(i),
                        label = "pool " + std::to_string(i) + " (" + f.pools[i].name +
                                role_note(f.pools[i].role) + "): ";
      rep.add(key + ".requests", label + "requests taken", static_cast<double>(p.requests),
              "requests");
      rep.add(key + ".finished", label + "finished", static_cast<double>(p.finished), "requests");
      if (p.finished > 0) {  // latencies count where a request finishes
        add_percentiles(rep, key + ".ttft", label + "TTFT", p.ttft, 1e3, "ms", false);
        add_percentiles(rep, key + ".tpot", label + "TPOT", p.tpot, 1e3, "ms", false);
      }
      rep.add(key + ".throughput.output_tokens", label + "output tokens/s", p.output_tokens_per_s(),
              "tokens/s");
      rep.add(key + ".goodput", label + "goodput", p.goodput(), "requests/s");
      rep.add(key + ".utilization", label + "busy (mean over its instances)", p.utilization(),
              "ratio");
      rep.add(key + ".tokens.prefill", label + "prefill tokens",
              static_cast<double>(p.prefill_tokens), "tokens");
      rep.add(key + ".energy.per_output_token", label + "energy per output token",
              p.joules_per_output_token(), "J/token");
    }
  double measure_wall = 0;
  for (size_t k = 0; k < cost_order.size(); ++k) {
    const MeasuredCost& m = costs.at(cost_order[k]);
    const bool one = cost_order.size() == 1;
    const std::string tag = one ? "" : std::to_string(k);
    rep.text(one ? "cost_method" : "cost_method" + tag, m.cached->method());
    add_cost_figures(rep, one ? "cost_model." : "cost_model." + tag + ".",
                     one ? "" : "cost model " + tag + ": ", m);
    if (!m.check.worst.empty())
      rep.text(one ? "consistency_worst" : "consistency_worst" + tag, m.check.worst);
    measure_wall += m.wall;
  }
  rep.add("wall.cost_model", "wall time, measuring steps", measure_wall, "s");
  rep.add("wall.engine", "wall time, serving simulation", engine_wall, "s");
  rep.add("wall.total", "wall time, total", seconds_since(start), "s");
  rep.print();
  if (!c.json.empty()) write_json(c.json, rep.json(), chips.size() == 1 ? &chips.front() : nullptr);
  if (!c.report.empty()) {
    write_fleet_report(
        c.report, title, f, pools, router_name, [&](double scale) { return arrivals.open(scale); },
        options, rep.json());
    std::printf("report: %s/index.html\n", c.report.c_str());
  }
}

}  // namespace

void register_serve(CLI::App& app) {
  auto c = std::make_shared<ServeCommand>();
  CLI::App* cmd = app.add_subcommand(
      "serve-sim",
      "trace-driven serving simulation of one model instance on a group of chips, or of a fleet "
      "of instances behind a router");
  cmd->add_option("--model", c->model, "model shape preset or preset YAML file")->required();
  c->chip.add_to(*cmd);
  cmd->add_option("--chips", c->chips, "chips of the instance")->default_val(1);
  cmd->add_option("--tp", c->tp, "tensor parallelism (default: --chips)");
  cmd->add_option("--ep", c->ep,
                  "expert parallelism within each TP group (mixtures of experts; a divisor of "
                  "--tp and of the experts)")
      ->default_val(1);
  std::string traces;
  for (const std::string& n : serve::builtin_traces()) traces += (traces.empty() ? "" : "|") + n;
  cmd->add_option("--trace", c->trace,
                  traces +
                      ", or a file: Azure CSV (TIMESTAMP,ContextTokens,GeneratedTokens) or "
                      "Mooncake JSONL (.jsonl: timestamp ms, input_length, output_length, "
                      "optional hash_ids)")
      ->required();
  cmd->add_option("--rate-scale", c->rate_scale, "multiply the arrival rate")->default_val(1);
  cmd->add_option("--time-scale", c->time_scale, "multiply the arrival times")->default_val(1);
  cmd->add_option("--limit", c->limit, "serve only the first N requests (0: all)")->default_val(0);
  std::string names;
  for (const auto& [n, info] : serve::schedulers())
    names += (names.empty() ? "" : "; ") + n + ": " + info.description;
  names += std::string("; ") + kDisaggregated +
           ": a fleet of --instances, --prefill-instances of them (default half) prefilling and "
           "handing each sequence with its KV over the chip links to the others, which decode";
  cmd->add_option("--scheduler", c->scheduler, names)->default_val(c->scheduler);
  cmd->add_option("--prefill-instances", c->prefill_instances,
                  "with --scheduler disaggregated: instances that prefill (0: half, rounded up)")
      ->default_val(0);
  cmd->add_option("--slo", c->slo, "latency objectives of a good request")->default_val(c->slo);
  cmd->add_option("--max-batch", c->engine.max_batch, "sequences running at once")
      ->default_val(c->engine.max_batch);
  cmd->add_option("--token-budget", c->engine.token_budget,
                  "tokens per step: chunked's budget, continuous's prefill batch (tokens)")
      ->default_val(c->engine.token_budget);
  cmd->add_option("--page-tokens", c->engine.page_tokens, "KV cache page size (tokens)")
      ->default_val(c->engine.page_tokens);
  cmd->add_flag(
      "--prefix-caching", c->engine.prefix_caching,
      "keep computed prompt blocks in the KV cache and share them with later requests "
      "that start with the same blocks (the trace's hash_ids; Mooncake traces have them)");
  cmd->add_option("--prefix-block", c->engine.prefix_block,
                  "tokens per block of the trace's hash_ids, a multiple of --page-tokens (tokens)")
      ->default_val(c->engine.prefix_block);
  cmd->add_flag("--stream", c->stream,
                "draw the trace record by record as the run goes (a trace of any length in "
                "bounded memory; it must be in arrival order); percentiles then come from "
                "logarithmic bins, within 0.5%");
  cmd->add_flag("--offline", c->offline,
                "every request arrives at time 0: maximum throughput (MLPerf's offline scenario)");
  cmd->add_option("--cost-table", c->cost_table,
                  "JSON file of measured steps: read when it matches this model, chip and TP, "
                  "written after measuring");
  cmd->add_option("--jobs", c->jobs, "threads measuring steps (0: one per core)")->default_val(0);
  cmd->add_option("--consistency-samples", c->consistency_samples,
                  "random steps priced both cached and directly (0: no check)")
      ->default_val(c->consistency_samples);
  cmd->add_option("--json", c->json, "write every figure with its unit as JSON");
  cmd->add_option(
      "--report", c->report,
      "write a self-contained HTML page with the plots (DIR/index.html, DIR/data.json)");
  cmd->add_option("--instances", c->instances,
                  "identical instances of --chips x --chip behind --router (a fleet)")
      ->default_val(c->instances)
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  std::string router_names;
  for (const auto& [n, info] : serve::routers())
    router_names += (router_names.empty() ? "" : "; ") + n + ": " + info.description;
  cmd->add_option("--router", c->router,
                  "how a fleet routes each request (default round-robin): " + router_names);
  cmd->add_option(
      "--fleet", c->fleet,
      "YAML file of pools of instances (chip, set, chips, tp, ep, instances, scheduler, "
      "max_batch, role: both, or prefill / decode for a disaggregated fleet; see "
      "serve/fleet/fleet_config.h), instead of --chip, --set, --chips, --instances, "
      "--scheduler and --max-batch");
  cmd->add_option("--slo-class", c->slo_classes,
                  "a class of requests with its own SLO, NAME:ITEM,... where an ITEM is "
                  "ttft=DURATION, tpot=DURATION (left out: --slo's) or a condition on prompt or "
                  "output tokens (prompt>4096, output<=8); repeat for each class; a request "
                  "belongs to the last class whose conditions it meets");
  cmd->callback([c, cmd] {
    for (const char* o : {"--chip", "--set", "--chips", "--instances", "--scheduler", "--max-batch",
                          "--tp", "--ep"})
      if (cmd->count(o) > 0) c->pool_options.push_back(o);
    run_serve(*c);
  });
}

}  // namespace seedchip::tools
