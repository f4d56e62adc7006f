// Speed of functional text generation on the simulated chip: stories260K's decode step compiled
// for seedchip-v1 and run token by token (greedy), against the plain C++ host reference forward
// pass generating the same tokens in the same run. Ratio = chip wall time per token / reference
// wall time per token (issue target: within 5x). Also checks that both produce the same tokens.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "llm/reference.h"
#include "llm/sampler.h"
#include "runtime/generate.h"

int main(int argc, char** argv) {
  using namespace seedchip;
  const std::string path = std::string(SEEDCHIP_SHARED_DATA_DIR) + "/models/stories260K.bin";
  const int steps = argc > 1 ? std::stoi(argv[1]) : 32;
  const llm::LlamaModel model = llm::load_llama2c(path);
  const LoadedChip chip = load_chip("seedchip-v1");
  compiler::CompileOptions options;
  options.matmul_precision = compiler::MatmulPrecision::kBf16x6;

  auto now = [] { return std::chrono::steady_clock::now(); };
  auto seconds = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };

  std::vector<int> reference_tokens;
  const auto r0 = now();
  llm::ReferenceModel reference(model);
  for (int pos = 0, token = 1; pos < steps; ++pos) {
    token = llm::argmax(reference.forward(token, pos));
    reference_tokens.push_back(token);
  }
  const double reference_s = seconds(r0, now());

  const auto c0 = now();
  runtime::ChipDecoder decoder(model, chip, steps, options);
  const auto c1 = now();
  std::vector<int> chip_tokens;
  double simulated = 0;
  for (int pos = 0, token = 1; pos < steps; ++pos) {
    const runtime::StepResult r = decoder.step(token, pos);
    simulated += r.seconds;
    token = llm::argmax(r.logits);
    chip_tokens.push_back(token);
  }
  const double chip_s = seconds(c1, now());

  std::printf("stories260K, %d greedy tokens, context %d\n", steps, steps);
  std::printf("  host reference      %10.3f ms/token  (%.0f tokens/s)\n", 1e3 * reference_s / steps,
              steps / reference_s);
  std::printf("  simulated chip      %10.3f ms/token  (%.1f tokens/s), compile %.2f s\n",
              1e3 * chip_s / steps, steps / chip_s, seconds(c0, c1));
  std::printf("  simulated time      %10.3f us/token on %s\n", 1e6 * simulated / steps,
              chip.config.name.c_str());
  std::printf("  ratio chip / reference wall time per token: %.0f (target <= 5)\n",
              chip_s / reference_s);
  const bool same = chip_tokens == reference_tokens;
  std::printf("  tokens identical: %s\n", same ? "yes" : "NO");
  return same ? 0 : 1;
}
