// The decode step of stories260K compiled for seedchip-v1 and run on the functional simulator,
// checked against the plain C++ reference forward pass: every layer's output and the logits at
// each position, and the greedy tokens.
#include "runtime/generate.h"

#include <gtest/gtest.h>

#include "llm/reference.h"
#include "llm/sampler.h"
#include "tests/input_error.h"

namespace seedchip::runtime {
namespace {

const std::string kStories = std::string(SEEDCHIP_SHARED_DATA_DIR) + "/models/stories260K.bin";

double nmse(const std::vector<float>& got, std::span<const float> want) {
  double error = 0, power = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    error +=
        (static_cast<double>(got.at(i)) - want[i]) * (static_cast<double>(got.at(i)) - want[i]);
    power += static_cast<double>(want[i]) * want[i];
  }
  return error / power;
}

compiler::CompileOptions fp32_grade() {
  compiler::CompileOptions o;
  o.matmul_precision = compiler::MatmulPrecision::kBf16x6;
  return o;
}

TEST(ChipDecoder, EveryLayerMatchesTheHostReferenceAndGreedyTokensAgree) {
  const llm::LlamaModel model = llm::load_llama2c(kStories);
  const LoadedChip chip = load_chip("seedchip-v1");
  constexpr int64_t kSteps = 5;
  ChipDecoder chip_decoder(model, chip, kSteps, fp32_grade(), {.layer_outputs = true});
  llm::ReferenceModel reference(model);
  int token = 1;  // BOS
  for (int64_t pos = 0; pos < kSteps; ++pos) {
    const StepResult r = chip_decoder.step(token, pos);
    const std::span<const float> want = reference.forward(token, static_cast<int>(pos));
    ASSERT_EQ(r.layer_outputs.size(), static_cast<size_t>(model.config.n_layers));
    for (int l = 0; l < model.config.n_layers; ++l)
      EXPECT_LE(nmse(r.layer_outputs[static_cast<size_t>(l)], reference.layer_output(l)), 1e-10)
          << "layer " << l << " at position " << pos;
    EXPECT_LE(nmse(r.logits, want), 1e-10) << "logits at position " << pos;
    const int next = llm::argmax(r.logits);
    EXPECT_EQ(next, llm::argmax(want)) << "position " << pos;
    EXPECT_GT(r.cycles, 0u);
    token = next;
  }
}

// The acceptance run: 256 greedy positions on the chip (FP32-grade products) give the host
// reference's tokens, whose text GenerateReference.GreedyDecodeMatchesRunC checks against the
// published stories260K.md.
TEST(ChipDecoder, TheFull256GreedyTokensAreTheReferences) {
  const llm::LlamaModel model = llm::load_llama2c(kStories);
  const LoadedChip chip = load_chip("seedchip-v1");
  constexpr int64_t kSteps = 256;
  ChipDecoder decoder(model, chip, kSteps, fp32_grade());
  llm::ReferenceModel reference(model);
  std::vector<int> chip_tokens, reference_tokens;
  int chip_token = 1, reference_token = 1;  // BOS
  for (int64_t pos = 0; pos < kSteps; ++pos) {
    chip_token = llm::argmax(decoder.step(chip_token, pos).logits);
    reference_token = llm::argmax(reference.forward(reference_token, static_cast<int>(pos)));
    chip_tokens.push_back(chip_token);
    reference_tokens.push_back(reference_token);
  }
  EXPECT_EQ(chip_tokens, reference_tokens);
}

// The default decoder runs its steps without a clock; its numbers must be a timed run's, to the
// bit, and its one timing-only step must time the steps as the timed runs do (the gathers of the
// timed runs read other HBM rows than the timing-only run's row 0).
TEST(ChipDecoder, FunctionalOnlyStepsMatchTimedStepsToTheBit) {
  const llm::LlamaModel model = llm::load_llama2c(kStories);
  const LoadedChip chip = load_chip("seedchip-v1");
  constexpr int64_t kSteps = 4;
  ChipDecoder fast(model, chip, kSteps, fp32_grade());
  ChipDecoder timed(model, chip, kSteps, fp32_grade(), {.time_every_step = true});
  int token = 1;
  for (int64_t pos = 0; pos < kSteps; ++pos) {
    const StepResult a = fast.step(token, pos);
    const StepResult b = timed.step(token, pos);
    EXPECT_EQ(a.logits, b.logits) << "position " << pos;
    EXPECT_NEAR(static_cast<double>(a.cycles), static_cast<double>(b.cycles),
                0.01 * static_cast<double>(b.cycles))
        << "position " << pos;
    token = llm::argmax(a.logits);
  }
}

// Three sequences of different lengths decode together over 2-position pages, so that each
// sequence's rows are scattered through the pools between the others': slot 0 starts at step 0,
// slot 1 at step 2 and slot 2 at step 5 (until then they restart at position 0 every step, which
// frees and takes their pages again). Each slot must match its own host reference.
TEST(ChipDecoder, ABatchOfSequencesOfDifferentLengthsMatchesTheReference) {
  const llm::LlamaModel model = llm::load_llama2c(kStories);
  const LoadedChip chip = load_chip("seedchip-v1");
  constexpr int64_t kContext = 8;
  ChipDecoder decoder(model, chip, kContext, fp32_grade(), {.batch = 3, .page_rows = 2});
  const std::vector<int64_t> start = {0, 2, 5};
  std::vector<llm::ReferenceModel> references;
  for (size_t b = 0; b < start.size(); ++b) references.emplace_back(model);
  std::vector<SlotStep> steps(3, SlotStep{1, 0});
  for (int64_t t = 0; t < kContext; ++t) {
    const std::vector<StepResult> results = decoder.step(steps);
    for (size_t b = 0; b < steps.size(); ++b) {
      const std::span<const float> want =
          references[b].forward(steps[b].token, static_cast<int>(steps[b].pos));
      EXPECT_LE(nmse(results[b].logits, want), 1e-10)
          << "slot " << b << " at position " << steps[b].pos << ", step " << t;
      EXPECT_EQ(llm::argmax(results[b].logits), llm::argmax(want));
      if (t + 1 > start[b]) {
        steps[b] = {llm::argmax(results[b].logits), steps[b].pos + 1};
      }
    }
  }
  EXPECT_EQ(steps[0].pos, kContext);
  EXPECT_EQ(steps[2].pos, kContext - start[2]);
  EXPECT_GT(decoder.kv_cache().free_pages(), 0);
}

TEST(ChipDecoder, RefusesTokensAndPositionsOutsideTheModel) {
  const llm::LlamaModel model = llm::load_llama2c(kStories);
  const LoadedChip chip = load_chip("seedchip-v1");
  ChipDecoder d(model, chip, 2, fp32_grade(), {.functional = false});
  EXPECT_NE(testing::error_of([&] { d.step(512, 0); }).find("outside the vocabulary"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] { d.step(1, 2); }).find("outside the context [0, 2)"),
            std::string::npos);
  EXPECT_NE(testing::error_of([&] { d.step(1, 1); }).find("does not follow"), std::string::npos);
}

}  // namespace
}  // namespace seedchip::runtime
