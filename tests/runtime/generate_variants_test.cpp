// Qwen2 (attention biases) and Mixtral (mixture of experts) decoded on seedchip-v1: tiny synthetic
// models written by the converter and read back from their files, a batch of two sequences of
// different lengths, every layer's output and the logits checked against the host reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>

#include "llm/convert.h"
#include "llm/model_file.h"
#include "llm/reference.h"
#include "llm/sampler.h"
#include "runtime/generate.h"
#include "tests/llm/tiny_models.h"

namespace seedchip::runtime {
namespace {

using llm::testing::Variant;

double nmse(const std::vector<float>& got, std::span<const float> want) {
  double error = 0, power = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = static_cast<double>(got.at(i)) - want[i];
    error += d * d;
    power += static_cast<double>(want[i]) * want[i];
  }
  return error / power;
}

// The tiny model as the converter writes it and load_model reads it back: Qwen2 from GGUF,
// Mixtral from a Hugging Face directory.
llm::LlamaModel from_file(Variant v) {
  const llm::LlamaModel tiny = llm::testing::tiny_model(v);
  const std::string path =
      ::testing::TempDir() + "seedchip_runtime_tiny_" + llm::testing::variant_name(v);
  if (v == Variant::kQwen2) {
    llm::write_gguf(tiny, nullptr, path + ".gguf", llm::GgmlType::F32);
    return llm::load_model(path + ".gguf");
  }
  llm::write_safetensors(tiny, path, DataType::FP32);
  return llm::load_model(path);
}

class ChipDecoderVariants : public ::testing::TestWithParam<Variant> {};

// Slot 0 decodes from step 0; slot 1 restarts at position 0 until step 3, then decodes, over
// pages of 4 positions. FP32-grade products (bf16x6).
TEST_P(ChipDecoderVariants, ABatchOfTwoMatchesTheReferenceLayerByLayer) {
  const llm::LlamaModel model = from_file(GetParam());
  const LoadedChip chip = load_chip("seedchip-v1");
  constexpr int64_t kContext = 8;
  compiler::CompileOptions options;
  options.matmul_precision = compiler::MatmulPrecision::kBf16x6;
  ChipDecoder decoder(model, chip, kContext, options,
                      {.layer_outputs = true, .batch = 2, .page_rows = 4});
  const std::vector<int64_t> start = {0, 3};
  std::vector<llm::ReferenceModel> references(2, llm::ReferenceModel(model));
  std::vector<SlotStep> steps = {{1, 0}, {5, 0}};
  double worst_logits = 0, worst_layer = 0;
  for (int64_t t = 0; t < kContext; ++t) {
    const std::vector<StepResult> results = decoder.step(steps);
    for (size_t b = 0; b < steps.size(); ++b) {
      const std::span<const float> want =
          references[b].forward(steps[b].token, static_cast<int>(steps[b].pos));
      for (int l = 0; l < model.config.n_layers; ++l)
        worst_layer = std::max(worst_layer, nmse(results[b].layer_outputs[static_cast<size_t>(l)],
                                                 references[b].layer_output(l)));
      const double e = nmse(results[b].logits, want);
      worst_logits = std::max(worst_logits, e);
      EXPECT_LE(e, 1e-10) << "slot " << b << " at position " << steps[b].pos;
      const int next = llm::argmax(results[b].logits);
      EXPECT_EQ(next, llm::argmax(want)) << "slot " << b << " at position " << steps[b].pos;
      if (t + 1 > start[b]) steps[b] = {next, steps[b].pos + 1};
    }
  }
  EXPECT_LE(worst_layer, 1e-10);
  EXPECT_EQ(steps[0].pos, kContext);
  EXPECT_EQ(steps[1].pos, kContext - start[1]);
  std::cout << "[ " << llm::testing::variant_name(GetParam()) << " ] worst NMSE: logits "
            << worst_logits << ", layer outputs " << worst_layer << "\n";
}

INSTANTIATE_TEST_SUITE_P(Llm, ChipDecoderVariants,
                         ::testing::Values(Variant::kQwen2, Variant::kMixtral),
                         [](const auto& info) {
                           return std::string(llm::testing::variant_name(info.param));
                         });

}  // namespace
}  // namespace seedchip::runtime
