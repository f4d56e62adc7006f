#include "serve/fleet/fleet_config.h"

#include <cstdlib>
#include <filesystem>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "arch/yaml_reader.h"

namespace seedchip::serve {

namespace {

constexpr const char* kKeysListedIn = "serve/fleet/fleet_config.h";

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::vector<PoolSpec> load_fleet_file(const std::string& path) {
  const YAML::Node root = load_yaml_file(path, "the fleet file");
  YamlMapReader r(path, root);
  std::vector<PoolSpec> pools;
  std::vector<YamlMapReader> items = r.children("pools", true);
  r.reject_unknown_keys(kKeysListedIn);
  const std::vector<std::string> presets = list_presets();
  std::vector<std::string> scheduler_names;
  for (const auto& [name, info] : schedulers()) scheduler_names.push_back(name);
  for (size_t i = 0; i < items.size(); ++i) {
    YamlMapReader& p = items[i];
    PoolSpec s;
    s.chip = p.text("chip", true);
    s.overrides = p.texts("set", false);
    s.chips = p.integer("chips", false, s.chips, 1, 1024);
    s.tp = p.integer("tp", false, s.chips, 1, 1024);
    s.ep = p.integer("ep", false, s.ep, 1, 1024);
    s.instances = p.integer("instances", false, s.instances, 1, 1 << 20);
    s.scheduler = p.text("scheduler", false, s.scheduler);
    s.max_batch = p.integer("max_batch", false, s.max_batch, 1, 1 << 20);
    const std::string role = p.text("role", false, "both");
    p.reject_unknown_keys(kKeysListedIn);
    const YAML::Node node = root["pools"][i];
    if (s.chips % s.tp != 0)
      p.fail("tp", node["tp"], "a divisor of chips (" + std::to_string(s.chips) + ")");
    if (s.tp % s.ep != 0)
      p.fail("ep", node["ep"], "a divisor of tp (" + std::to_string(s.tp) + ")");
    if (role != "both" && role != "prefill" && role != "decode")
      p.fail("role", node["role"], "both, prefill or decode");
    s.role = role == "prefill"  ? PoolRole::kPrefill
             : role == "decode" ? PoolRole::kDecode
                                : PoolRole::kBoth;
    if (std::find(presets.begin(), presets.end(), s.chip) == presets.end() &&
        !std::filesystem::is_regular_file(s.chip))
      p.fail("chip", node["chip"], "a chip preset (" + joined(presets) + ") or a preset YAML file");
    if (!schedulers().contains(s.scheduler))
      p.fail("scheduler", node["scheduler"], "a scheduler (" + joined(scheduler_names) + ")");
    // The overrides (or a preset file) are checked here, where the error can name the key.
    try {
      load_chip(s.chip, s.overrides);
    } catch (const InputError& e) {
      const std::string key = s.overrides.empty() ? "chip" : "set";
      throw InputError(path + ":" + std::to_string(node[key].Mark().line + 1) + ": key '" +
                       p.path_of(key) + "': " + e.what());
    }
    pools.push_back(std::move(s));
  }
  if (pools.empty())
    throw InputError(path + ": key 'pools': expected at least one pool of instances");
  return pools;
}

std::string parallelism(int64_t chips, int64_t tp, int64_t ep) {
  return "TP " + std::to_string(tp) + (chips > tp ? " x PP " + std::to_string(chips / tp) : "") +
         (ep > 1 ? ", EP " + std::to_string(ep) : "");
}

Pool make_pool(const PoolSpec& spec, const llm::LlamaConfig& model, const LoadedChip& chip,
               const StepCostModel* cost, const EngineOptions& engine) {
  const KvBudget kv = kv_pages_for(model, chip.config, spec.chips, engine.page_tokens);
  Pool p;
  p.name = chip.config.name + " x" + std::to_string(spec.chips) +
           (spec.pipeline_stages() > 1 || spec.ep > 1
                ? " (" + parallelism(spec.chips, spec.tensor_parallel(), spec.ep) + ")"
                : "");
  p.cost = cost;
  p.scheduler = spec.scheduler;
  p.engine = engine;
  p.engine.max_batch = spec.max_batch;
  p.engine.kv_pages = kv.pages;
  p.instances = spec.instances;
  p.chips = spec.chips;
  p.max_context = model.seq_len;
  p.idle_watts = chip.config.power.idle_w * static_cast<double>(spec.chips);
  p.role = spec.role;
  p.kv_bytes_per_token = kv.bytes_per_token;
  p.link_bytes_per_s = static_cast<double>(spec.chips * chip.config.links.count) *
                       chip.config.links.gbytes_per_s * 1e9;
  return p;
}

bool SloRule::Condition::holds(const Request& q) const {
  const int64_t n = prompt ? q.prompt : q.output;
  if (op == ">") return n > tokens;
  if (op == ">=") return n >= tokens;
  if (op == "<") return n < tokens;
  return n <= tokens;
}

bool SloRule::matches(const Request& q) const {
  return std::all_of(when.begin(), when.end(), [&](const Condition& c) { return c.holds(q); });
}

SloRule parse_slo_rule(const std::string& text, const SloClass& defaults,
                       const std::string& option) {
  auto fail = [&](const std::string& expected, const std::string& got) {
    throw InputError(option + " '" + text + "': expected " + expected + ", got '" + got + "'");
  };
  SloRule rule;
  rule.slo = defaults;
  const size_t colon = text.find(':');
  rule.slo.name = text.substr(0, colon);
  if (rule.slo.name.empty() ||
      rule.slo.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789-_") != std::string::npos)
    fail("NAME:ITEM,... with a name of letters, digits, '-' and '_'", rule.slo.name);
  if (colon == std::string::npos) return rule;
  for (size_t at = colon + 1; at <= text.size();) {
    const size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    at = comma + 1;
    if (item.rfind("ttft=", 0) == 0 || item.rfind("tpot=", 0) == 0) {
      const std::string value = item.substr(5);
      char* end = nullptr;
      const double v = std::strtod(value.c_str(), &end);
      const std::string unit = end ? std::string(end) : "";
      const double scale = unit == "s" ? 1 : unit == "ms" ? 1e-3 : unit == "us" ? 1e-6 : 0;
      if (end == value.c_str() || scale == 0 || !(v > 0))
        fail("a positive duration with a unit (s, ms, us) after " + item.substr(0, 5), value);
      (item[1] == 't' ? rule.slo.ttft : rule.slo.tpot) = v * scale;
      continue;
    }
    SloRule::Condition c;
    const bool prompt = item.rfind("prompt", 0) == 0, output = item.rfind("output", 0) == 0;
    std::string rest = item.substr(prompt || output ? 6 : 0);
    for (const char* op : {">=", "<=", ">", "<"})
      if (rest.rfind(op, 0) == 0) {
        c.op = op;
        break;
      }
    rest = rest.substr(c.op.size());
    const bool digits = !rest.empty() && rest.size() < 16 &&
                        rest.find_first_not_of("0123456789") == std::string::npos;
    if (!(prompt || output) || c.op.empty() || !digits)
      fail(
          "ttft=DURATION, tpot=DURATION or a condition such as prompt>4096 (prompt or output, "
          "then >, >=, < or <=, then tokens)",
          item);
    c.prompt = prompt;
    c.tokens = std::stoll(rest);
    rule.when.push_back(c);
  }
  return rule;
}

namespace {

void check_names(const std::vector<SloRule>& rules, const std::string& option) {
  for (size_t i = 0; i < rules.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (rules[i].slo.name == rules[j].slo.name)
        throw InputError(option + ": class '" + rules[i].slo.name + "' is given twice");
}

void classify(Request& q, const std::vector<SloRule>& rules, const std::string& option) {
  int64_t cls = -1;
  for (size_t i = 0; i < rules.size(); ++i)
    if (rules[i].matches(q)) cls = static_cast<int64_t>(i);
  if (cls < 0)
    throw InputError(option + ": request " + std::to_string(q.id) + " (prompt " +
                     std::to_string(q.prompt) + ", output " + std::to_string(q.output) +
                     " tokens) matches no class; add a class without conditions first");
  q.slo_class = cls;
}

}  // namespace

void assign_slo_classes(Workload& w, const std::vector<SloRule>& rules, const std::string& option) {
  check_names(rules, option);
  for (Request& q : w.requests) classify(q, rules, option);
}

ClassifiedStream::ClassifiedStream(std::unique_ptr<RequestStream> inner, std::vector<SloRule> rules,
                                   std::string option)
    : inner_(std::move(inner)), rules_(std::move(rules)), option_(std::move(option)) {
  check_names(rules_, option_);
}

bool ClassifiedStream::next(Request& r) {
  if (!inner_->next(r)) return false;
  classify(r, rules_, option_);
  return true;
}

}  // namespace seedchip::serve
