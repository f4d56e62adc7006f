#include "runtime/llm_timing.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "arch/chip_peaks.h"
#include "arch/error.h"
#include "compiler/codegen/compile.h"
#include "llm/llama_step_graph.h"
#include "runtime/model_file.h"
#include "runtime/runtime.h"
#include "sim/core/unit_timing.h"
#include "sim/link/collectives.h"

namespace seedchip::runtime {

namespace {

namespace ir = compiler::ir;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// One chip's work, summed over simulated runs (each weighted by how many times it stands for).
struct ChipWork {
  double seconds = 0, macs = 0, hbm_bytes = 0, ideal_hbm_bytes = 0, vpu_busy_cycles = 0,
         core_cycles = 0, link_seconds = 0, link_bytes = 0;
  sim::Energy energy;                                        // dynamic, this chip
  std::set<std::string> all_reduce, all_gather, all_to_all;  // the collectives' algorithms

  void add(const ChipWork& o, double times) {
    seconds += o.seconds * times;
    macs += o.macs * times;
    hbm_bytes += o.hbm_bytes * times;
    ideal_hbm_bytes += o.ideal_hbm_bytes * times;
    vpu_busy_cycles += o.vpu_busy_cycles * times;
    core_cycles += o.core_cycles * times;
    link_seconds += o.link_seconds * times;
    link_bytes += o.link_bytes * times;
    energy += o.energy.scaled(times);
    all_reduce.insert(o.all_reduce.begin(), o.all_reduce.end());
    all_gather.insert(o.all_gather.begin(), o.all_gather.end());
    all_to_all.insert(o.all_to_all.begin(), o.all_to_all.end());
  }
};

// Bytes of the graph's inputs: BF16 weights, and the KV cache (inputs named *_cache). A mixture of
// experts' step graph holds only the experts its tokens reach (the leading dimension of its
// *experts.w* inputs); all `n_experts` it holds (its share of each with tp, n_experts / ep with
// expert parallelism) live in HBM (`resident_weights`).
struct InputBytes {
  double weights = 0, resident_weights = 0, kv = 0;
};

InputBytes input_bytes(const ir::Graph& g, int64_t n_experts) {
  InputBytes b;
  for (ir::ValueId v : g.inputs) {
    const ir::Value& value = g.value(v);
    const double bytes = static_cast<double>(value.type.element_count()) *
                         static_cast<double>(ir::element_bytes(value.type.element));
    if (value.name.ends_with("_cache")) {
      b.kv += bytes;
    } else if (value.type.element == ir::ElementType::BF16) {
      b.weights += bytes;
      const auto& dims = value.type.dims;
      const bool experts = value.name.find("experts.w") != std::string::npos && n_experts > 0 &&
                           dims && !dims->empty() && dims->front() > 0;
      b.resident_weights +=
          experts ? bytes * static_cast<double>(n_experts) / static_cast<double>(dims->front())
                  : bytes;
    }
  }
  return b;
}

class ScaleRun {
 public:
  ScaleRun(const llm::LlamaConfig& model, const LoadedChip& chip, const ScaleOptions& o)
      : model_(model), chip_(chip), o_(o), peaks_(chip_peaks(chip.config)) {
    options_.matmul_precision = compiler::MatmulPrecision::kBf16;
    layers_per_stage_ = ceil_div(model.n_layers, o.pp);
  }

  // One chip's work for `layers` decoder layers of a step of `shape`, with the TP all-reduces
  // (and with expert parallelism the all-to-alls and the experts' all-gather).
  ChipWork layers(const llm::StepShape& shape, int64_t layers) {
    const int64_t simulated = o_.reuse_layers ? 1 : layers;
    ir::Graph g = llm::build_layer_step_graph(model_, shape, o_.tp, simulated, o_.ep);
    const InputBytes bytes = input_bytes(g, model_.n_experts / o_.ep);
    ChipWork w = simulate(std::move(g), "layer" + std::string(simulated > 1 ? "s" : ""), shape);
    w.ideal_hbm_bytes = bytes.weights + bytes.kv;
    // Two all-reduces per layer (after attention and after the feed-forward) of the residual
    // stream's partial sums, in BF16. With expert parallelism the feed-forward's is replaced by
    // the dispatch and combine all-to-alls and an all-gather of the experts' output (the layout
    // in llm_timing.h).
    const int64_t m = shape.batch * shape.new_tokens;
    const auto stream_bytes = static_cast<uint64_t>(m * model_.dim * 2);
    const auto add = [&](const Collective& c, std::set<std::string>& names) {
      w.link_seconds += c.seconds * static_cast<double>(simulated);
      w.link_bytes += c.bytes_sent * static_cast<double>(simulated);
      names.insert(c.algorithm);
    };
    if (o_.tp > 1 && o_.ep > 1) {
      add(collective(stream_bytes, Kind::kAllReduce), w.all_reduce);
      const auto pairs_bytes =
          static_cast<uint64_t>(ceil_div(m * model_.experts_per_token * model_.dim * 2, o_.ep));
      const Collective exchange = collective(pairs_bytes, Kind::kAllToAll);
      add(exchange, w.all_to_all);  // dispatch
      add(exchange, w.all_to_all);  // combine
      add(collective(stream_bytes, Kind::kAllGather), w.all_gather);
    } else if (o_.tp > 1) {
      const Collective reduce = collective(stream_bytes, Kind::kAllReduce);
      w.link_seconds = 2 * reduce.seconds * static_cast<double>(simulated);
      w.link_bytes = 2 * reduce.bytes_sent * static_cast<double>(simulated);
      w.all_reduce.insert(reduce.algorithm);
    }
    w.seconds += w.link_seconds;
    ChipWork total;
    total.add(w, static_cast<double>(layers) / static_cast<double>(simulated));
    return total;
  }

  // The embedding gather and the classifier of a step, with the logits all-gather.
  ChipWork ends(const llm::StepShape& shape) {
    ir::Graph g = llm::build_ends_step_graph(model_, shape, o_.tp);
    const InputBytes bytes = input_bytes(g, model_.n_experts);
    ChipWork w = simulate(std::move(g), "embedding and classifier", shape);
    // The embedding rows are read, not the whole table.
    w.ideal_hbm_bytes = bytes.weights - static_cast<double>(model_.vocab_size * model_.dim * 2) +
                        static_cast<double>(shape.batch * shape.new_tokens * model_.dim * 2);
    const auto logits =
        static_cast<uint64_t>(shape.batch * ceil_div(model_.vocab_size, o_.tp) * o_.tp * 4);
    if (o_.tp > 1) {
      const Collective gather = collective(logits, Kind::kAllGather);
      w.link_seconds = gather.seconds;
      w.link_bytes = gather.bytes_sent;
      w.all_gather.insert(gather.algorithm);
    }
    w.seconds += w.link_seconds;
    return w;
  }

  // Activations handed from one pipeline stage to the next over one link.
  double stage_handoff_seconds(const llm::StepShape& shape) const {
    if (o_.pp == 1) return 0;
    const double bytes = static_cast<double>(shape.batch * shape.new_tokens * model_.dim * 2);
    return bytes / (chip_.config.links.gbytes_per_s * 1e9) + chip_.config.links.latency_ns * 1e-9;
  }

  int64_t layers_per_stage() const { return layers_per_stage_; }
  int64_t simulations() const { return simulations_; }
  const nlohmann::json& decode_layer_stats() const { return decode_layer_stats_; }
  const ChipPeaks& peaks() const { return peaks_; }

 private:
  ChipWork simulate(ir::Graph g, const std::string& what, const llm::StepShape& shape) {
    if (o_.progress)
      o_.progress(what + ": batch " + std::to_string(shape.batch) + " x " +
                  std::to_string(shape.new_tokens) + " tokens over " +
                  std::to_string(shape.context) + " positions");
    const compiler::CompiledModel compiled = compiler::compile_graph(std::move(g), chip_, options_);
    const bool first_decode_layer =
        shape.new_tokens == 1 && what.starts_with("layer") && decode_layer_stats_.is_null();
    // The first decode layer leaves its stats (and trace) behind: always simulated.
    if (first_decode_layer) return run_program(compiled, true);
    const std::string key = program_key(compiled);
    {
      const std::lock_guard lock(simulated_mutex());
      if (const auto it = simulated().find(key); it != simulated().end()) return it->second;
    }
    const ChipWork w = run_program(compiled, false);
    const std::lock_guard lock(simulated_mutex());
    simulated().emplace(key, w);
    return w;
  }

  // Identical programs on identical chips time identically (the timing simulator is
  // deterministic), so each is simulated once per process: steps that share a part (the embedding
  // and classifier of decode steps of one batch at different contexts) reuse its figures. Keyed by
  // the compiled program's bytes (which carry the chip descriptor) and the resolved chip
  // configuration, hashed.
  std::string program_key(const compiler::CompiledModel& compiled) const {
    const std::vector<uint8_t> bytes = serialize_model(compiled);
    uint64_t h = 14695981039346656037ull;  // FNV-1a
    for (const uint8_t b : bytes) h = (h ^ b) * 1099511628211ull;
    for (const char c : resolved_config_yaml(chip_))
      h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
    return std::to_string(h) + ":" + std::to_string(bytes.size());
  }
  static std::mutex& simulated_mutex() {
    static std::mutex m;
    return m;
  }
  static std::unordered_map<std::string, ChipWork>& simulated() {
    static std::unordered_map<std::string, ChipWork> memo;
    return memo;
  }

  ChipWork run_program(const compiler::CompiledModel& compiled, bool first_decode_layer) {
    ++simulations_;
    RunOptions run;
    run.functional = false;
    if (first_decode_layer) run.trace_path = o_.trace_path;
    const RunResult r = run_model(compiled, chip_, {}, run);
    if (first_decode_layer) decode_layer_stats_ = r.stats;
    ChipWork w;
    w.seconds = r.sim.seconds;
    w.core_cycles = static_cast<double>(r.sim.core_cycles);
    w.energy = r.energy;
    w.energy.static_j = 0;  // counted for the whole phase and every chip by the caller
    for (const OpStats& op : r.ops) w.hbm_bytes += op.hbm_bytes;
    const nlohmann::json& chip_stats = r.stats.at("chip");
    for (int64_t core = 0; core < chip_.config.core_count(); ++core) {
      const nlohmann::json& c = chip_stats.at("core" + std::to_string(core));
      w.macs += c.at("mxu").at("macs").at("value").get<double>();
      w.vpu_busy_cycles += c.at("vpu").at("busy_cycles").at("value").get<double>();
    }
    return w;
  }

  struct Collective {
    double seconds = 0, bytes_sent = 0;  // bytes one chip sends
    std::string algorithm;
  };

  enum class Kind { kAllReduce, kAllGather, kAllToAll };

  // A collective over the TP group (tp > 1), simulated on its links with the algorithm that
  // sim::choose_all_reduce / choose_all_gather pick for this message size on this topology (an
  // all-to-all has one).
  Collective collective(uint64_t bytes, Kind kind) {
    sim::EventQueue events;
    sim::StatTree stats;
    const sim::ClockDomain clock("core", static_cast<uint64_t>(chip_.config.core.clock_mhz), 1);
    sim::ChipLinks links(chip_.config.links, static_cast<int>(o_.tp), events, clock, stats,
                         "links");
    sim::Tick finished = 0;
    const auto done = [&](sim::Tick t) { finished = t; };
    Collective c;
    const double k = static_cast<double>(o_.tp);
    if (kind == Kind::kAllToAll) {
      sim::all_to_all(links, bytes, done);
      c.algorithm = sim::collective_algorithm_name(sim::CollectiveAlgorithm::kOneShot);
      c.bytes_sent = sim::all_to_all_bytes_sent(static_cast<int>(o_.tp), bytes);
    } else if (kind == Kind::kAllGather) {
      const sim::CollectiveAlgorithm algorithm = sim::choose_all_gather(links, bytes);
      sim::all_gather(links, bytes, algorithm, done);
      c.algorithm = sim::collective_algorithm_name(algorithm);
      c.bytes_sent = (k - 1) / k * static_cast<double>(bytes);
    } else {
      const sim::CollectiveAlgorithm algorithm = sim::choose_all_reduce(links, bytes);
      sim::all_reduce(links, bytes, algorithm, done);
      c.algorithm = sim::collective_algorithm_name(algorithm);
      c.bytes_sent = sim::all_reduce_bytes_sent(static_cast<int>(o_.tp), bytes, algorithm);
    }
    events.run();
    c.seconds = links.ticks_to_seconds(finished);
    return c;
  }

  const llm::LlamaConfig& model_;
  const LoadedChip& chip_;
  const ScaleOptions& o_;
  ChipPeaks peaks_;
  compiler::CompileOptions options_;
  int64_t layers_per_stage_ = 1;
  int64_t simulations_ = 0;
  nlohmann::json decode_layer_stats_;
};

void check_options(const ScaleOptions& o, const llm::LlamaConfig& model) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw InputError(what);
  };
  need(o.batch >= 1, "--batch must be at least 1");
  need(o.input_len >= 1, "--input-len must be at least 1");
  need(o.output_len >= 1, "--output-len must be at least 1");
  need(o.prefill_chunk >= 0, "--prefill-chunk must be 0 (the whole prompt) or positive");
  need(o.tp >= 1 && o.tp <= 64, "--tp must be in [1, 64]");
  need(o.ep >= 1 && o.ep <= o.tp, "--ep " + std::to_string(o.ep) + " must be in [1, --tp " +
                                      std::to_string(o.tp) +
                                      "] (experts are sharded over a stage's chips)");
  need(o.pp >= 1 && o.pp <= model.n_layers,
       "--pp must be in [1, " + std::to_string(model.n_layers) + "] (the model's layers)");
  need(o.batch % o.pp == 0, "--batch " + std::to_string(o.batch) + " must be a multiple of --pp " +
                                std::to_string(o.pp) + " (one micro-batch per pipeline stage)");
  need(o.input_len + o.output_len <= model.seq_len,
       model.name + ": input " + std::to_string(o.input_len) + " + output " +
           std::to_string(o.output_len) + " tokens exceed the model's context of " +
           std::to_string(model.seq_len));
}

// Figures of a phase from one chip's work over it.
PhaseReport phase_of(const ChipWork& w, const LoadedChip& chip, const ChipPeaks& peaks,
                     int64_t chips, int64_t steps) {
  PhaseReport p;
  p.seconds = w.seconds;
  p.steps = steps;
  p.step_seconds = steps ? w.seconds / static_cast<double>(steps) : 0;
  p.flops = 2 * w.macs;
  p.hbm_bytes = w.hbm_bytes;
  p.link_bytes = w.link_bytes;
  const double peak_macs_per_s =
      static_cast<double>(chip.config.core_count()) * chip.config.mxu.rows * chip.config.mxu.cols *
      sim::mxu_macs_per_pe(chip.config.mxu, DataType::BF16) * chip.config.core.clock_mhz * 1e6;
  const double hbm_per_s = peaks.hbm_gbytes_per_s * 1e9, link_per_s = peaks.link_gbytes_per_s * 1e9;
  const double t = std::max(w.seconds, 1e-30);
  p.mxu_utilization = w.macs / (peak_macs_per_s * t);
  p.hbm_utilization = w.hbm_bytes / (hbm_per_s * t);
  p.link_utilization = link_per_s > 0 ? w.link_bytes / (link_per_s * t) : 0;
  p.vpu_utilization = w.vpu_busy_cycles / (static_cast<double>(chip.config.core_count()) *
                                           std::max(w.core_cycles, 1.0));
  p.roofline_seconds =
      std::max(w.macs / peak_macs_per_s, w.ideal_hbm_bytes / hbm_per_s) + w.link_seconds;
  const double top = std::max({p.mxu_utilization, p.hbm_utilization, p.link_utilization});
  p.bound = top < 0.5                  ? "latency"
            : top == p.mxu_utilization ? "compute"
            : top == p.hbm_utilization ? "bandwidth"
                                       : "link";
  const auto joined = [](const std::set<std::string>& names) {
    std::string out;
    for (const std::string& name : names) out += (out.empty() ? "" : " + ") + name;
    return out;
  };
  p.all_reduce = joined(w.all_reduce);
  p.all_gather = joined(w.all_gather);
  p.all_to_all = joined(w.all_to_all);
  p.energy = w.energy.scaled(static_cast<double>(chips));
  p.energy.link_j =
      sim::link_energy_j(chip.config.power, w.link_bytes) * static_cast<double>(chips);
  p.energy.static_j = sim::static_energy_j(chip.config.power, w.seconds, static_cast<int>(chips));
  return p;
}

}  // namespace

ScaleReport run_llm_at_scale(const llm::LlamaConfig& model, const LoadedChip& chip,
                             const ScaleOptions& options) {
  check_options(options, model);
  ScaleReport report;
  report.model = model.name;
  report.chip = chip.config.name;
  report.options = options;
  report.chips = options.tp * options.pp;
  ScaleRun run(model, chip, options);
  const int64_t pp = options.pp, stage_layers = run.layers_per_stage();
  const int64_t chunk = options.prefill_chunk ? std::min(options.prefill_chunk, options.input_len)
                                              : options.input_len;
  const int64_t chunks_per_sequence = ceil_div(options.input_len, chunk);
  const int64_t max_context = options.input_len + options.output_len;

  // Memory: the stage's weights and the whole batch's cache at the longest context must fit.
  {
    const llm::StepShape full{options.batch, 1, max_context};
    const InputBytes one =
        input_bytes(llm::build_layer_step_graph(model, full, options.tp, 1, options.ep),
                    model.n_experts / options.ep);
    const InputBytes ends =
        input_bytes(llm::build_ends_step_graph(model, full, options.tp), model.n_experts);
    report.weight_bytes_per_chip =
        one.resident_weights * static_cast<double>(stage_layers) + ends.resident_weights;
    report.kv_bytes_per_chip = one.kv * static_cast<double>(stage_layers);
    report.hbm_bytes_per_chip = run.peaks().hbm_gbytes * 1e9;
    const double need = report.weight_bytes_per_chip + report.kv_bytes_per_chip;
    if (need > report.hbm_bytes_per_chip)
      throw InputError(model.name + " on " + std::to_string(report.chips) + " x " +
                       chip.config.name + ": the weights (" +
                       std::to_string(report.weight_bytes_per_chip / 1e9) +
                       " GB per chip) and the KV cache of " + std::to_string(options.batch) +
                       " sequences of " + std::to_string(max_context) + " tokens (" +
                       std::to_string(report.kv_bytes_per_chip / 1e9) + " GB) exceed the " +
                       std::to_string(report.hbm_bytes_per_chip / 1e9) +
                       " GB of HBM per chip; use more chips (--tp, --pp) or a smaller batch");
  }

  // Prefill: each sequence's chunks in order, one chunk per step, flowing through the stages.
  ChipWork chunks;  // one chip, one chunk of every position of one sequence, all its stage layers
  double stage_seconds_per_sequence = 0;
  for (int64_t c = 0; c < chunks_per_sequence; ++c) {
    const int64_t tokens = std::min(chunk, options.input_len - c * chunk);
    const llm::StepShape shape{1, tokens, c * chunk + tokens};
    ChipWork w = run.layers(shape, stage_layers);
    w.seconds += run.stage_handoff_seconds(shape);
    stage_seconds_per_sequence += w.seconds;
    chunks.add(w, 1);
  }
  const ChipWork prefill_ends = run.ends({1, 1, options.input_len});
  ChipWork prefill;
  // The pipeline: every stage works on a chunk while the others work on theirs; one chip (of one
  // stage) does its share of every chunk, the batch's prefill lasts the stream of chunks plus the
  // pipeline's fill.
  prefill.add(chunks, static_cast<double>(options.batch));
  prefill.add(prefill_ends, static_cast<double>(options.batch) / static_cast<double>(pp));
  const double fill = static_cast<double>(pp - 1) * stage_seconds_per_sequence /
                      static_cast<double>(chunks_per_sequence);
  prefill.seconds =
      static_cast<double>(options.batch) * (stage_seconds_per_sequence + prefill_ends.seconds) +
      fill;
  report.ttft_first = static_cast<double>(pp) * stage_seconds_per_sequence + prefill_ends.seconds;
  // Sequence i's first token comes after i + 1 sequences' chunks have passed the first stage.
  report.ttft_mean = static_cast<double>(options.batch + 1) / 2 *
                         (stage_seconds_per_sequence + prefill_ends.seconds) +
                     fill;
  report.prefill =
      phase_of(prefill, chip, run.peaks(), report.chips, options.batch * chunks_per_sequence);

  // Decode: output_len - 1 iterations after the prefill's first token, at contexts
  // input_len + 1 ... input_len + output_len - 1; pp micro-batches fill the pipeline.
  const int64_t iterations = options.output_len - 1;
  const int64_t first = options.input_len + 1, last = options.input_len + options.output_len - 1;
  const int64_t micro = options.batch / pp;
  std::vector<int64_t> contexts = {first};
  if (last > first + 1) contexts.push_back((first + last) / 2);
  if (last > first) contexts.push_back(last);
  std::vector<ChipWork> samples;
  for (int64_t context : contexts) {
    const llm::StepShape shape{micro, 1, context};
    ChipWork stage = run.layers(shape, stage_layers);
    stage.seconds += run.stage_handoff_seconds(shape);
    ChipWork iteration;
    iteration.add(stage, static_cast<double>(pp));  // the stage's chip runs every micro-batch
    const ChipWork e = run.ends({options.batch, 1, context});
    iteration.add(e, 1.0 / static_cast<double>(pp));
    iteration.seconds = static_cast<double>(pp) * stage.seconds + e.seconds;
    samples.push_back(iteration);
    report.decode_samples.push_back({context, iteration.seconds});
  }
  ChipWork decode;
  if (iterations > 0) {
    // Piecewise-linear between the samples: each iteration weighs on its two neighbours.
    for (int64_t ctx = first; ctx <= last; ++ctx) {
      size_t i = 0;
      while (i + 1 < contexts.size() && contexts[i + 1] < ctx) ++i;
      if (i + 1 >= contexts.size() || contexts[i] == ctx) {
        decode.add(samples[i], 1);
        continue;
      }
      const double f = static_cast<double>(ctx - contexts[i]) /
                       static_cast<double>(contexts[i + 1] - contexts[i]);
      decode.add(samples[i], 1 - f);
      decode.add(samples[i + 1], f);
    }
  }
  if (contexts.size() == 3) {
    const double line = (report.decode_samples[0].seconds + report.decode_samples[2].seconds) / 2;
    report.decode_interpolation_error =
        std::abs(report.decode_samples[1].seconds - line) / report.decode_samples[1].seconds;
  }
  report.decode = phase_of(decode, chip, run.peaks(), report.chips, iterations);
  report.tpot = iterations ? report.decode.seconds / static_cast<double>(iterations) : 0;
  const double total = report.prefill.seconds + report.decode.seconds;
  const double tokens = static_cast<double>(options.batch * options.output_len);
  report.output_tokens_per_second = tokens / total;
  report.joules_per_output_token =
      (report.prefill.energy.total_j() + report.decode.energy.total_j()) / tokens;
  report.simulations = run.simulations();
  report.decode_layer_stats = run.decode_layer_stats();
  return report;
}

StepTiming simulate_step(const llm::LlamaConfig& model, const LoadedChip& chip,
                         const llm::StepShape& shape, const ScaleOptions& options) {
  if (options.tp < 1 || options.pp < 1 || options.pp > model.n_layers || options.ep < 1 ||
      options.tp % options.ep != 0)
    throw InputError(
        "--tp must be at least 1, --pp in [1, the model's layers] and --ep a divisor "
        "of --tp (--tp " +
        std::to_string(options.tp) + ", --pp " + std::to_string(options.pp) + ", --ep " +
        std::to_string(options.ep) + ")");
  ScaleRun run(model, chip, options);
  ChipWork stage = run.layers(shape, run.layers_per_stage());
  stage.seconds += run.stage_handoff_seconds(shape);
  const ChipWork ends = run.ends(shape);
  const int64_t chips = options.tp * options.pp;
  StepTiming t;
  t.seconds = static_cast<double>(options.pp) * stage.seconds + ends.seconds;
  t.energy = stage.energy.scaled(static_cast<double>(chips));
  t.energy += ends.energy.scaled(static_cast<double>(options.tp));
  t.energy.link_j = sim::link_energy_j(chip.config.power, stage.link_bytes + ends.link_bytes) *
                    static_cast<double>(chips);
  t.energy.static_j = sim::static_energy_j(chip.config.power, t.seconds, static_cast<int>(chips));
  t.hbm_bytes_per_chip = stage.hbm_bytes + ends.hbm_bytes;
  return t;
}

}  // namespace seedchip::runtime
