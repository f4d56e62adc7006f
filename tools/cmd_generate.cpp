// seedchip generate: text from a Llama, Qwen2 or Mixtral model on the simulated chip, token by
// token, with the chip's timing per step and the same decode step timed on a comparison chip (h200
// by default).
#include <algorithm>
#include <cstdio>
#include <memory>

#include "arch/error.h"
#include "llm/model_file.h"
#include "llm/model_preset.h"
#include "llm/sampler.h"
#include "llm/tokenizer.h"
#include "runtime/generate.h"
#include "tools/common.h"
#include "tools/generate_at_scale.h"

namespace seedchip::tools {
namespace {

struct GenerateCommand {
  std::string model, tokenizer, prompt, json, precision = "bf16x6", compare = "h200";
  int steps = 256;
  float temperature = 1.0f, top_p = 0.9f;
  int top_k = 0;
  uint64_t seed = 0;
  ChipOptions chip;
  QuantizationFlags quantization;
  ScaleCommand scale;  // a model shape preset or --timing-only: on a group of chips
  bool timing_only = false;
  bool time_every_step = false;
};

// The step's operators summed: HBM bytes, MXU work, and the bound of the operator with the most
// cycles.
struct StepFigures {
  double hbm_bytes = 0, mxu_utilization = 0;
  std::string bound;
};

StepFigures figures_of(const runtime::StepResult& s) {
  StepFigures f;
  uint64_t longest = 0;
  for (const runtime::OpStats& op : *s.ops) {
    f.hbm_bytes += op.hbm_bytes;
    f.mxu_utilization += op.mxu_utilization * static_cast<double>(op.cycles);
    if (op.cycles > longest) {
      longest = op.cycles;
      f.bound = op.bound + " (" + op.op + ")";
    }
  }
  f.mxu_utilization /= static_cast<double>(std::max<uint64_t>(s.cycles, 1));
  return f;
}

void run_generate(const GenerateCommand& c) {
  if (c.timing_only || llm::is_model_preset(c.model) || c.model.ends_with(".yaml")) {
    if (c.quantization.given())
      throw InputError(
          "--quantize-weights and --quantize-activations apply to text generation from a model "
          "file; timing-only runs time BF16 weights");
    ScaleCommand scale = c.scale;
    scale.model = c.model;
    scale.json = c.json;
    run_generate_at_scale(scale, c.chip);
    return;
  }
  const runtime::ScaleOptions& o = c.scale.options;
  if (o.tp != 1 || o.pp != 1 || o.ep != 1 || o.batch != 1 || c.scale.chips > 1 ||
      !o.trace_path.empty() || !c.scale.stats.empty())
    throw InputError(
        "--chips, --tp, --pp, --ep, --batch, --trace and --stats apply to timing-only runs (a "
        "model preset, or --timing-only); " +
        c.model + " generates text on one chip, one sequence");
  const LoadedChip chip = c.chip.load();
  const llm::LlamaModel model = llm::load_model(c.model);
  const llm::Tokenizer tokenizer = llm::tokenizer_for(model, c.tokenizer);
  const int64_t steps =
      c.steps <= 0 ? model.config.seq_len : std::min<int64_t>(c.steps, model.config.seq_len);
  compiler::CompileOptions options;
  options.matmul_precision = compiler::precision_from_name(c.precision);
  options.quantization = c.quantization.options();
  // The context is what this run uses: attention reads (and masks) every cached position.
  std::fprintf(stderr, "compiling the decode step of %s for %s (context %lld)...\n",
               c.model.c_str(), chip.config.name.c_str(), static_cast<long long>(steps));
  runtime::ChipDecoder decoder(model, chip, steps, options, {.time_every_step = c.time_every_step});
  llm::Sampler sampler(static_cast<int>(model.config.vocab_size), c.temperature, c.top_p, c.top_k,
                       c.seed);
  const std::vector<int> prompt = tokenizer.encode(c.prompt, true, false);

  InterruptGuard guard([] {});
  std::vector<runtime::StepResult> results;
  int token = prompt.at(0), generated = 0;
  double prompt_seconds = 0;
  for (int64_t pos = 0; pos < steps && !InterruptGuard::interrupted(); ++pos) {
    runtime::StepResult r = decoder.step(token, pos);
    const bool in_prompt = pos + 1 < static_cast<int64_t>(prompt.size());
    const int next = in_prompt ? prompt[static_cast<size_t>(pos + 1)] : sampler.sample(r.logits);
    if (pos + 1 < static_cast<int64_t>(prompt.size()) || generated == 0)
      prompt_seconds += r.seconds;  // up to and including the first generated token
    results.push_back(std::move(r));
    if (next == llm::Tokenizer::kBos) break;  // run.c's end of text
    std::fputs(tokenizer.decode_piece(token, next).c_str(), stdout);
    std::fflush(stdout);
    if (!in_prompt) ++generated;
    token = next;
  }
  std::printf("\n");

  // The comparison chip runs the same decode step in timing-only mode (its timing does not
  // depend on the data).
  const LoadedChip other = load_chip(c.compare);
  runtime::ChipDecoder other_decoder(model, other, steps, options, {.functional = false});
  const runtime::StepResult other_step = other_decoder.step(0, 0);

  double decode_seconds = 0;
  for (size_t i = prompt.size(); i < results.size(); ++i) decode_seconds += results[i].seconds;
  const size_t decode_steps = results.size() > prompt.size() ? results.size() - prompt.size() : 0;
  const double tpot = decode_steps ? decode_seconds / static_cast<double>(decode_steps)
                                   : (results.empty() ? 0 : results.back().seconds);
  const StepFigures mine = figures_of(results.back()), theirs = figures_of(other_step);
  std::printf("\n%-34s %16s %16s\n", "decode step (batch 1)", chip.config.name.c_str(),
              other.config.name.c_str());
  std::printf("%-34s %16.2f %16.2f\n", "time per output token (us)", tpot * 1e6,
              other_step.seconds * 1e6);
  std::printf("%-34s %16.0f %16.0f\n", "tokens/s", tpot > 0 ? 1 / tpot : 0,
              other_step.seconds > 0 ? 1 / other_step.seconds : 0);
  std::printf("%-34s %16llu %16llu\n", "cycles per step",
              static_cast<unsigned long long>(results.back().cycles),
              static_cast<unsigned long long>(other_step.cycles));
  std::printf("%-34s %16.0f %16.0f\n", "HBM bytes per step", mine.hbm_bytes, theirs.hbm_bytes);
  std::printf("%-34s %16.4f %16.4f\n", "MXU utilization", mine.mxu_utilization,
              theirs.mxu_utilization);
  std::printf("%-34s %16s %16s\n", "longest operator bound", mine.bound.c_str(),
              theirs.bound.c_str());
  const std::vector<runtime::OpStats>& step_ops = *results.back().ops;
  const auto with_code = std::count_if(step_ops.begin(), step_ops.end(),
                                       [](const runtime::OpStats& s) { return s.bound != "none"; });
  compiler::InstructionCounts step_instructions;
  for (const runtime::OpStats& s : step_ops) {
    step_instructions.all += s.instructions.all;
    step_instructions.units += s.instructions.units;
  }
  std::printf(
      "%s: %zu prompt tokens, %d generated; TTFT %.2f us simulated; %zu operators per "
      "step, %zu with code (the others are aliases); %llu instructions per step over all cores, "
      "%llu of them for the MXU, VPU and DMA\n",
      chip.config.name.c_str(), prompt.size(), generated, prompt_seconds * 1e6, step_ops.size(),
      static_cast<size_t>(with_code), static_cast<unsigned long long>(step_instructions.all),
      static_cast<unsigned long long>(step_instructions.units));
  if (!c.json.empty())
    write_json(c.json,
               {{"model", c.model},
                {"prompt_tokens", prompt.size()},
                {"generated_tokens", generated},
                {"ttft", figure(prompt_seconds, "s")},
                {"time_per_output_token", figure(tpot, "s")},
                {"hbm_bytes_per_step", figure(mine.hbm_bytes, "bytes")},
                {"mxu_utilization", figure(mine.mxu_utilization, "ratio")},
                {"instructions_per_step",
                 figure(static_cast<double>(step_instructions.all), "instructions")},
                {"unit_instructions_per_step",
                 figure(static_cast<double>(step_instructions.units), "instructions")},
                {"compare",
                 {{"chip", other.config.name},
                  {"time_per_output_token", figure(other_step.seconds, "s")},
                  {"hbm_bytes_per_step", figure(theirs.hbm_bytes, "bytes")},
                  {"mxu_utilization", figure(theirs.mxu_utilization, "ratio")}}}},
               &chip);
}

}  // namespace

void register_generate(CLI::App& app) {
  auto c = std::make_shared<GenerateCommand>();
  CLI::App* cmd = app.add_subcommand(
      "generate",
      "generate text with a Llama, Qwen2 or Mixtral model (llama2.c, GGUF or safetensors) on the "
      "simulated chip, token by token");
  cmd->add_option(
         "--model", c->model,
         "model file (llama2.c .bin, .gguf, .safetensors, or a Hugging Face directory "
         "with config.json), or a model shape preset (" +
             [] {
               std::string names;
               for (const std::string& n : llm::list_model_presets())
                 names += (names.empty() ? "" : ", ") + n;
               return names;
             }() +
             ") for timing only")
      ->required();
  cmd->add_option("--tokenizer", c->tokenizer,
                  "llama2.c tokenizer (.bin); default: the vocabulary a GGUF model carries");
  cmd->add_option("--prompt", c->prompt, "text to start from (default: none)");
  cmd->add_option("-n,--steps", c->steps, "positions to run, prompt included (<= 0: seq_len)")
      ->default_val(256);
  cmd->add_option("--temperature", c->temperature, "0 = greedy")->default_val(1.0f);
  cmd->add_option("--top-p", c->top_p, "nucleus sampling threshold")->default_val(0.9f);
  cmd->add_option("--top-k", c->top_k, "keep the k most probable tokens (0 = all)")->default_val(0);
  cmd->add_option("--seed", c->seed, "sampling seed")->default_val(0);
  cmd->add_option("--matmul-precision", c->precision,
                  "FP32 matrix products as bf16, bf16x3 or bf16x6 (FP32-grade)")
      ->default_val("bf16x6");
  c->quantization.add_to(*cmd);
  cmd->add_option("--compare-chip", c->compare, "chip preset timed beside it")->default_val("h200");
  cmd->add_option("--json", c->json, "write the report as JSON");
  runtime::ScaleOptions& scale = c->scale.options;
  cmd->add_option("--chips", c->scale.chips, "chips of the instance (= tp x pp; presets only)");
  cmd->add_option("--tp", scale.tp, "tensor parallelism over chips (presets only)")->default_val(1);
  cmd->add_option("--pp", scale.pp, "pipeline stages (presets only)")->default_val(1);
  cmd->add_option("--ep", scale.ep,
                  "expert parallelism: a stage's --tp chips hold the experts in ep groups "
                  "(divides --tp and the experts; mixtures of experts, presets only)")
      ->default_val(1);
  cmd->add_option("--batch", scale.batch, "sequences decoded together (presets only)")
      ->default_val(1);
  cmd->add_option("--input-len", scale.input_len, "prompt tokens per sequence (presets only)")
      ->default_val(128);
  cmd->add_option("--output-len", scale.output_len, "generated tokens per sequence (presets only)")
      ->default_val(128);
  cmd->add_option("--prefill-chunk", scale.prefill_chunk,
                  "prompt tokens per prefill step, 0 = the whole prompt (presets only)")
      ->default_val(0);
  cmd->add_flag("--time-every-step", c->time_every_step,
                "simulate each step with data and clock (exact per-step timing, ~50x slower); "
                "default: steps run functional-only and one timing-only step times them all");
  cmd->add_flag("--timing-only", c->timing_only,
                "time prefill and decode of a batch without data (implied for presets)");
  cmd->add_option("--trace", scale.trace_path,
                  "Perfetto trace of the first simulated decode layer (timing-only runs)");
  cmd->add_option("--stats", c->scale.stats,
                  "stats tree of the first simulated decode layer as JSON (timing-only runs)");
  cmd->add_flag("!--no-layer-reuse", scale.reuse_layers,
                "simulate every layer instead of one per stage (presets only)");
  c->chip.add_to(*cmd);
  cmd->callback([c] { run_generate(*c); });
}

}  // namespace seedchip::tools
