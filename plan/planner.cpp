#include "plan/planner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <set>
#include <utility>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "arch/export_control.h"
#include "arch/yaml_reader.h"
#include "serve/engine/engine.h"
#include "serve/workload/servegen.h"

namespace seedchip::plan {
namespace {

constexpr const char* kKeysListedIn = "plan/planner.h";

std::string format(const char* pattern, double value) {
  char text[64];
  std::snprintf(text, sizeof text, pattern, value);
  return text;
}

// Every way to split 1 into `n` shares in steps of `step` (n >= 1).
void splits(int n, int units, std::vector<int>& current, std::vector<std::vector<int>>& out) {
  if (n == 1) {
    current.push_back(units);
    out.push_back(current);
    current.pop_back();
    return;
  }
  for (int u = 0; u <= units; ++u) {
    current.push_back(u);
    splits(n - 1, units - u, current, out);
    current.pop_back();
  }
}

// The cheapest mix of the cheapest shape of each chip type, or nothing when no mix meets the
// minimum spend shares.
std::optional<Mix> cheapest_mix(const PlanConfig& config, const Prices& prices,
                                const std::map<std::string, const ShapeResult*>& by_chip,
                                double mean_scale) {
  std::vector<std::string> chips;
  for (const auto& [chip, shape] : by_chip) chips.push_back(chip);
  const int units = std::max(1, static_cast<int>(std::lround(1 / config.mix_step)));
  std::vector<std::vector<int>> options;
  std::vector<int> current;
  splits(static_cast<int>(chips.size()), units, current, options);
  std::optional<Mix> best;
  const Demand& d = config.demand;
  for (const std::vector<int>& split : options) {
    Mix mix;
    for (size_t i = 0; i < chips.size(); ++i) {
      if (split[i] == 0) continue;
      MixPart part;
      part.chip = chips[i];
      part.shape = by_chip.at(chips[i]);
      part.peak_share = static_cast<double>(split[i]) / units;
      const double capacity = part.shape->evaluation.capacity.best.tokens_per_s;
      part.instances = std::ceil(d.peak_tokens_per_s * part.peak_share / capacity);
      part.chips = part.instances * static_cast<double>(part.shape->evaluation.shape.unit_chips());
      // Each part carries its share of the mean load, spread over its instances.
      const double utilization = std::min(
          1.0, d.mean_tokens_per_s * mean_scale * part.peak_share / (part.instances * capacity));
      part.fleet = part.shape->evaluation.cost(prices, part.instances, utilization);
      mix.capex += part.fleet.capex;
      mix.yearly += part.fleet.yearly;
      mix.parts.push_back(part);
    }
    bool shares_met = true;
    for (const auto& [chip, share] : config.min_spend_share) {
      double spend = 0;
      for (const MixPart& part : mix.parts)
        if (part.chip == chip) spend = part.fleet.yearly;
      if (spend < share * mix.yearly - 1e-9 * mix.yearly) shares_met = false;
    }
    if (!shares_met) continue;
    if (!best || mix.yearly < best->yearly) best = mix;
  }
  if (best) {
    const double tokens_per_year = d.mean_tokens_per_s * mean_scale * kSecondsPerYear;
    best->yuan_per_million_tokens = best->yearly / tokens_per_year * 1e6;
    best->within_budget = best->yearly <= config.budget_yuan_per_year;
  }
  return best;
}

constexpr int64_t kMaxUnitInstances = 64;

// "none" -> (0, 0); "P:D" with both whole numbers in [1, kMaxUnitInstances] -> (P, D); else
// nothing.
std::optional<std::pair<int64_t, int64_t>> parse_disaggregation(const std::string& text) {
  if (text == "none") return std::pair<int64_t, int64_t>{0, 0};
  const size_t colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  auto count = [](const std::string& digits) -> int64_t {
    if (digits.empty() || digits.size() > 2 ||
        digits.find_first_not_of("0123456789") != std::string::npos)
      return 0;
    const int64_t n = std::stoll(digits);
    return n <= kMaxUnitInstances ? n : 0;
  };
  const int64_t prefill = count(text.substr(0, colon)), decode = count(text.substr(colon + 1));
  if (prefill < 1 || decode < 1) return std::nullopt;
  return std::pair<int64_t, int64_t>{prefill, decode};
}

}  // namespace

PlanConfig load_plan(const std::string& path) {
  // The nodes themselves too: a bad list item's error names its line.
  const YAML::Node root = load_yaml_file(path, "the plan");
  YamlMapReader r(path, root);
  PlanConfig c;
  c.file = path;
  c.model = r.text("model", true);
  c.trace = r.text("trace", true);
  c.requests = r.integer("requests", false, 0, 0, int64_t{1} << 40);

  YamlMapReader demand = r.child("demand");
  const double peak = demand.number("peak_tokens_per_s", false, 0, 1, 1e15);
  const double per_day = demand.number("tokens_per_day", false, 0, 1, 1e20);
  double peak_to_mean = demand.number("peak_to_mean", false, 0, 1, 1000);
  const std::string curve = demand.text("curve", false);
  if (!curve.empty()) {
    if (peak_to_mean > 0) throw InputError(path + ": demand: give peak_to_mean or curve, not both");
    const std::string prefix = "servegen:";
    if (curve.rfind(prefix, 0) != 0)
      throw InputError(path + ": key 'demand.curve': expected servegen:MODEL, got '" + curve + "'");
    const serve::RateCurve rates = serve::read_servegen_rates(curve.substr(prefix.size()));
    peak_to_mean = rates.peak() / rates.mean();
  }
  demand.reject_unknown_keys(kKeysListedIn);
  if (peak > 0 && per_day > 0) {
    c.demand = {peak, per_day / 86400};
    if (c.demand.mean_tokens_per_s > peak)
      throw InputError(path + ": demand: tokens_per_day gives a mean above peak_tokens_per_s");
  } else if ((peak > 0 || per_day > 0) && peak_to_mean > 0) {
    c.demand.peak_tokens_per_s = peak > 0 ? peak : per_day / 86400 * peak_to_mean;
    c.demand.mean_tokens_per_s = per_day > 0 ? per_day / 86400 : peak / peak_to_mean;
  } else {
    throw InputError(path +
                     ": demand: give peak_tokens_per_s and tokens_per_day, or one of them with "
                     "peak_to_mean");
  }

  c.slo = read_slo(r, kKeysListedIn);
  c.budget_yuan_per_year = r.number("budget_yuan_per_year", false, 160e9, 1, 1e15);
  c.prices_path = read_prices_path(r);

  const std::vector<std::string> known_chips = list_presets();
  std::vector<YamlMapReader> candidates = r.children("candidates", true);
  for (size_t i = 0; i < candidates.size(); ++i) {
    YamlMapReader& cr = candidates[i];
    const std::string chip = cr.text("chip", true);
    const auto chips = cr.integers("chips", false, 1, 1024);
    const auto tps = cr.integers("tp", false, 1, 1024);
    const auto eps = cr.integers("ep", false, 1, 1024);
    auto schedulers = cr.texts("scheduler", false);
    auto batches = cr.integers("max_batch", false, 1, 1 << 20);
    const auto overrides = cr.texts("set", false);
    const auto splits = cr.texts("disaggregation", false);
    cr.reject_unknown_keys(kKeysListedIn);
    for (const std::string& s : schedulers)
      if (!serve::schedulers().count(s))
        throw InputError(path + ": key '" + cr.path_of("scheduler") + "': unknown scheduler '" + s +
                         "'");
    if (schedulers.empty()) schedulers = {"continuous"};
    // (prefill, decode) instances per unit; (0, 0) is no disaggregation.
    std::vector<std::pair<int64_t, int64_t>> units;
    for (size_t j = 0; j < splits.size(); ++j) {
      const std::optional<std::pair<int64_t, int64_t>> unit = parse_disaggregation(splits[j]);
      if (!unit) {
        const YAML::Node list = root["candidates"][i]["disaggregation"];
        cr.fail("disaggregation", list.IsSequence() ? list[j] : list,
                "none or P:D, prefill and decode instances per unit (each 1 to " +
                    std::to_string(kMaxUnitInstances) + ")");
      }
      units.push_back(*unit);
    }
    if (units.empty()) units = {{0, 0}};
    if (batches.empty()) batches = {256};
    for (int64_t k : chips.empty() ? std::vector<int64_t>{8} : chips)
      for (int64_t tp : tps.empty() ? std::vector<int64_t>{k} : tps)
        for (int64_t ep : eps.empty() ? std::vector<int64_t>{1} : eps) {
          // A TP that does not divide this chip count leaves it out (chips: [4, 8], tp: [8]), as
          // does an EP that does not divide the TP.
          if (tp > k || k % tp != 0 || tp % ep != 0) continue;
          for (const auto& [prefill, decode] : units) {
            // Both sides of a unit batch continuously (as serve-sim's disaggregated fleet), so
            // the candidate's schedulers apply only to undivided instances.
            if (prefill > 0) {
              for (int64_t b : batches)
                c.shapes.push_back({chip, overrides, k, "continuous", b, prefill, decode, tp, ep});
              continue;
            }
            for (const std::string& s : schedulers)
              for (int64_t b : batches)
                c.shapes.push_back({chip, overrides, k, s, b, 0, 0, tp, ep});
          }
        }
  }
  if (c.shapes.empty())
    throw InputError(path +
                     ": key 'candidates': expected at least one shape (a tp divides its chips, an "
                     "ep its tp)");

  if (r.has("min_spend_share")) {
    YamlMapReader shares = r.child("min_spend_share");
    for (const std::string& chip : shares.keys())
      c.min_spend_share[chip] = shares.number(chip, true, 0, 0, 1);
  }
  c.mix_step = r.number("mix_step", false, 0.05, 0.001, 1);
  if (r.has("slo_scales")) {
    c.slo_scales.clear();
    for (const std::string& s : r.texts("slo_scales", true)) {
      char* end = nullptr;
      const double v = std::strtod(s.c_str(), &end);
      if (end == s.c_str() || *end || !(v > 0))
        throw InputError(path + ": key 'slo_scales': expected positive numbers, got '" + s + "'");
      c.slo_scales.push_back(v);
    }
    if (std::find(c.slo_scales.begin(), c.slo_scales.end(), 1.0) == c.slo_scales.end())
      c.slo_scales.push_back(1.0);
    std::sort(c.slo_scales.begin(), c.slo_scales.end());
  }
  if (r.has("sources")) {
    YamlMapReader sources = r.child("sources");
    for (const std::string& key : sources.keys()) c.sources[key] = sources.text(key, true);
  }
  r.reject_unknown_keys(kKeysListedIn);
  return c;
}

PlanResult run_plan(const PlanConfig& config, const EvaluationInputs& inputs,
                    const std::function<void(const std::string&)>& progress) {
  PlanResult result;
  result.config = config;
  result.prices = load_prices(config.prices_path);
  for (const auto& [chip, share] : config.min_spend_share) {
    const bool candidate = std::any_of(config.shapes.begin(), config.shapes.end(),
                                       [&](const InstanceShape& s) { return s.chip == chip; });
    if (!candidate && share > 0)
      throw InputError(config.file + ": min_spend_share names '" + chip +
                       "', which no candidate uses");
  }
  StepCostMemo memo;
  const ExportThresholds thresholds = load_export_thresholds(default_export_thresholds_path());
  for (const double scale : config.slo_scales) {
    EvaluationInputs in = inputs;
    in.slo = config.slo;
    in.slo.ttft *= scale;
    in.slo.tpot *= scale;
    std::vector<ShapeResult> met;
    const ShapeResult* closest = nullptr;
    std::vector<ShapeResult> missed;
    for (const InstanceShape& shape : config.shapes) {
      if (progress)
        progress(shape.describe() + (scale != 1 ? ", SLO x" + format("%g", scale) : ""));
      ShapeResult s;
      s.evaluation = evaluate_instance(in, shape, result.prices, &memo);
      s.export_class = export_metrics(s.evaluation.chip.config, thresholds).classification;
      const double capacity = s.evaluation.capacity.best.tokens_per_s;
      if (!s.evaluation.capacity.met || capacity <= 0) {
        missed.push_back(std::move(s));
        continue;
      }
      s.instances = std::ceil(config.demand.peak_tokens_per_s / capacity);
      const double utilization =
          std::min(1.0, config.demand.mean_tokens_per_s / (s.instances * capacity));
      s.fleet = s.evaluation.cost(result.prices, s.instances, utilization);
      s.yuan_per_million_tokens =
          s.fleet.yearly / (config.demand.mean_tokens_per_s * kSecondsPerYear) * 1e6;
      met.push_back(std::move(s));
    }
    std::sort(met.begin(), met.end(), [](const ShapeResult& a, const ShapeResult& b) {
      return a.fleet.yearly < b.fleet.yearly;
    });
    std::map<std::string, const ShapeResult*> by_chip;
    for (const ShapeResult& s : met)
      if (!by_chip.count(s.evaluation.shape.chip)) by_chip[s.evaluation.shape.chip] = &s;
    SloPoint point;
    point.scale = scale;
    for (const auto& [chip, s] : by_chip) point.by_chip[chip] = s->yuan_per_million_tokens;
    std::optional<Mix> mix;
    if (!by_chip.empty()) mix = cheapest_mix(config, result.prices, by_chip, 1.0);
    point.met = mix.has_value();
    if (mix) point.yuan_per_million_tokens = mix->yuan_per_million_tokens;
    result.slo_curve.push_back(point);
    if (scale != 1.0) continue;

    if (met.empty()) {
      for (const ShapeResult& s : missed)
        if (!closest ||
            s.evaluation.capacity.best.attainment > closest->evaluation.capacity.best.attainment)
          closest = &s;
      const LoadPoint& p = closest->evaluation.capacity.best;
      throw InputError(config.file + ": no candidate meets the SLO (TTFT " +
                       format("%g", config.slo.ttft) + " s, TPOT " + format("%g", config.slo.tpot) +
                       " s for " + format("%g", config.slo.attainment * 100) +
                       "% of requests); the closest is " + closest->evaluation.shape.describe() +
                       ", whose lightest load tried (" + format("%g", p.rate_scale) +
                       " x the trace's rate) meets it for " + format("%.1f", p.attainment * 100) +
                       "% of requests, with p99 TTFT " + format("%.3g", p.ttft_p99) +
                       " s and p99 TPOT " + format("%.3g", p.tpot_p99) + " s");
    }
    if (!mix) {
      std::string shares;
      for (const auto& [chip, share] : config.min_spend_share)
        shares += (shares.empty() ? "" : ", ") + chip + " >= " + format("%g", share);
      throw InputError(config.file + ": no mix of the chips that meet the SLO respects " +
                       "min_spend_share (" + shares + ")");
    }
    result.shapes = std::move(met);
    // by_chip points into `met`, now moved: rebuild the mix on the kept vector.
    by_chip.clear();
    for (const ShapeResult& s : result.shapes)
      if (!by_chip.count(s.evaluation.shape.chip)) by_chip[s.evaluation.shape.chip] = &s;
    result.mix = *cheapest_mix(config, result.prices, by_chip, 1.0);
    if (!result.mix.within_budget)
      result.shortfall_tokens_per_s =
          config.demand.peak_tokens_per_s * (1 - config.budget_yuan_per_year / result.mix.yearly);

    // Sensitivity of the chosen mix's yearly cost: each chip's price, HBM price, utilization.
    std::vector<std::string> inputs_moved = {"hbm_yuan_per_gbyte", "utilization"};
    for (const auto& [chip, s] : by_chip)
      inputs_moved.insert(inputs_moved.begin(), "chip_price." + chip);
    for (const std::string& key : inputs_moved) {
      PlanSensitivity row;
      row.input = key;
      for (const double change : {-0.2, 0.2}) {
        std::optional<Mix> moved;
        if (key == "utilization") {
          moved = cheapest_mix(config, result.prices, by_chip, 1 + change);
        } else {
          Prices p = result.prices;
          scale_price(p, key, 1 + change);
          moved = cheapest_mix(config, p, by_chip, 1.0);
        }
        // NaN when no mix respects the spend shares under the moved input.
        (change < 0 ? row.minus : row.plus) =
            moved ? moved->yuan_per_million_tokens / result.mix.yuan_per_million_tokens - 1
                  : std::numeric_limits<double>::quiet_NaN();
      }
      result.sensitivity.push_back(row);
    }
  }
  return result;
}

}  // namespace seedchip::plan
