// seedchip serve-sim: a trace-driven serving simulation of one model instance (serve/): the
// trace's requests through a continuous-batching engine whose every step is priced by the chip
// model, through a small table of measured steps.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "arch/error.h"
#include "llm/model_preset.h"
#include "serve/cost/cost.h"
#include "serve/engine/engine.h"
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
  int64_t chips = 1, tp = 0, limit = 0, consistency_samples = 4;
  int jobs = 0;
  double rate_scale = 1, time_scale = 1;
  bool offline = false;
  serve::EngineOptions engine;
  serve::CostGridOptions grid;
};

// The --report page: latency CDFs, utilization over time, and a throughput-latency curve from the
// same trace replayed at other rates (cheap: the steps are priced from the measured grid).
void write_serve_report(const std::string& dir, const std::string& title,
                        const serve::ServeReport& r, const serve::EngineOptions& options,
                        const serve::Workload& w, const serve::StepCostModel& cost,
                        const std::string& scheduler, int64_t max_context, double idle_watts,
                        nlohmann::json data) {
  std::vector<ReportSection> sections;
  auto latency_cdf = [](const std::string& name, const std::vector<double>& seconds) {
    Chart chart{name + " CDF", name + " (s)", "share of requests", true, false, true, {}};
    chart.series.push_back({name, cdf(seconds)});
    return svg_chart(chart);
  };
  sections.push_back({"Latency CDFs", latency_cdf("TTFT", r.ttft_samples) +
                                          latency_cdf("TPOT", r.tpot_samples) +
                                          latency_cdf("end-to-end latency", r.e2e_samples)});
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

  Chart ttft{"p99 TTFT against throughput",
             "output tokens/s",
             "p99 TTFT (s)",
             false,
             true,
             false,
             {{"p99 TTFT", {}}}};
  Chart tpot{"TPOT against throughput", "output tokens/s", "TPOT (s)", false, true, false,
             {{"p50", {}}, {"p99", {}}}};
  nlohmann::json curve = nlohmann::json::array();
  serve::EngineOptions quiet = options;
  quiet.keep_samples = false;
  quiet.timeline_interval = 0;
  quiet.progress = nullptr;
  for (const double scale : {0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0}) {
    std::unique_ptr<serve::Scheduler> s = serve::make_scheduler(scheduler);
    const serve::ServeReport q =
        serve::run_engine(serve::scale_rate(w, scale), cost, *s, quiet, max_context, idle_watts);
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
  sections.push_back({"Throughput against latency (the trace at 0.25x to 3x its rate)",
                      svg_chart(ttft) + svg_chart(tpot)});
  data["samples"] = {
      {"ttft_s", r.ttft_samples}, {"tpot_s", r.tpot_samples}, {"e2e_s", r.e2e_samples}};
  data["timeline"] = {{"interval_s", options.timeline_interval}, {"intervals", timeline}};
  data["throughput_latency"] = curve;
  write_html_report(dir, title, sections, data);
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void run_serve(ServeCommand c) {
  const auto start = std::chrono::steady_clock::now();
  const llm::ModelPreset preset = llm::load_model_preset(c.model);
  const LoadedChip chip = c.chip.load();
  if (c.tp == 0) c.tp = c.chips;
  if (c.tp != c.chips)
    throw InputError("--tp " + std::to_string(c.tp) + " differs from --chips " +
                     std::to_string(c.chips) +
                     ": an instance is one tensor-parallel group (pipeline and data parallelism "
                     "inside an instance are not modelled yet)");
  parse_slo(c.slo, c.engine.slo_ttft, c.engine.slo_tpot);
  std::unique_ptr<serve::Scheduler> scheduler = serve::make_scheduler(c.scheduler);

  serve::Workload w = serve::load_workload(c.trace);
  if (c.limit > 0) w = serve::first_requests(std::move(w), c.limit);
  w = serve::scale_rate(serve::scale_time(std::move(w), c.time_scale), c.rate_scale);
  if (c.offline) w = serve::offline(std::move(w));

  const serve::KvBudget kv =
      serve::kv_pages_for(preset.config, chip.config, c.chips, c.engine.page_tokens);
  c.engine.kv_pages = kv.pages;
  std::fprintf(stderr,
               "%s on %lld x %s (TP %lld), %zu requests of %s, scheduler %s; KV cache %.1f GB "
               "(%lld pages of %lld tokens)%s\n",
               preset.config.name.c_str(), static_cast<long long>(c.chips),
               chip.config.name.c_str(), static_cast<long long>(c.tp), w.requests.size(),
               w.name.c_str(), c.scheduler.c_str(), (kv.hbm_bytes - kv.weight_bytes) / 1e9,
               static_cast<long long>(kv.pages), static_cast<long long>(c.engine.page_tokens),
               c.engine.prefix_caching ? ", prefix caching" : "");

  // The step costs: the grid measured once (or read from --cost-table), then interpolated.
  const auto direct = serve::make_direct_cost(preset.config, chip, c.tp);
  c.grid.decode_batch_max = c.engine.max_batch;
  serve::CachedStepCost cost(*direct, c.grid);
  const std::string identity = serve::cost_identity(preset.config, chip, c.tp, *direct);
  if (!c.cost_table.empty())
    for (const auto& [shape, step] : serve::load_cost_table(c.cost_table, identity))
      cost.add_measured(shape, step);
  const size_t known = cost.measured().size();
  const auto measure_start = std::chrono::steady_clock::now();
  const int jobs = c.jobs > 0 ? c.jobs : static_cast<int>(std::thread::hardware_concurrency());
  auto progress = [](const char* what) {
    return [what](int64_t done, int64_t total, const serve::CostShape& shape) {
      std::fprintf(stderr, "%s %lld/%lld: %s\n", what, static_cast<long long>(done + 1),
                   static_cast<long long>(total), serve::describe(shape).c_str());
    };
  };
  // The consistency check's shapes are measured with the grid, so that every thread stays busy.
  std::vector<serve::CostShape> shapes = cost.grid_shapes();
  for (const serve::CostShape& s : serve::consistency_shapes(c.grid, c.consistency_samples, 1))
    shapes.push_back(s);
  cost.measure(shapes, jobs, progress("measuring step"));
  const serve::ConsistencyReport check = serve::check_consistency(
      cost, c.consistency_samples, /*seed=*/1, jobs, progress("consistency check, direct step"));
  const double measure_wall = seconds_since(measure_start);
  const int64_t measured_now = static_cast<int64_t>(cost.measured().size() - known);
  if (!c.cost_table.empty()) serve::save_cost_table(c.cost_table, identity, cost.measured());

  InterruptGuard guard([] {});
  const bool terminal = isatty(STDERR_FILENO);
  c.engine.keep_going = [] { return !InterruptGuard::interrupted(); };
  auto last = std::chrono::steady_clock::now();
  const size_t total = w.requests.size();
  c.engine.progress = [&](int64_t finished, double now) {
    if (!terminal || seconds_since(last) < 0.2) return;
    last = std::chrono::steady_clock::now();
    std::fprintf(stderr, "\rserving: %lld/%zu requests finished, %.1f s simulated (Ctrl-C stops)",
                 static_cast<long long>(finished), total, now);
  };
  if (!c.report.empty() && !w.requests.empty()) {
    c.engine.keep_samples = true;
    c.engine.timeline_interval =
        std::max(1e-3, (w.requests.back().arrival - w.requests.front().arrival) / 200);
  }
  const auto engine_start = std::chrono::steady_clock::now();
  const serve::ServeReport r =
      serve::run_engine(w, cost, *scheduler, c.engine, preset.config.seq_len,
                        chip.config.power.idle_w * static_cast<double>(c.chips));
  const double engine_wall = seconds_since(engine_start);
  end_progress();

  const bool gpu = chip.config.kind == "gpu";
  const std::string title = preset.config.name + " on " + std::to_string(c.chips) + " x " +
                            chip.config.name + " (TP " + std::to_string(c.tp) + "), " + w.name +
                            ", scheduler " + c.scheduler + (c.offline ? ", offline" : "") +
                            (c.engine.prefix_caching ? ", prefix caching" : "") +
                            (r.stopped ? " (stopped early)" : "");
  Report rep(title);
  rep.text("model", preset.config.name);
  rep.text("chip", chip.config.name);
  rep.text("trace", w.name);
  rep.text("scheduler", c.scheduler);
  rep.add("chips", "chips", static_cast<double>(c.chips), "chips");
  rep.add("requests.total", "requests in the trace", static_cast<double>(r.requests), "requests");
  rep.add("requests.finished", "requests finished", static_cast<double>(r.finished), "requests");
  rep.add("requests.rejected", "requests rejected (too long)", static_cast<double>(r.rejected),
          "requests");
  rep.add("time.simulated", "simulated time", r.makespan, "s");
  auto pct = [&](const std::string& key, const std::string& label, const serve::Percentiles& p,
                 double scale, const std::string& unit) {
    rep.add(key + ".p50", label + " p50", p.p50 * scale, unit);
    rep.add(key + ".p90", label + " p90", p.p90 * scale, unit);
    rep.add(key + ".p99", label + " p99", p.p99 * scale, unit);
    rep.add(key + ".mean", label + " mean", p.mean * scale, unit);
  };
  pct("ttft", "TTFT", r.ttft, 1e3, "ms");
  pct("tpot", "TPOT", r.tpot, 1e3, "ms");
  pct("e2e", "end-to-end latency", r.e2e, 1, "s");
  rep.add("throughput.requests", "throughput", r.requests_per_s(), "requests/s");
  rep.add("throughput.output_tokens", "output tokens/s", r.output_tokens_per_s(), "tokens/s");
  rep.add("throughput.output_tokens_per_chip", "output tokens/s per chip",
          r.output_tokens_per_s() / static_cast<double>(c.chips), "tokens/s");
  rep.add("slo.ttft", "SLO: TTFT at most", c.engine.slo_ttft * 1e3, "ms");
  rep.add("slo.tpot", "SLO: TPOT at most", c.engine.slo_tpot * 1e3, "ms");
  rep.add("goodput", "goodput (requests meeting the SLO)", r.goodput(), "requests/s");
  rep.add("slo.attainment", "finished requests meeting the SLO",
          r.finished ? static_cast<double>(r.good) / static_cast<double>(r.finished) : 0, "ratio");
  rep.add("utilization.busy", "busy (fraction of time running steps)", r.utilization(), "ratio");
  rep.add("utilization.mean_batch", "mean batch (sequences per step, time-weighted)", r.mean_batch,
          "sequences");
  rep.add("steps", "engine steps", static_cast<double>(r.steps), "steps");
  rep.add("tokens.prefill", "prefill tokens (recomputation included)",
          static_cast<double>(r.prefill_tokens), "tokens");
  rep.add("tokens.prompt", "prompt tokens (finished requests)",
          static_cast<double>(r.prompt_tokens), "tokens");
  rep.add("tokens.output", "output tokens", static_cast<double>(r.output_tokens), "tokens");
  if (c.engine.prefix_caching) {
    rep.add("prefix_cache.hit_tokens", "prefix cache: prompt tokens served from it",
            static_cast<double>(r.prefix_hit_tokens), "tokens");
    rep.add("prefix_cache.hit_ratio", "prefix cache: hit ratio (of prompt tokens)",
            r.prefix_hit_ratio(), "ratio");
    // The bound: every block of an earlier request still cached and ready when a request comes.
    rep.add("prefix_cache.trace_reuse", "prefix cache: reuse the trace implies (unbounded)",
            serve::prefix_reuse(w, c.engine.prefix_block).ratio(), "ratio");
    rep.add("prefix_cache.evicted_blocks", "prefix cache: blocks evicted",
            static_cast<double>(r.prefix_evicted_blocks), "blocks");
  }
  rep.add("preemptions", "preemptions (recompute)", static_cast<double>(r.preemptions),
          "preemptions");
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
  rep.add("cost_model.measured_now", "steps measured in this run",
          static_cast<double>(measured_now), "steps");
  rep.add("cost_model.consistency.samples", "consistency check: random steps",
          static_cast<double>(check.samples), "steps");
  rep.add("cost_model.consistency.mean_error", "consistency: mean |cached - direct| / direct",
          check.mean_error, "ratio");
  rep.add("cost_model.consistency.max_error", "consistency: max error", check.max_error, "ratio");
  if (!check.worst.empty()) rep.text("consistency_worst", check.worst);
  rep.add("wall.cost_model", "wall time, measuring steps", measure_wall, "s");
  rep.add("wall.engine", "wall time, serving simulation", engine_wall, "s");
  rep.add("wall.total", "wall time, total", seconds_since(start), "s");
  rep.print();
  if (!c.json.empty()) write_json(c.json, rep.json(), &chip);
  if (!c.report.empty()) {
    write_serve_report(c.report, title, r, c.engine, w, cost, c.scheduler, preset.config.seq_len,
                       chip.config.power.idle_w * static_cast<double>(c.chips), rep.json());
    std::printf("report: %s/index.html\n", c.report.c_str());
  }
}

}  // namespace

void register_serve(CLI::App& app) {
  auto c = std::make_shared<ServeCommand>();
  CLI::App* cmd = app.add_subcommand(
      "serve-sim", "trace-driven serving simulation of one model instance on a group of chips");
  cmd->add_option("--model", c->model, "model shape preset or preset YAML file")->required();
  c->chip.add_to(*cmd);
  cmd->add_option("--chips", c->chips, "chips of the instance")->default_val(1);
  cmd->add_option("--tp", c->tp, "tensor parallelism (default: --chips)");
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
  cmd->add_option("--scheduler", c->scheduler, names)->default_val(c->scheduler);
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
  cmd->callback([c] { run_serve(*c); });
}

}  // namespace seedchip::tools
