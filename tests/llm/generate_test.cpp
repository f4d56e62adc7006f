#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>

#include "llm/generate_reference.h"
#include "llm/reference.h"
#include "tests/input_error.h"
#include "tests/llm/llm_test_util.h"

namespace seedchip::llm {
namespace {

using seedchip::testing::error_of;
using ::testing::HasSubstr;
using namespace seedchip::llm::testing;

std::string trim_right(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  return s;
}

// The output lines of the first code block after `marker` in stories260K.md: the lines after
// the "$ ./run ..." command line, up to the closing fence.
std::string expected_run_output(const std::string& marker) {
  const std::vector<char> bytes = read_bytes(kStoriesMd);
  std::istringstream md(std::string(bytes.begin(), bytes.end()));
  std::string line, out;
  bool seen_marker = false, in_block = false, seen_command = false;
  while (std::getline(md, line)) {
    if (!seen_marker) {
      seen_marker = line.find(marker) != std::string::npos;
    } else if (!in_block) {
      in_block = line.rfind("```", 0) == 0;
    } else if (line.rfind("```", 0) == 0) {
      break;
    } else if (!seen_command) {
      EXPECT_EQ(line.rfind("$ ./run", 0), 0u) << line;
      seen_command = true;
    } else {
      out += line + "\n";
    }
  }
  EXPECT_TRUE(seen_command) << "no run.c block after \"" << marker << "\" in " << kStoriesMd;
  return trim_right(out);
}

TEST(GenerateReference, GreedyDecodeMatchesRunC) {
  const LlamaModel model = load_llama2c(kStories);
  const Tokenizer tok = Tokenizer::load(kTok512);
  Sampler greedy(512, 0.0f, 0.9f, 0, 0);
  const auto start = std::chrono::steady_clock::now();
  const std::string text = generate_reference(model, tok, "", 256, greedy);
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::cout << "[ reference ] 256 greedy steps in " << ms << " ms\n";
  const std::string expected = expected_run_output("Sampling this model at temperature 0.0");
  ASSERT_THAT(expected, ::testing::StartsWith("Once upon a time"));
  EXPECT_EQ(trim_right(text), expected);
}

// run.c's seeded sampling at temperature 1.0 with top-p 0.9 (the second sample in the .md):
// reproduces the RNG, the nucleus and the sampling order exactly.
TEST(GenerateReference, SeededNucleusSamplingMatchesRunC) {
  const LlamaModel model = load_llama2c(kStories);
  const Tokenizer tok = Tokenizer::load(kTok512);
  Sampler sampler(512, 1.0f, 0.9f, 0, 133742);
  const std::string text = generate_reference(model, tok, "", 256, sampler);
  EXPECT_EQ(trim_right(text), expected_run_output("Sampling at 1.0 with topp of 0.9"));
}

TEST(GenerateReference, PromptTokensAreForcedAndPrinted) {
  const LlamaModel model = load_llama2c(kStories);
  const Tokenizer tok = Tokenizer::load(kTok512);
  Sampler greedy(512, 0.0f, 0.9f, 0, 0);
  const std::string from_prompt = generate_reference(model, tok, "Once upon a time", 256, greedy);
  // The prompt is the greedy text's own start, so forcing it changes nothing.
  const std::string expected = expected_run_output("Sampling this model at temperature 0.0");
  EXPECT_EQ(trim_right(from_prompt), expected);
  // A short run stops after `steps` positions: BOS, then 4 prompt tokens, then 3 sampled.
  const std::string shortened = generate_reference(model, tok, "Once upon a time", 7, greedy);
  EXPECT_EQ(shortened, expected.substr(0, shortened.size()));
  EXPECT_THAT(shortened, ::testing::StartsWith("Once upon a time"));
  EXPECT_GT(shortened.size(), std::string("Once upon a time").size());
}

TEST(GenerateReference, RejectsAMismatchedTokenizer) {
  LlamaModel model = load_llama2c(kStories);
  model.config.vocab_size = 500;
  const Tokenizer tok = Tokenizer::load(kTok512);
  Sampler greedy(500, 0.0f, 0.9f, 0, 0);
  EXPECT_THAT(error_of([&] { generate_reference(model, tok, "", 10, greedy); }),
              HasSubstr("differs from the tokenizer's 512 tokens"));
}

TEST(ReferenceModel, LayerOutputsAreTheResidualStream) {
  const LlamaModel model = load_llama2c(kStories);
  ReferenceModel ref(model);
  const std::span<const float> first = ref.forward(1, 0);
  const std::vector<float> logits0(first.begin(), first.end());
  ASSERT_EQ(logits0.size(), 512u);
  for (int l = 0; l < 5; ++l) {
    const std::vector<float>& x = ref.layer_output(l);
    ASSERT_EQ(x.size(), 64u);
    for (const float v : x) EXPECT_TRUE(std::isfinite(v));
    if (l > 0) {
      EXPECT_NE(x, ref.layer_output(l - 1));
    }
  }
  // The logits are the classifier applied to the RMSNorm of the last layer's output.
  const std::vector<float>& last = ref.layer_output(4);
  float ss = 0.0f;
  for (const float v : last) ss += v * v;
  const float inv = 1.0f / std::sqrt(ss / 64.0f + 1e-5f);
  for (int t : {0, 17, 511}) {
    float logit = 0.0f;
    for (int j = 0; j < 64; ++j)
      logit +=
          model.weights.classifier[static_cast<size_t>(t * 64 + j)] *
          (model.weights.rms_final[static_cast<size_t>(j)] * (inv * last[static_cast<size_t>(j)]));
    EXPECT_NEAR(logit, logits0[static_cast<size_t>(t)], 1e-4f) << t;
  }

  // Rerunning position 0 after position 1 gives the same logits (the cache is rewritten).
  ref.forward(403, 1);
  const std::span<const float> again = ref.forward(1, 0);
  EXPECT_TRUE(std::equal(again.begin(), again.end(), logits0.begin()));
}

TEST(ReferenceModel, BadArgumentsRaiseInputError) {
  const LlamaModel model = load_llama2c(kStories);
  ReferenceModel ref(model);
  EXPECT_THAT(error_of([&] { ref.forward(512, 0); }), HasSubstr("token id 512 out of range"));
  EXPECT_THAT(error_of([&] { ref.forward(-1, 0); }), HasSubstr("token id -1 out of range"));
  EXPECT_THAT(error_of([&] { ref.forward(1, 1); }), HasSubstr("position 1 out of range"));
  EXPECT_THAT(error_of([&] { ref.forward(1, -1); }), HasSubstr("position -1 out of range"));
  EXPECT_THAT(error_of([&] { ref.layer_output(5); }), HasSubstr("layer 5 out of range"));
  EXPECT_EQ(error_of([&] { ref.forward(1, 0); }), "");
  EXPECT_EQ(error_of([&] { ref.forward(1, 1); }), "");
}

}  // namespace
}  // namespace seedchip::llm
