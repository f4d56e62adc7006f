// Functional text generation on the simulated chip: stories260K's decode step compiled for
// seedchip-v1 and run token by token (greedy), against the plain C++ FP32 host reference forward
// pass generating in the same run. Speed: ratio = chip wall time per token / reference wall time
// per token (issue target: within 5x); the chip's steps run functional-only, with one timing-only
// step timing them all (runtime/generate.h; it runs, with the compiler, in the setup the bench
// reports apart), and a few steps simulated with clock and data show
// what exact per-step timing costs. The reference's time is the best of several runs: it is short
// enough for the machine's noise to matter. Numerics: with FP32-grade products (bf16x6) and with
// BF16 products (bf16, one MXU pass), the logits' NMSE against the FP32 reference and whether the
// greedy tokens are the reference's. Exits non-zero if the bf16x6 tokens differ.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "llm/reference.h"
#include "llm/sampler.h"
#include "runtime/generate.h"

namespace {

using namespace seedchip;

struct ChipRun {
  std::vector<int> tokens;
  double wall_s = 0, setup_s = 0, simulated_s = 0, worst_nmse = 0;
};

double nmse(const std::vector<float>& got, const std::vector<float>& want) {
  double error = 0, power = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    error += (static_cast<double>(got[i]) - want[i]) * (static_cast<double>(got[i]) - want[i]);
    power += static_cast<double>(want[i]) * want[i];
  }
  return error / power;
}

// Teacher-forced on the reference's tokens, so that every step's logits compare like for like.
ChipRun run_on_chip(const llm::LlamaModel& model, const LoadedChip& chip,
                    compiler::MatmulPrecision precision, const std::vector<int>& reference_tokens,
                    const std::vector<std::vector<float>>& reference_logits,
                    const runtime::DecoderOptions& decoder_options = {}, int64_t steps_run = -1) {
  auto now = [] { return std::chrono::steady_clock::now(); };
  auto seconds = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  compiler::CompileOptions options;
  options.matmul_precision = precision;
  const auto context = static_cast<int64_t>(reference_tokens.size());
  const int64_t steps = steps_run < 0 ? context : steps_run;
  ChipRun run;
  const auto c0 = now();
  runtime::ChipDecoder decoder(model, chip, context, options, decoder_options);
  const auto c1 = now();
  run.setup_s = seconds(c0, c1);
  for (int64_t pos = 0; pos < steps; ++pos) {
    const int token = pos == 0 ? 1 : reference_tokens[static_cast<size_t>(pos - 1)];
    const runtime::StepResult r = decoder.step(token, pos);
    run.simulated_s += r.seconds;
    run.tokens.push_back(llm::argmax(r.logits));
    run.worst_nmse =
        std::max(run.worst_nmse, nmse(r.logits, reference_logits[static_cast<size_t>(pos)]));
  }
  run.wall_s = seconds(c1, now());
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = std::string(SEEDCHIP_SHARED_DATA_DIR) + "/models/stories260K.bin";
  const int steps = argc > 1 ? std::stoi(argv[1]) : 64;
  const llm::LlamaModel model = llm::load_llama2c(path);
  const LoadedChip chip = load_chip("seedchip-v1");

  std::vector<int> reference_tokens;
  std::vector<std::vector<float>> reference_logits;
  double reference_s = 1e30;
  for (int repeat = 0; repeat < 5; ++repeat) {
    reference_tokens.clear();
    reference_logits.clear();
    const auto r0 = std::chrono::steady_clock::now();
    llm::ReferenceModel reference(model);
    for (int pos = 0, token = 1; pos < steps; ++pos) {
      const std::span<const float> logits = reference.forward(token, pos);
      reference_logits.emplace_back(logits.begin(), logits.end());
      token = llm::argmax(logits);
      reference_tokens.push_back(token);
    }
    reference_s = std::min(
        reference_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count());
  }

  const ChipRun fp32 = run_on_chip(model, chip, compiler::MatmulPrecision::kBf16x6,
                                   reference_tokens, reference_logits);
  const ChipRun bf16 = run_on_chip(model, chip, compiler::MatmulPrecision::kBf16, reference_tokens,
                                   reference_logits);
  constexpr int64_t kTimedSteps = 4;
  const ChipRun timed = run_on_chip(model, chip, compiler::MatmulPrecision::kBf16x6,
                                    reference_tokens, reference_logits, {.time_every_step = true},
                                    std::min<int64_t>(kTimedSteps, steps));

  std::printf("stories260K on %s, %d greedy positions (context %d)\n", chip.config.name.c_str(),
              steps, steps);
  std::printf("  host reference (FP32)      %10.3f ms/token\n", 1e3 * reference_s / steps);
  std::printf(
      "  simulated chip, bf16x6     %10.3f ms/token (setup %.2f s), %.2f us/token "
      "simulated\n",
      1e3 * fp32.wall_s / steps, fp32.setup_s, 1e6 * fp32.simulated_s / steps);
  std::printf("  ratio chip / reference wall time per token: %.0f (target <= 5)\n",
              fp32.wall_s / reference_s);
  std::printf("  every step timed with data, bf16x6: %.3f ms/token over %lld steps (ratio %.0f)\n",
              1e3 * timed.wall_s / static_cast<double>(timed.tokens.size()),
              static_cast<long long>(timed.tokens.size()),
              timed.wall_s / static_cast<double>(timed.tokens.size()) / (reference_s / steps));
  std::printf("  bf16x6 products: worst logits NMSE %.3g, greedy tokens %s\n", fp32.worst_nmse,
              fp32.tokens == reference_tokens ? "identical" : "DIFFERENT");
  std::printf("  bf16 products:   worst logits NMSE %.3g, greedy tokens %s\n", bf16.worst_nmse,
              bf16.tokens == reference_tokens ? "identical" : "DIFFERENT");
  return fp32.tokens == reference_tokens ? 0 : 1;
}
