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
#include "tools/report.h"

namespace seedchip::tools {
namespace {

struct ServeCommand {
  std::string model, trace, scheduler = "continuous", slo = "ttft=2s,tpot=200ms", json, cost_table;
  ChipOptions chip;
  int64_t chips = 1, tp = 0, limit = 0, consistency_samples = 4;
  int jobs = 0;
  double rate_scale = 1, time_scale = 1;
  bool offline = false;
  serve::EngineOptions engine;
  serve::CostGridOptions grid;
};

// "2s", "200ms", "500us" in seconds.
double parse_duration(const std::string& text, const std::string& what) {
  size_t end = 0;
  double v = 0;
  try {
    v = std::stod(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  const std::string unit = text.substr(end);
  const double scale = unit == "s" ? 1 : unit == "ms" ? 1e-3 : unit == "us" ? 1e-6 : 0;
  if (end == 0 || scale == 0 || !(v > 0))
    throw InputError("--slo " + what +
                     ": expected a positive duration with a unit (s, ms, us), "
                     "got '" +
                     text + "'");
  return v * scale;
}

// "ttft=2s,tpot=200ms" into the engine's SLO.
void parse_slo(const std::string& text, serve::EngineOptions& o) {
  size_t at = 0;
  while (at <= text.size()) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    if (eq == std::string::npos || (key != "ttft" && key != "tpot"))
      throw InputError("--slo: expected ttft=DURATION and/or tpot=DURATION, got '" + item + "'");
    (key == "ttft" ? o.slo_ttft : o.slo_tpot) = parse_duration(item.substr(eq + 1), key);
    at = comma + 1;
  }
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
  parse_slo(c.slo, c.engine);
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
               "(%lld pages of %lld tokens)\n",
               preset.config.name.c_str(), static_cast<long long>(c.chips),
               chip.config.name.c_str(), static_cast<long long>(c.tp), w.requests.size(),
               w.name.c_str(), c.scheduler.c_str(), (kv.hbm_bytes - kv.weight_bytes) / 1e9,
               static_cast<long long>(kv.pages), static_cast<long long>(c.engine.page_tokens));

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
  cost.measure(jobs, progress("measuring grid step"));
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
  const auto engine_start = std::chrono::steady_clock::now();
  const serve::ServeReport r =
      serve::run_engine(w, cost, *scheduler, c.engine, preset.config.seq_len,
                        chip.config.power.idle_w * static_cast<double>(c.chips));
  const double engine_wall = seconds_since(engine_start);
  end_progress();

  const bool gpu = chip.config.kind == "gpu";
  Report rep(preset.config.name + " on " + std::to_string(c.chips) + " x " + chip.config.name +
             " (TP " + std::to_string(c.tp) + "), " + w.name + ", scheduler " + c.scheduler +
             (c.offline ? ", offline" : "") + (r.stopped ? " (stopped early)" : ""));
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
  rep.add("tokens.output", "output tokens", static_cast<double>(r.output_tokens), "tokens");
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
                      "Mooncake JSONL (.jsonl: timestamp ms, input_length, output_length)")
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
  cmd->callback([c] { run_serve(*c); });
}

}  // namespace seedchip::tools
