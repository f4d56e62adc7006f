#include "plan/sweep.h"

#include <filesystem>
#include <tuple>
#include <utility>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "arch/yaml_reader.h"
#include "llm/model_preset.h"
#include "serve/engine/engine.h"

namespace seedchip::plan {
namespace {

using nlohmann::json;

constexpr const char* kKeysListedIn = "plan/sweep.h";

[[noreturn]] void fail_at(const std::string& file, const YAML::Node& node, const std::string& key,
                          const std::string& what) {
  throw InputError(file + ":" + std::to_string(node.Mark().line + 1) + ": key '" + key +
                   "': " + what);
}

// The node of item `i` of a value that is a scalar or a list (a scalar is a list of one), for the
// line of an error about that item.
YAML::Node item(const YAML::Node& value, size_t i) { return value.IsSequence() ? value[i] : value; }

// `points.set`: a list of override lists, each "key=value" items (an empty list for none).
std::vector<std::vector<std::string>> override_lists(const std::string& file,
                                                     const YAML::Node& node) {
  if (!node.IsSequence() || node.size() == 0)
    fail_at(file, node, "points.set",
            "expected a list of override lists, such as [[], [hbm.stacks=8]]");
  std::vector<std::vector<std::string>> lists;
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string key = "points.set[" + std::to_string(i) + "]";
    const YAML::Node list = node[i];
    if (!list.IsSequence())
      fail_at(file, list, key, "expected a list of key=value overrides ([] for none)");
    std::vector<std::string> overrides;
    for (const YAML::Node& o : list) {
      if (!o.IsScalar() || o.Scalar().find('=') == std::string::npos)
        fail_at(file, o, key,
                "expected key=value, got '" + (o.IsScalar() ? o.Scalar() : "?") + "'");
      overrides.push_back(o.Scalar());
    }
    lists.push_back(std::move(overrides));
  }
  return lists;
}

json figure(double value, const std::string& unit) { return {{"value", value}, {"unit", unit}}; }
double value_of(const json& j, const std::string& key) {
  return j.at(key).at("value").get<double>();
}

}  // namespace

SweepConfig load_sweep(const std::string& path) {
  YAML::Node root = load_yaml_file(path, "the sweep");
  const YAML::Node& top = root;
  // `set` is a list of lists, which YamlMapReader does not read: take it out of `points` before
  // the reader sees the mapping, so that every other key there is still checked.
  YAML::Node points_map = top["points"];
  const bool has_set = points_map && points_map.IsMap() && std::as_const(points_map)["set"];
  const YAML::Node set_node = has_set ? std::as_const(points_map)["set"] : YAML::Node();
  if (has_set) points_map.remove("set");

  YamlMapReader r(path, root);
  SweepConfig c;
  c.file = path;
  c.model = r.text("model", true);
  try {
    llm::load_model_preset(c.model);
  } catch (const InputError& e) {
    fail_at(path, top["model"], "model", e.what());
  }
  c.trace = r.text("trace", true);
  c.requests = r.integer("requests", false, 0, 0, int64_t{1} << 40);
  c.slo = read_slo(r, kKeysListedIn);
  c.prices_path = read_prices_path(r);

  YamlMapReader p = r.child("points");
  const std::vector<std::string> chips = p.texts("chip", true);
  const std::vector<int64_t> sizes = p.integers("chips", false, 1, 1024);
  const std::vector<int64_t> tps = p.integers("tp", false, 1, 1024);
  std::vector<std::string> schedulers = p.texts("scheduler", false);
  const std::vector<int64_t> batches = p.integers("max_batch", false, 1, 1 << 20);
  p.reject_unknown_keys(kKeysListedIn);
  r.reject_unknown_keys(kKeysListedIn);
  const std::vector<std::vector<std::string>> sets =
      has_set ? override_lists(path, set_node) : std::vector<std::vector<std::string>>{{}};

  for (size_t i = 0; i < schedulers.size(); ++i)
    if (!serve::schedulers().count(schedulers[i]))
      fail_at(path, item(top["points"]["scheduler"], i), "points.scheduler",
              "unknown scheduler '" + schedulers[i] + "'");
  // Every chip with every override list, and its price: minutes of simulation may come before the
  // point that would otherwise find the mistake.
  const Prices prices = load_prices(c.prices_path);
  for (size_t i = 0; i < chips.size(); ++i) {
    const YAML::Node chip_node = item(top["points"]["chip"], i);
    try {
      chip_cost(prices, load_chip(chips[i], {}).config);
    } catch (const InputError& e) {
      fail_at(path, chip_node, "points.chip", e.what());
    }
    for (size_t j = 0; j < sets.size(); ++j) {
      try {
        load_chip(chips[i], sets[j]);
      } catch (const InputError& e) {
        fail_at(path, set_node[j], "points.set[" + std::to_string(j) + "]",
                "on " + chips[i] + ": " + e.what());
      }
    }
  }

  if (schedulers.empty()) schedulers = {"continuous"};
  for (const std::string& chip : chips)
    for (const std::vector<std::string>& set : sets)
      for (int64_t k : sizes.empty() ? std::vector<int64_t>{8} : sizes)
        for (int64_t tp : tps.empty() ? std::vector<int64_t>{k} : tps) {
          if (k % tp != 0) continue;  // a TP that does not divide these chips: no such point
          for (int64_t b : batches.empty() ? std::vector<int64_t>{256} : batches)
            for (const std::string& s : schedulers)
              c.points.push_back({chip, set, k, s, b, 0, 0, tp});
        }
  if (c.points.empty())
    fail_at(path, top["points"]["tp"], "points.tp", "no point: no tp divides any of the chips");
  return c;
}

Sweep prepare_sweep(SweepConfig config, const std::string& cost_cache_dir, int jobs,
                    const serve::CachedStepCost::Progress& progress) {
  Sweep s;
  s.config = std::move(config);
  s.inputs.model = llm::load_model_preset(s.config.model).config;
  try {
    s.inputs.workload = serve::load_workload(s.config.trace);
  } catch (const InputError& e) {
    throw InputError(s.config.file + ": key 'trace': " + e.what());
  }
  if (s.config.requests > 0)
    s.inputs.workload = serve::first_requests(std::move(s.inputs.workload), s.config.requests);
  if (s.inputs.workload.requests.size() < 2 || serve::mean_rate(s.inputs.workload) <= 0)
    throw InputError(s.config.file + ": key 'trace': " + s.inputs.workload.name +
                     " needs at least two requests arriving at different times");
  s.inputs.slo = s.config.slo;
  s.inputs.cost_cache_dir = cost_cache_dir;
  s.inputs.jobs = jobs;
  s.inputs.progress = progress;
  s.prices = load_prices(s.config.prices_path);
  s.thresholds = load_export_thresholds(default_export_thresholds_path());
  return s;
}

bool SweepRow::operator==(const SweepRow& o) const {
  const auto point = [](const LoadPoint& p) {
    return std::tie(p.rate_scale, p.requests_per_s, p.tokens_per_s, p.output_tokens_per_s,
                    p.attainment, p.ttft_p99, p.tpot_p99, p.watts);
  };
  const auto fields = [](const SweepRow& r) {
    return std::make_tuple(r.index, r.shape.chip, r.shape.overrides, r.shape.chips,
                           r.shape.tensor_parallel(), r.shape.scheduler, r.shape.max_batch, r.fits,
                           r.why_not, r.met, r.loads_tried, r.yuan_per_million_tokens,
                           r.tokens_per_s_per_watt, r.chip_capex, r.tpp, r.export_class);
  };
  return fields(*this) == fields(o) && point(capacity) == point(o.capacity);
}

std::vector<size_t> points_of_rank(const SweepConfig& config, int rank, int ranks) {
  std::vector<size_t> mine;
  int64_t group = -1;
  for (size_t i = 0; i < config.points.size(); ++i) {
    const InstanceShape& s = config.points[i];
    const InstanceShape* before = i > 0 ? &config.points[i - 1] : nullptr;
    if (!before || s.chip != before->chip || s.overrides != before->overrides ||
        s.chips != before->chips)
      ++group;
    if (group % ranks == rank) mine.push_back(i);
  }
  return mine;
}

SweepRow evaluate_point(const Sweep& sweep, size_t index, StepCostMemo* memo) {
  SweepRow row;
  row.index = index;
  row.shape = sweep.config.points.at(index);
  const LoadedChip chip = load_chip(row.shape.chip, row.shape.overrides);
  row.chip_capex = chip_cost(sweep.prices, chip.config).capex();
  const ExportMetrics exports = export_metrics(chip.config, sweep.thresholds);
  row.tpp = exports.tpp;
  row.export_class = exports.classification;
  try {
    serve::kv_pages_for(sweep.inputs.model, chip.config, row.shape.chips,
                        sweep.inputs.engine.page_tokens);
  } catch (const InputError& e) {
    // A point of the product that cannot hold the model is a finding of the sweep, not an error.
    row.fits = false;
    row.why_not = e.what();
    return row;
  }
  const InstanceEvaluation e = evaluate_instance(sweep.inputs, row.shape, sweep.prices, memo);
  row.met = e.capacity.met;
  row.capacity = e.capacity.best;
  row.loads_tried = static_cast<int64_t>(e.capacity.curve.size());
  if (row.met) {
    row.yuan_per_million_tokens = e.yuan_per_million_tokens(sweep.prices, sweep.prices.utilization);
    row.tokens_per_s_per_watt = e.tokens_per_s_per_watt();
  }
  return row;
}

json row_to_json(const SweepRow& row) {
  const LoadPoint& p = row.capacity;
  return {{"index", row.index},
          {"shape", row.shape.describe()},
          {"chip", row.shape.chip},
          {"set", row.shape.overrides},
          {"chips_per_instance", row.shape.chips},
          {"tp", row.shape.tensor_parallel()},
          {"scheduler", row.shape.scheduler},
          {"max_batch", row.shape.max_batch},
          {"fits", row.fits},
          {"why_not", row.why_not},
          {"slo_met", row.met},
          {"capacity",
           {{"rate_scale", figure(p.rate_scale, "x trace rate")},
            {"requests_per_s", figure(p.requests_per_s, "requests/s")},
            {"tokens_per_s", figure(p.tokens_per_s, "tokens/s")},
            {"output_tokens_per_s", figure(p.output_tokens_per_s, "tokens/s")},
            {"attainment", figure(p.attainment, "ratio")},
            {"ttft_p99", figure(p.ttft_p99, "s")},
            {"tpot_p99", figure(p.tpot_p99, "s")},
            {"watts", figure(p.watts, "W")}}},
          {"loads_tried", row.loads_tried},
          {"yuan_per_million_tokens", figure(row.yuan_per_million_tokens, "yuan/Mtoken")},
          {"tokens_per_s_per_watt", figure(row.tokens_per_s_per_watt, "tokens/s/W")},
          {"chip_capex", figure(row.chip_capex, "yuan")},
          {"tpp", figure(row.tpp, "2 x MAC TOPS x bits")},
          {"export_class", row.export_class}};
}

SweepRow row_from_json(const json& j, const std::string& what) {
  try {
    SweepRow row;
    row.index = j.at("index").get<size_t>();
    row.shape.chip = j.at("chip").get<std::string>();
    row.shape.overrides = j.at("set").get<std::vector<std::string>>();
    row.shape.chips = j.at("chips_per_instance").get<int64_t>();
    row.shape.tp = j.at("tp").get<int64_t>();
    row.shape.scheduler = j.at("scheduler").get<std::string>();
    row.shape.max_batch = j.at("max_batch").get<int64_t>();
    row.fits = j.at("fits").get<bool>();
    row.why_not = j.at("why_not").get<std::string>();
    row.met = j.at("slo_met").get<bool>();
    const json& c = j.at("capacity");
    row.capacity.rate_scale = value_of(c, "rate_scale");
    row.capacity.requests_per_s = value_of(c, "requests_per_s");
    row.capacity.tokens_per_s = value_of(c, "tokens_per_s");
    row.capacity.output_tokens_per_s = value_of(c, "output_tokens_per_s");
    row.capacity.attainment = value_of(c, "attainment");
    row.capacity.ttft_p99 = value_of(c, "ttft_p99");
    row.capacity.tpot_p99 = value_of(c, "tpot_p99");
    row.capacity.watts = value_of(c, "watts");
    row.loads_tried = j.at("loads_tried").get<int64_t>();
    row.yuan_per_million_tokens = value_of(j, "yuan_per_million_tokens");
    row.tokens_per_s_per_watt = value_of(j, "tokens_per_s_per_watt");
    row.chip_capex = value_of(j, "chip_capex");
    row.tpp = value_of(j, "tpp");
    row.export_class = j.at("export_class").get<std::string>();
    return row;
  } catch (const json::exception& e) {
    throw InputError(what + ": not a sweep result row: " + e.what());
  }
}

json sweep_json(const Sweep& sweep, const std::vector<SweepRow>& rows) {
  json points = json::array();
  for (const SweepRow& row : rows) points.push_back(row_to_json(row));
  const Slo& slo = sweep.config.slo;
  return {{"sweep", sweep.config.file},
          {"model", sweep.config.model},
          {"trace", sweep.inputs.workload.name},
          {"requests", sweep.inputs.workload.requests.size()},
          {"slo",
           {{"ttft", figure(slo.ttft, "s")},
            {"tpot", figure(slo.tpot, "s")},
            {"attainment", figure(slo.attainment, "ratio")}}},
          {"prices", sweep.prices.file},
          {"utilization", figure(sweep.prices.utilization, "ratio")},
          {"points", points}};
}

}  // namespace seedchip::plan
