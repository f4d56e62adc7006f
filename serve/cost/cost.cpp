#include "serve/cost/cost.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <stdexcept>
#include <thread>

#include "arch/error.h"
#include "runtime/llm_timing.h"
#include "sim/analytic/analytic.h"

namespace seedchip::serve {

namespace {

void check_step(int64_t size, int64_t context, const char* what) {
  if (size < 1 || context < 1)
    throw InputError(std::string(what) + ": sizes and contexts must be at least 1");
}

// `points` values log-spaced from lo to hi (both included), rounded and deduplicated.
std::vector<int64_t> log_spaced(int64_t lo, int64_t hi, int64_t points) {
  std::vector<int64_t> v;
  for (int64_t i = 0; i < points; ++i) {
    const double f = points == 1 ? 0 : static_cast<double>(i) / static_cast<double>(points - 1);
    v.push_back(std::llround(std::exp(std::log(static_cast<double>(lo)) * (1 - f) +
                                      std::log(static_cast<double>(hi)) * f)));
  }
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

// The segment of `axis` (sorted) that x falls in or nearest to, and x's position along it
// (outside the axis: extrapolated along the end segment).
struct Segment {
  size_t lo = 0, hi = 0;
  double f = 0;
};
Segment segment(const std::vector<int64_t>& axis, double x) {
  if (axis.size() == 1) return {0, 0, 0};
  size_t hi = 1;
  while (hi + 1 < axis.size() && x > static_cast<double>(axis[hi])) ++hi;
  const double a = static_cast<double>(axis[hi - 1]), b = static_cast<double>(axis[hi]);
  return {hi - 1, hi, (x - a) / (b - a)};
}

StepCost lerp(const StepCost& a, const StepCost& b, double f) {
  return {a.seconds + (b.seconds - a.seconds) * f, a.joules + (b.joules - a.joules) * f};
}

// The version of the chip models' step prices: bump it with any change to the timing simulator,
// the compiler or the analytic model that moves the time or energy of a step, so that tables saved
// before (--cost-table, --cost-cache) are measured again instead of read back.
// 2: one-shot all-reduces and split-K products (sim/link/collectives.h, compiler/kernels/gemm.h).
// 3: decode products read f32 activations in place, several weight tiles per DMA.
// 4: GEMM mappings chosen by the cost-model search (compiler/mapping).
// 5: the analytic model's expert parallelism; bias and activation applied in the products'
//    epilogue (seedchip::FusedMatMul); attention as one kernel (seedchip::Attention).
// 6: streaming kernels give each core at least one VPU pass of work (compiler/codegen/elementwise).
constexpr int kStepPriceVersion = 6;

uint64_t fnv1a(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

StepCost combine(const std::vector<StepCost>& parts, const StepCost& shared) {
  StepCost sum, largest;
  for (const StepCost& p : parts) {
    sum.seconds += p.seconds;
    sum.joules += p.joules;
    if (p.seconds > largest.seconds) largest = p;
  }
  if (parts.size() < 2) return sum;
  const auto others = static_cast<double>(parts.size() - 1);
  const StepCost c{sum.seconds - others * shared.seconds, sum.joules - others * shared.joules};
  return c.seconds < largest.seconds ? largest : c;
}

// ---- direct models ----

namespace {

void check_parallelism(const llm::LlamaConfig& model, int64_t tp, int64_t pp, int64_t ep) {
  if (tp < 1 || pp < 1 || pp > model.n_layers)
    throw InputError("step cost: TP must be at least 1 and PP between 1 and the model's " +
                     std::to_string(model.n_layers) + " layers, got TP " + std::to_string(tp) +
                     ", PP " + std::to_string(pp));
  if (ep < 1 || tp % ep != 0 || (ep > 1 && (model.n_experts == 0 || model.n_experts % ep != 0)))
    throw InputError("step cost: EP " + std::to_string(ep) + " must divide TP " +
                     std::to_string(tp) + " and the model's " + std::to_string(model.n_experts) +
                     " experts (a dense model takes only EP 1)");
}

}  // namespace

SimulatedStepCost::SimulatedStepCost(llm::LlamaConfig model, LoadedChip chip, int64_t tp,
                                     int64_t pp, int64_t ep)
    : model_(std::move(model)), chip_(std::move(chip)), tp_(tp), pp_(pp), ep_(ep) {
  check_parallelism(model_, tp_, pp_, ep_);
}

StepCost SimulatedStepCost::prefill(int64_t tokens, int64_t context) const {
  check_step(tokens, context, "prefill");
  runtime::ScaleOptions o;
  o.tp = tp_;
  o.pp = pp_;
  o.ep = ep_;
  const runtime::StepTiming t =
      runtime::simulate_step(model_, chip_, llm::StepShape{1, tokens, context}, o);
  return {t.seconds, t.energy.total_j()};
}

StepCost SimulatedStepCost::decode(int64_t batch, double mean_context) const {
  const int64_t context = std::max<int64_t>(1, std::llround(mean_context));
  check_step(batch, context, "decode");
  runtime::ScaleOptions o;
  o.tp = tp_;
  o.pp = pp_;
  o.ep = ep_;
  // One micro-batch through every stage: pp stage times, the iteration's length with the pipeline
  // full; its work done pp times (once per micro-batch), its static energy once.
  const int64_t micro = (batch + pp_ - 1) / pp_;
  const runtime::StepTiming t =
      runtime::simulate_step(model_, chip_, llm::StepShape{micro, 1, context}, o);
  const double work = t.energy.total_j() - t.energy.static_j;
  return {t.seconds, work * static_cast<double>(pp_) + t.energy.static_j};
}

std::string SimulatedStepCost::method() const {
  return "timing simulator (runtime::simulate_step), energy from the power model";
}

AnalyticStepCost::AnalyticStepCost(llm::LlamaConfig model, LoadedChip chip, int64_t tp, int64_t pp,
                                   int64_t ep)
    : model_(std::move(model)), stage_(model_), chip_(std::move(chip)), tp_(tp), pp_(pp), ep_(ep) {
  check_parallelism(model_, tp_, pp_, ep_);
  stage_.n_layers = (model_.n_layers + pp_ - 1) / pp_;
}

double AnalyticStepCost::prompt_seconds(int64_t length) const {
  return analytic::cost_step(chip_.config, stage_, {analytic::Phase::kPrefill, {length}},
                             {tp_, ep_})
      .seconds;
}

double AnalyticStepCost::handoffs(int64_t tokens) const {
  if (pp_ == 1) return 0;
  const analytic::ChipRates rates = analytic::chip_rates(chip_.config);
  const double bytes = static_cast<double>(tokens * model_.dim * 2);  // BF16 activations
  return static_cast<double>(pp_ - 1) * (bytes / rates.link_bytes_per_s + rates.link_latency_s);
}

StepCost AnalyticStepCost::priced(double seconds) const {
  return {seconds, chip_.config.power.tdp_w * static_cast<double>(tp_ * pp_) * seconds};
}

StepCost AnalyticStepCost::prefill(int64_t tokens, int64_t context) const {
  check_step(tokens, context, "prefill");
  if (tokens > context) throw InputError("prefill: a chunk cannot be longer than its context");
  const double alone = prompt_seconds(tokens);
  if (tokens == context) return priced(static_cast<double>(pp_) * alone + handoffs(tokens));
  // The last `tokens` of a `context`-long prompt cost more than the same tokens right after the
  // first `tokens` only by attention over the deeper context; the kernel floors and the weight
  // traffic cancel in the difference.
  const double deep = prompt_seconds(context) - prompt_seconds(context - tokens);
  const double shallow = 2 * tokens <= context ? prompt_seconds(2 * tokens) - alone : deep;
  return priced(static_cast<double>(pp_) * (alone + std::max(0.0, deep - shallow)) +
                handoffs(tokens));
}

StepCost AnalyticStepCost::decode(int64_t batch, double mean_context) const {
  const int64_t context = std::max<int64_t>(1, std::llround(mean_context));
  check_step(batch, context, "decode");
  // A micro-batch of ceil(batch / pp) through every stage, as SimulatedStepCost::decode.
  const int64_t micro = (batch + pp_ - 1) / pp_;
  const analytic::StepShape shape{analytic::Phase::kDecode,
                                  std::vector<int64_t>(static_cast<size_t>(micro), context)};
  return priced(static_cast<double>(pp_) *
                    analytic::cost_step(chip_.config, stage_, shape, {tp_, ep_}).seconds +
                handoffs(micro));
}

std::string AnalyticStepCost::method() const {
  return "analytic model (sim/analytic, efficiencies fitted on A100/H100), energy estimated as "
         "power.tdp_w x chips x busy time";
}

std::unique_ptr<StepCostModel> make_direct_cost(const llm::LlamaConfig& model,
                                                const LoadedChip& chip, int64_t tp, int64_t pp,
                                                int64_t ep) {
  if (chip.config.kind == "gpu") return std::make_unique<AnalyticStepCost>(model, chip, tp, pp, ep);
  return std::make_unique<SimulatedStepCost>(model, chip, tp, pp, ep);
}

std::string cost_identity(const llm::LlamaConfig& m, const LoadedChip& chip, int64_t tp,
                          const StepCostModel& direct, int64_t pp, int64_t ep) {
  const std::string shape = std::to_string(m.dim) + "," + std::to_string(m.hidden_dim) + "," +
                            std::to_string(m.n_layers) + "," + std::to_string(m.n_heads) + "," +
                            std::to_string(m.n_kv_heads) + "," + std::to_string(m.vocab_size) +
                            "," + std::to_string(m.head_dim()) + "," + std::to_string(m.n_experts) +
                            "," + std::to_string(m.experts_per_token) + "," +
                            std::to_string(m.gated_ffn) + std::to_string(m.attention_bias) +
                            std::to_string(m.qk_norm) + std::to_string(m.shared_classifier);
  char hash[17];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(fnv1a(resolved_config_yaml(chip))));
  return m.name + " [" + shape + "] on " + chip.config.name + " (config " + hash + "), TP " +
         std::to_string(tp) + (pp > 1 ? " x PP " + std::to_string(pp) : "") +
         (ep > 1 ? ", EP " + std::to_string(ep) : "") + ", " + direct.method() + ", prices v" +
         std::to_string(kStepPriceVersion);
}

// ---- the cache ----

std::string describe(const CostShape& s) {
  return std::string(s.prefill ? "prefill " : "decode batch ") + std::to_string(s.size) +
         (s.prefill ? " tokens" : "") + ", context " + std::to_string(s.context);
}

CachedStepCost::CachedStepCost(const StepCostModel& direct, CostGridOptions grid)
    : direct_(direct), grid_(grid) {
  auto require = [](bool ok, const char* what) {
    if (!ok) throw InputError(std::string("cost grid: ") + what);
  };
  const CostGridOptions& g = grid_;
  require(g.decode_batch_max >= 1, "decode_batch_max must be at least 1");
  require(g.decode_batch_points >= 1, "decode_batch_points must be at least 1");
  require(g.decode_context_low >= 1 && g.decode_context_high > g.decode_context_low,
          "decode contexts must satisfy 1 <= decode_context_low < decode_context_high");
  require(g.prefill_tokens_min >= 1 && g.prefill_tokens_max >= g.prefill_tokens_min,
          "prefill tokens must satisfy 1 <= prefill_tokens_min <= prefill_tokens_max");
  require(g.prefill_token_points >= 1, "prefill_token_points must be at least 1");
  require(g.prefill_context_high > g.prefill_tokens_max,
          "prefill_context_high must exceed prefill_tokens_max");
  batches_ = log_spaced(1, g.decode_batch_max, g.decode_batch_points);
  tokens_ = log_spaced(g.prefill_tokens_min, g.prefill_tokens_max, g.prefill_token_points);
}

std::vector<CostShape> CachedStepCost::grid_shapes() const {
  std::vector<CostShape> shapes;
  for (int64_t t : tokens_) {
    shapes.push_back({true, t, t});
    shapes.push_back({true, t, grid_.prefill_context_high});
  }
  for (int64_t b : batches_) {
    shapes.push_back({false, b, grid_.decode_context_low});
    shapes.push_back({false, b, grid_.decode_context_high});
  }
  return shapes;
}

void CachedStepCost::measure(const std::vector<CostShape>& shapes, int jobs,
                             const Progress& progress) {
  std::vector<CostShape> todo;
  for (const CostShape& s : shapes)
    if (!measured_.contains(s) && std::find(todo.begin(), todo.end(), s) == todo.end())
      todo.push_back(s);
  // Longest first (a step's work grows with its tokens times its context), so that on several
  // threads the largest steps do not start last and leave the others idle.
  std::stable_sort(todo.begin(), todo.end(), [](const CostShape& a, const CostShape& b) {
    return a.size * std::max<int64_t>(a.context, 256) > b.size * std::max<int64_t>(b.context, 256);
  });
  std::vector<StepCost> results(todo.size());
  std::atomic<size_t> next{0};
  std::mutex mutex;  // progress calls and the first error
  std::exception_ptr error;
  int64_t started = 0;
  auto work = [&] {
    for (size_t i = next++; i < todo.size(); i = next++) {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (error) return;
        if (progress) progress(started++, static_cast<int64_t>(todo.size()), todo[i]);
      }
      try {
        const CostShape& s = todo[i];
        results[i] = s.prefill ? direct_.prefill(s.size, s.context)
                               : direct_.decode(s.size, static_cast<double>(s.context));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::current_exception();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  const int n = std::clamp<int>(jobs, 1, static_cast<int>(std::max<size_t>(todo.size(), 1)));
  for (int i = 1; i < n; ++i) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  if (error) std::rethrow_exception(error);
  for (size_t i = 0; i < todo.size(); ++i) measured_[todo[i]] = results[i];
}

StepCost CachedStepCost::direct(const CostShape& s) {
  if (const auto it = measured_.find(s); it != measured_.end()) return it->second;
  const StepCost c = s.prefill ? direct_.prefill(s.size, s.context)
                               : direct_.decode(s.size, static_cast<double>(s.context));
  measured_[s] = c;
  return c;
}

StepCost CachedStepCost::at(const CostShape& s) const {
  const auto it = measured_.find(s);
  if (it == measured_.end())
    throw std::logic_error("cost grid: " + describe(s) + " not measured (call measure first)");
  return it->second;
}

// A chunk of at most prefill_tokens_max tokens: affine in the context for each grid size (the
// line through its whole-prompt point and its point at prefill_context_high), linear between
// sizes.
StepCost CachedStepCost::chunk(int64_t tokens, int64_t context) const {
  auto along_context = [&](int64_t t) {
    const StepCost a = at({true, t, t}), b = at({true, t, grid_.prefill_context_high});
    const double f =
        static_cast<double>(context - t) / static_cast<double>(grid_.prefill_context_high - t);
    return lerp(a, b, f);
  };
  const Segment s = segment(tokens_, static_cast<double>(tokens));
  if (s.lo == s.hi) return along_context(tokens_[s.lo]);
  return lerp(along_context(tokens_[s.lo]), along_context(tokens_[s.hi]), s.f);
}

StepCost CachedStepCost::prefill(int64_t tokens, int64_t context) const {
  check_step(tokens, context, "prefill");
  if (tokens > context) throw InputError("prefill: a chunk cannot be longer than its context");
  // Consecutive chunks of at most prefill_tokens_max tokens, the last one ending at `context`.
  std::vector<StepCost> chunks;
  for (int64_t done = 0; done < tokens;) {
    const int64_t n = std::min(grid_.prefill_tokens_max, tokens - done);
    done += n;
    chunks.push_back(chunk(n, context - tokens + done));
  }
  return chunks.size() == 1 ? chunks.front() : combine(chunks, decode(1, 1));
}

StepCost CachedStepCost::decode(int64_t batch, double mean_context) const {
  if (batch < 1 || mean_context < 1)
    throw InputError("decode: sizes and contexts must be at least 1");
  const double f = (mean_context - static_cast<double>(grid_.decode_context_low)) /
                   static_cast<double>(grid_.decode_context_high - grid_.decode_context_low);
  auto along_context = [&](int64_t b) {
    return lerp(at({false, b, grid_.decode_context_low}), at({false, b, grid_.decode_context_high}),
                f);
  };
  const Segment s = segment(batches_, static_cast<double>(batch));
  if (s.lo == s.hi) return along_context(batches_[s.lo]);
  return lerp(along_context(batches_[s.lo]), along_context(batches_[s.hi]), s.f);
}

std::string CachedStepCost::method() const {
  return direct_.method() + ", interpolated from " + std::to_string(grid_shapes().size()) +
         " measured steps";
}

std::vector<CostShape> consistency_shapes(const CostGridOptions& g, int64_t samples,
                                          uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto log_uniform = [&](int64_t lo, int64_t hi) {
    std::uniform_real_distribution<double> u(std::log(static_cast<double>(lo)),
                                             std::log(static_cast<double>(hi)));
    return std::clamp<int64_t>(std::llround(std::exp(u(rng))), lo, hi);
  };
  std::vector<CostShape> shapes;
  for (int64_t i = 0; i < samples; ++i) {
    CostShape s;
    s.prefill = i % 2 == 1;
    if (s.prefill) {
      s.size = log_uniform(g.prefill_tokens_min, g.prefill_tokens_max);
      s.context = log_uniform(s.size, g.prefill_context_high);
    } else {
      s.size = log_uniform(1, g.decode_batch_max);
      s.context = log_uniform(g.decode_context_low, 2 * g.decode_context_high);
    }
    shapes.push_back(s);
  }
  return shapes;
}

ConsistencyReport check_consistency(CachedStepCost& cache, int64_t samples, uint64_t seed, int jobs,
                                    const CachedStepCost::Progress& progress) {
  const std::vector<CostShape> shapes = consistency_shapes(cache.grid(), samples, seed);
  cache.measure(shapes, jobs, progress);
  ConsistencyReport r;
  for (const CostShape& s : shapes) {
    const double direct = cache.direct(s).seconds;
    const double cached = s.prefill ? cache.prefill(s.size, s.context).seconds
                                    : cache.decode(s.size, static_cast<double>(s.context)).seconds;
    const double error = std::abs(cached - direct) / direct;
    r.mean_error += error;
    if (error >= r.max_error) {
      r.max_error = error;
      r.worst = describe(s);
    }
    ++r.samples;
  }
  if (r.samples) r.mean_error /= static_cast<double>(r.samples);
  return r;
}

void save_cost_table(const std::string& path, const std::string& identity,
                     const std::map<CostShape, StepCost>& measured) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& [s, c] : measured)
    steps.push_back({{"phase", s.prefill ? "prefill" : "decode"},
                     {"size", s.size},
                     {"context", s.context},
                     {"seconds", c.seconds},
                     {"joules", c.joules}});
  // Written beside the target and renamed over it, so that a reader (another process of a sweep
  // sharing the folder) sees the old table or the new one, never half of one.
  const std::string temporary = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temporary);
    if (!out) throw InputError(temporary + ": cannot open the cost table for writing");
    out << nlohmann::json{{"identity", identity}, {"steps", steps}}.dump(1) << "\n";
    if (!out) throw InputError(temporary + ": write failed");
  }
  std::error_code error;
  std::filesystem::rename(temporary, path, error);
  if (error) {
    std::filesystem::remove(temporary, error);
    throw InputError(path + ": cannot replace the cost table: " + error.message());
  }
}

std::map<CostShape, StepCost> load_cost_table(const std::string& path,
                                              const std::string& identity) {
  std::ifstream in(path);
  if (!in) return {};
  std::map<CostShape, StepCost> measured;
  try {
    const nlohmann::json j = nlohmann::json::parse(in);
    if (j.at("identity").get<std::string>() != identity) return {};
    for (const nlohmann::json& s : j.at("steps"))
      measured[{s.at("phase").get<std::string>() == "prefill", s.at("size").get<int64_t>(),
                s.at("context").get<int64_t>()}] = {s.at("seconds").get<double>(),
                                                    s.at("joules").get<double>()};
  } catch (const nlohmann::json::exception& e) {
    throw InputError(path + ": not a cost table: " + e.what());
  }
  return measured;
}

}  // namespace seedchip::serve
