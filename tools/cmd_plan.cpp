// seedchip plan and seedchip sensitivity (plan/): how many chips of each type serve a demand within
// the SLO and the budget, and which uncertain parameters move one instance's headline results.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <thread>

#include "arch/error.h"
#include "llm/model_preset.h"
#include "plan/planner.h"
#include "plan/sensitivity.h"
#include "tools/common.h"
#include "tools/html_report.h"

namespace seedchip::tools {
namespace {

using nlohmann::json;

// `path` relative to the working folder when it lies below it: reports read the same anywhere.
std::string shown(const std::string& path) {
  std::error_code error;
  const auto relative = std::filesystem::relative(path, error);
  const std::string text = relative.string();
  return error || text.empty() || text.rfind("..", 0) == 0 ? path : text;
}

int default_jobs(int jobs) {
  return jobs > 0 ? jobs : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

serve::CachedStepCost::Progress grid_progress() {
  return [](int64_t done, int64_t total, const serve::CostShape& shape) {
    std::fprintf(stderr, "  measuring step %lld/%lld: %s\n", static_cast<long long>(done + 1),
                 static_cast<long long>(total), serve::describe(shape).c_str());
  };
}

std::string percent(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "%+.1f%%", ratio * 100);
  return text;
}

// --- seedchip plan -------------------------------------------------------------------------------

struct PlanCommand {
  std::string plan, json, cost_cache, report;
  int jobs = 0;
};

json load_point_json(const plan::LoadPoint& p) {
  return {{"rate_scale", p.rate_scale},
          {"requests_per_s", figure(p.requests_per_s, "requests/s")},
          {"tokens_per_s", figure(p.tokens_per_s, "tokens/s")},
          {"attainment", figure(p.attainment, "ratio")},
          {"ttft_p99", figure(p.ttft_p99, "s")},
          {"tpot_p99", figure(p.tpot_p99, "s")},
          {"watts", figure(p.watts, "W")}};
}

// The plan's plots: yearly cost by part, cost against the SLO, and each shape's latency against
// load (the loads its capacity search tried).
std::vector<ReportSection> plan_report_sections(const plan::PlanResult& r) {
  std::vector<ReportSection> sections;
  StackedBars costs{
      "Yearly cost by part", "yuan/year", {"depreciation", "operations", "electricity"}, {}};
  for (const plan::MixPart& p : r.mix.parts)
    costs.groups.push_back(
        {"mix: " + p.chip, {p.fleet.depreciation, p.fleet.operations, p.fleet.electricity}});
  for (const plan::ShapeResult& s : r.shapes)
    costs.groups.push_back({s.evaluation.shape.describe() + " alone",
                            {s.fleet.depreciation, s.fleet.operations, s.fleet.electricity}});
  sections.push_back({"Cost breakdown", svg_stacked_bars(costs)});

  Chart slo{"Cost against the SLO (both targets scaled)",
            "TPOT target (ms)",
            "yuan per million tokens",
            false,
            false,
            false,
            {}};
  ChartSeries mix{"cheapest mix", {}};
  std::map<std::string, ChartSeries> alone;
  for (const plan::SloPoint& p : r.slo_curve) {
    const double tpot_ms = r.config.slo.tpot * p.scale * 1e3;
    if (p.met) mix.points.emplace_back(tpot_ms, p.yuan_per_million_tokens);
    for (const auto& [chip, cost] : p.by_chip) {
      alone[chip].name = chip + " alone";
      alone[chip].points.emplace_back(tpot_ms, cost);
    }
  }
  slo.series.push_back(mix);
  for (auto& [chip, series] : alone) slo.series.push_back(series);
  sections.push_back({"Cost against the SLO", svg_chart(slo)});

  Chart ttft{"p99 TTFT against load",
             "offered load (tokens/s per instance)",
             "p99 TTFT (s)",
             false,
             true,
             false,
             {}};
  Chart tpot{"p99 TPOT against load",
             "offered load (tokens/s per instance)",
             "p99 TPOT (s)",
             false,
             true,
             false,
             {}};
  Chart attainment{"Requests meeting the SLO against load",
                   "offered load (tokens/s per instance)",
                   "share of requests",
                   false,
                   false,
                   false,
                   {}};
  for (const plan::ShapeResult& s : r.shapes) {
    ChartSeries a{s.evaluation.shape.describe(), {}}, b = a, g = a;
    for (const plan::LoadPoint& p : s.evaluation.capacity.curve) {
      a.points.emplace_back(p.tokens_per_s, p.ttft_p99);
      b.points.emplace_back(p.tokens_per_s, p.tpot_p99);
      g.points.emplace_back(p.tokens_per_s, p.attainment);
    }
    ttft.series.push_back(a);
    tpot.series.push_back(b);
    attainment.series.push_back(g);
  }
  sections.push_back(
      {"Latency against load", svg_chart(ttft) + svg_chart(tpot) + svg_chart(attainment)});
  return sections;
}

void run_plan_command(const PlanCommand& c) {
  const auto start = std::chrono::steady_clock::now();
  const plan::PlanConfig config = plan::load_plan(c.plan);
  plan::EvaluationInputs in;
  in.model = llm::load_model_preset(config.model).config;
  in.workload = serve::load_workload(config.trace);
  if (config.requests > 0)
    in.workload = serve::first_requests(std::move(in.workload), config.requests);
  in.cost_cache_dir = c.cost_cache;
  in.jobs = default_jobs(c.jobs);
  in.progress = grid_progress();
  std::fprintf(stderr, "plan %s: %s, %zu requests of %s, %zu candidate shapes\n",
               config.file.c_str(), in.model.name.c_str(), in.workload.requests.size(),
               in.workload.name.c_str(), config.shapes.size());
  const plan::PlanResult r = plan::run_plan(config, in, [](const std::string& what) {
    std::fprintf(stderr, "evaluating %s\n", what.c_str());
  });

  const plan::Demand& d = config.demand;
  std::printf("Plan: %s serving %s, SLO TTFT %g s / TPOT %g s for %g%% of requests\n",
              config.file.c_str(), config.model.c_str(), config.slo.ttft, config.slo.tpot,
              config.slo.attainment * 100);
  std::printf(
      "Demand: peak %.4g tokens/s, mean %.4g tokens/s (%.4g tokens/day); budget %.4g "
      "yuan/year; prices %s\n\n",
      d.peak_tokens_per_s, d.mean_tokens_per_s, d.mean_tokens_per_s * 86400,
      config.budget_yuan_per_year, shown(r.prices.file).c_str());
  // An instance, or a disaggregated unit of prefill and decode instances.
  int shape_width = 30;
  for (const plan::ShapeResult& s : r.shapes)
    shape_width = std::max(shape_width, static_cast<int>(s.evaluation.shape.describe().size()));
  std::printf("%-*s %12s %10s %12s %14s %14s %10s %9s  %s\n", shape_width,
              "instance shape (alone at peak)", "tok/s/unit", "units", "chips", "capex (yuan)",
              "yuan/year", "yuan/Mtok", "tok/s/W", "export class");
  json shapes = json::array();
  for (const plan::ShapeResult& s : r.shapes) {
    const plan::InstanceEvaluation& e = s.evaluation;
    const double chips = s.instances * static_cast<double>(e.shape.unit_chips());
    std::printf("%-*s %12.0f %10.0f %12.0f %14.4g %14.4g %10.3f %9.3f  %s\n", shape_width,
                e.shape.describe().c_str(), e.capacity.best.tokens_per_s, s.instances, chips,
                s.fleet.capex, s.fleet.yearly, s.yuan_per_million_tokens, e.tokens_per_s_per_watt(),
                s.export_class.c_str());
    json curve = json::array();
    for (const plan::LoadPoint& p : e.capacity.curve) curve.push_back(load_point_json(p));
    shapes.push_back({{"shape", e.shape.describe()},
                      {"chip", e.shape.chip},
                      {"chips_per_instance", e.shape.chips},
                      {"tp", e.shape.tensor_parallel()},
                      {"ep", e.shape.ep},
                      {"scheduler", e.shape.scheduler},
                      {"max_batch", e.shape.max_batch},
                      {"prefill_instances", e.shape.prefill_instances},
                      {"decode_instances", e.shape.decode_instances},
                      {"chips_per_unit", e.shape.unit_chips()},
                      {"capacity", load_point_json(e.capacity.best)},
                      {"instances", figure(s.instances, "instances")},
                      {"chips", figure(chips, "chips")},
                      {"capex", figure(s.fleet.capex, "yuan")},
                      {"yearly", figure(s.fleet.yearly, "yuan/year")},
                      {"yuan_per_million_tokens", figure(s.yuan_per_million_tokens, "yuan/Mtoken")},
                      {"tokens_per_s_per_watt", figure(e.tokens_per_s_per_watt(), "tokens/s/W")},
                      {"chip_capex", figure(e.chip_cost(r.prices).capex(), "yuan")},
                      {"export_class", s.export_class},
                      {"latency_vs_load", curve}});
  }

  std::printf("\nCheapest mix%s:\n",
              config.min_spend_share.empty() ? "" : " respecting min_spend_share");
  json parts = json::array();
  for (const plan::MixPart& p : r.mix.parts) {
    std::printf(
        "  %-12s %5.1f%% of peak: %8.0f instances of %s = %.0f chips; capex %.4g yuan, "
        "%.4g yuan/year (%.1f%% of spend)\n",
        p.chip.c_str(), p.peak_share * 100, p.instances,
        p.shape->evaluation.shape.describe().c_str(), p.chips, p.fleet.capex, p.fleet.yearly,
        p.fleet.yearly / r.mix.yearly * 100);
    parts.push_back({{"chip", p.chip},
                     {"shape", p.shape->evaluation.shape.describe()},
                     {"peak_share", figure(p.peak_share, "ratio")},
                     {"instances", figure(p.instances, "instances")},
                     {"chips", figure(p.chips, "chips")},
                     {"capex", figure(p.fleet.capex, "yuan")},
                     {"yearly", figure(p.fleet.yearly, "yuan/year")},
                     {"average_watts", figure(p.fleet.average_watts, "W")}});
  }
  std::printf(
      "  total: capex %.4g yuan, %.4g yuan/year, %.3f yuan per million tokens; budget "
      "%.4g yuan/year: %s\n",
      r.mix.capex, r.mix.yearly, r.mix.yuan_per_million_tokens, config.budget_yuan_per_year,
      r.mix.within_budget ? "within" : "EXCEEDED");
  if (!r.mix.within_budget)
    std::printf("  the budget serves the peak short of %.4g tokens/s at these costs\n",
                r.shortfall_tokens_per_s);

  std::printf("\nSensitivity of the mix's yuan per million tokens (-20%% / +20%%):\n");
  json sensitivity = json::array();
  for (const plan::PlanSensitivity& s : r.sensitivity) {
    std::printf("  %-28s %8s %8s\n", s.input.c_str(), percent(s.minus).c_str(),
                percent(s.plus).c_str());
    sensitivity.push_back({{"input", s.input},
                           {"minus_20", figure(s.minus, "ratio")},
                           {"plus_20", figure(s.plus, "ratio")}});
  }
  json slo_curve = json::array();
  if (r.slo_curve.size() > 1) {
    std::printf("\nCost vs SLO (both latency targets scaled):\n");
    for (const plan::SloPoint& p : r.slo_curve) {
      std::printf("  SLO x%-5g TTFT %6.3g s, TPOT %6.3g s: ", p.scale, config.slo.ttft * p.scale,
                  config.slo.tpot * p.scale);
      if (!p.met)
        std::printf("no mix meets it");
      else
        std::printf("mix %.3f yuan/Mtok", p.yuan_per_million_tokens);
      json by_chip = json::object();
      for (const auto& [chip, cost] : p.by_chip) {
        std::printf("; %s alone %.3f", chip.c_str(), cost);
        by_chip[chip] = figure(cost, "yuan/Mtoken");
      }
      std::printf("\n");
      slo_curve.push_back(
          {{"scale", p.scale},
           {"ttft", figure(config.slo.ttft * p.scale, "s")},
           {"tpot", figure(config.slo.tpot * p.scale, "s")},
           {"met", p.met},
           {"mix_yuan_per_million_tokens", figure(p.yuan_per_million_tokens, "yuan/Mtoken")},
           {"by_chip", by_chip}});
    }
  }
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\nwall time %.1f s\n", wall);
  if (!c.json.empty() || !c.report.empty()) {
    json out = {{"plan", config.file},
                {"model", config.model},
                {"trace", in.workload.name},
                {"requests", in.workload.requests.size()},
                {"demand",
                 {{"peak_tokens_per_s", figure(d.peak_tokens_per_s, "tokens/s")},
                  {"mean_tokens_per_s", figure(d.mean_tokens_per_s, "tokens/s")}}},
                {"slo",
                 {{"ttft", figure(config.slo.ttft, "s")},
                  {"tpot", figure(config.slo.tpot, "s")},
                  {"attainment", figure(config.slo.attainment, "ratio")}}},
                {"budget", figure(config.budget_yuan_per_year, "yuan/year")},
                {"prices", r.prices.file},
                {"shapes", shapes},
                {"mix",
                 {{"parts", parts},
                  {"capex", figure(r.mix.capex, "yuan")},
                  {"yearly", figure(r.mix.yearly, "yuan/year")},
                  {"yuan_per_million_tokens", figure(r.mix.yuan_per_million_tokens, "yuan/Mtoken")},
                  {"within_budget", r.mix.within_budget},
                  {"shortfall_tokens_per_s", figure(r.shortfall_tokens_per_s, "tokens/s")}}},
                {"sensitivity", sensitivity},
                {"cost_vs_slo", slo_curve},
                {"sources", config.sources},
                {"wall", figure(wall, "s")}};
    if (!c.json.empty()) write_json(c.json, out, nullptr);
    if (!c.report.empty()) {
      write_html_report(c.report, "seedchip plan: " + config.file, plan_report_sections(r), out);
      std::printf("report: %s/index.html\n", c.report.c_str());
    }
  }
}

// --- seedchip sensitivity ------------------------------------------------------------------------

struct SensitivityCommand {
  std::string model = "llama-3.1-70b", trace = "azure-conv", scheduler = "continuous",
              slo = "ttft=2s,tpot=200ms", prices, config, cost_cache, json;
  ChipOptions chip;
  int64_t chips = 8, max_batch = 256, requests = 4000;
  double attainment = 0.99;
  int jobs = 0;
};

void run_sensitivity_command(const SensitivityCommand& c) {
  const auto start = std::chrono::steady_clock::now();
  const plan::Prices prices =
      plan::load_prices(c.prices.empty() ? plan::default_prices_path() : c.prices);
  const plan::SensitivityConfig config = plan::load_sensitivity_config(
      c.config.empty() ? plan::default_sensitivity_config_path() : c.config);
  plan::EvaluationInputs in;
  in.model = llm::load_model_preset(c.model).config;
  in.workload = serve::load_workload(c.trace);
  if (c.requests > 0) in.workload = serve::first_requests(std::move(in.workload), c.requests);
  parse_slo(c.slo, in.slo.ttft, in.slo.tpot);
  in.slo.attainment = c.attainment;
  in.cost_cache_dir = c.cost_cache;
  in.jobs = default_jobs(c.jobs);
  in.progress = grid_progress();
  const plan::InstanceShape shape{c.chip.preset, c.chip.overrides, c.chips, c.scheduler,
                                  c.max_batch};
  const plan::SensitivityResult r = plan::run_sensitivity(
      in, shape, prices, config,
      [](const std::string& what) { std::fprintf(stderr, "run: %s\n", what.c_str()); });

  const plan::LoadPoint& base = r.base.capacity.best;
  std::printf(
      "Sensitivity of %s on %s, %zu requests of %s, SLO TTFT %g s / TPOT %g s for %g%% "
      "of requests, utilization %g\n",
      in.model.name.c_str(), shape.describe().c_str(), in.workload.requests.size(),
      in.workload.name.c_str(), in.slo.ttft, in.slo.tpot, in.slo.attainment * 100, r.utilization);
  std::printf(
      "Base: %.0f tokens/s at the SLO%s (%.3g x the trace's rate), %.3f yuan per million "
      "tokens\n\n",
      base.tokens_per_s, r.base.capacity.met ? "" : " (SLO NOT met at any load)", base.rate_scale,
      r.base_yuan_per_million_tokens);
  // A tornado: the parameters that move the results most first.
  struct Swing {
    std::string parameter;
    const plan::SensitivityRow *minus = nullptr, *plus = nullptr;
    double size = 0;
  };
  std::vector<Swing> swings;
  for (size_t i = 0; i + 1 < r.rows.size(); i += 2) {
    Swing s{r.rows[i].parameter, &r.rows[i], &r.rows[i + 1], 0};
    for (const plan::SensitivityRow* row : {s.minus, s.plus})
      s.size =
          std::max({s.size, std::abs(row->tokens_per_s / base.tokens_per_s - 1),
                    std::abs(row->yuan_per_million_tokens / r.base_yuan_per_million_tokens - 1)});
    swings.push_back(s);
  }
  std::stable_sort(swings.begin(), swings.end(),
                   [](const Swing& a, const Swing& b) { return a.size > b.size; });
  const std::string d = percent(config.delta).substr(1);
  std::printf("%-16s %22s %22s %22s %22s\n", "parameter", ("tokens/s at -" + d).c_str(),
              ("tokens/s at +" + d).c_str(), ("yuan/Mtok at -" + d).c_str(),
              ("yuan/Mtok at +" + d).c_str());
  json rows = json::array();
  for (const Swing& s : swings) {
    auto cell = [](double value, double reference, bool met) {
      char text[48];
      std::snprintf(text, sizeof text, "%.4g (%s)%s", value, percent(value / reference - 1).c_str(),
                    met ? "" : "!");
      return std::string(text);
    };
    std::printf(
        "%-16s %22s %22s %22s %22s%s%s\n", s.parameter.c_str(),
        cell(s.minus->tokens_per_s, base.tokens_per_s, s.minus->met).c_str(),
        cell(s.plus->tokens_per_s, base.tokens_per_s, s.plus->met).c_str(),
        cell(s.minus->yuan_per_million_tokens, r.base_yuan_per_million_tokens, true).c_str(),
        cell(s.plus->yuan_per_million_tokens, r.base_yuan_per_million_tokens, true).c_str(),
        s.minus->applicable ? "" : "  (does not act on this chip)",
        s.minus->clamped || s.plus->clamped ? "  (a value clamped to its range)" : "");
    for (const plan::SensitivityRow* row : {s.minus, s.plus})
      rows.push_back(
          {{"parameter", row->parameter},
           {"change", figure(row->change, "ratio")},
           {"applicable", row->applicable},
           {"clamped", row->clamped},
           {"overrides", row->overrides},
           {"slo_met", row->met},
           {"tokens_per_s", figure(row->tokens_per_s, "tokens/s")},
           {"yuan_per_million_tokens", figure(row->yuan_per_million_tokens, "yuan/Mtoken")}});
  }
  std::printf("(! = the SLO is met at no load)\n");
  for (const plan::SensitivityParameter& p : config.parameters)
    std::printf("  %-16s %s\n", p.name.c_str(), p.description.c_str());
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wall time %.1f s\n", wall);
  if (!c.json.empty())
    write_json(
        c.json,
        {{"model", in.model.name},
         {"shape", shape.describe()},
         {"trace", in.workload.name},
         {"requests", in.workload.requests.size()},
         {"slo",
          {{"ttft", figure(in.slo.ttft, "s")},
           {"tpot", figure(in.slo.tpot, "s")},
           {"attainment", figure(in.slo.attainment, "ratio")}}},
         {"utilization", figure(r.utilization, "ratio")},
         {"delta", figure(config.delta, "ratio")},
         {"base",
          {{"slo_met", r.base.capacity.met},
           {"tokens_per_s", figure(base.tokens_per_s, "tokens/s")},
           {"yuan_per_million_tokens", figure(r.base_yuan_per_million_tokens, "yuan/Mtoken")},
           {"chip_capex", figure(r.base.chip_cost(prices).capex(), "yuan")}}},
         {"rows", rows},
         {"prices", prices.file},
         {"wall", figure(wall, "s")}},
        &r.base.chip);
}

}  // namespace

void register_plan(CLI::App& app) {
  auto c = std::make_shared<PlanCommand>();
  CLI::App* cmd = app.add_subcommand(
      "plan", "size and price a fleet of chips for a demand, within latency SLOs and a budget");
  cmd->add_option("plan", c->plan, "PLAN.yaml (keys in plan/planner.h; examples in configs/plans)")
      ->required();
  cmd->add_option("--cost-cache", c->cost_cache,
                  "folder of measured step tables, reused when the chip, model and TP match");
  cmd->add_option("--jobs", c->jobs, "threads measuring steps (0: one per core)")->default_val(0);
  cmd->add_option("--json", c->json, "write every figure with its unit as JSON");
  cmd->add_option(
      "--report", c->report,
      "write a self-contained HTML page with the plots (DIR/index.html, DIR/data.json)");
  cmd->callback([c] { run_plan_command(*c); });
}

void register_sensitivity(CLI::App& app) {
  auto c = std::make_shared<SensitivityCommand>();
  CLI::App* cmd = app.add_subcommand(
      "sensitivity",
      "how tokens/s at an SLO and yuan per million tokens move with +-20% in each uncertain "
      "parameter");
  cmd->add_option("--model", c->model, "model shape preset or preset YAML file")
      ->default_val(c->model);
  c->chip.add_to(*cmd);
  cmd->add_option("--chips", c->chips, "chips of the instance (tensor parallel)")
      ->default_val(c->chips);
  cmd->add_option("--scheduler", c->scheduler, "batch scheduler")->default_val(c->scheduler);
  cmd->add_option("--max-batch", c->max_batch, "sequences running at once")
      ->default_val(c->max_batch);
  cmd->add_option("--trace", c->trace, "built-in trace or trace file")->default_val(c->trace);
  cmd->add_option("--requests", c->requests, "the first N requests of the trace (0: all)")
      ->default_val(c->requests);
  cmd->add_option("--slo", c->slo, "latency objectives of a good request")->default_val(c->slo);
  cmd->add_option("--attainment", c->attainment, "share of requests that must meet the SLO")
      ->default_val(c->attainment);
  cmd->add_option("--prices", c->prices, "prices file (default configs/prices.yaml)");
  cmd->add_option("--config", c->config, "parameters and delta (default configs/sensitivity.yaml)");
  cmd->add_option("--cost-cache", c->cost_cache,
                  "folder of measured step tables, reused when the chip, model and TP match");
  cmd->add_option("--jobs", c->jobs, "threads measuring steps (0: one per core)")->default_val(0);
  cmd->add_option("--json", c->json, "write every figure with its unit as JSON");
  cmd->callback([c] { run_sensitivity_command(*c); });
}

}  // namespace seedchip::tools
