// Qwen2 (attention biases), Mixtral (mixture of experts), Qwen3 (per-head q/k norms, heads wider
// than the model) and Qwen3-MoE (Qwen3 with experts gated by the softmax over all) decoded on
// seedchip-v1: tiny synthetic models written by the converter and read back from their files, a
// batch of two sequences of different lengths, every layer's output and the logits checked against
// the host reference; the experts computed sparsely, and against the dense form.
#include <gtest/gtest.h>

#include <algorithm>
#include <iostream>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "llm/convert.h"
#include "llm/model_file.h"
#include "llm/model_io.h"
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

// The tiny model as the converter writes it and load_model reads it back: Qwen2 and Qwen3-MoE from
// GGUF, Mixtral and Qwen3 from a Hugging Face directory.
llm::LlamaModel from_file(Variant v) {
  const llm::LlamaModel tiny = llm::testing::tiny_model(v);
  const std::string path =
      ::testing::TempDir() + "seedchip_runtime_tiny_" + llm::testing::variant_name(v);
  if (v == Variant::kQwen2 || v == Variant::kQwen3Moe) {
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

// BF16 products (the chip's native numerics): the logits within BF16's error of the reference.
TEST_P(ChipDecoderVariants, Bf16ProductsStayCloseToTheReference) {
  const llm::LlamaModel model = from_file(GetParam());
  const LoadedChip chip = load_chip("seedchip-v1");
  constexpr int64_t kContext = 6;
  compiler::CompileOptions options;
  options.matmul_precision = compiler::MatmulPrecision::kBf16;
  ChipDecoder decoder(model, chip, kContext, options);
  llm::ReferenceModel reference(model);
  double worst = 0;
  int token = 1;
  for (int64_t pos = 0; pos < kContext; ++pos) {
    const StepResult r = decoder.step(token, pos);
    const std::span<const float> want = reference.forward(token, static_cast<int>(pos));
    worst = std::max(worst, nmse(r.logits, want));
    token = llm::argmax(want);  // teacher-forced: a BF16 near-tie may pick another token
  }
  EXPECT_LE(worst, 1e-3);
  std::cout << "[ " << llm::testing::variant_name(GetParam()) << " ] worst logits NMSE with BF16 "
            << "products: " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(Llm, ChipDecoderVariants,
                         ::testing::Values(Variant::kQwen2, Variant::kMixtral, Variant::kQwen3,
                                           Variant::kQwen3Moe),
                         [](const auto& info) {
                           return std::string(llm::testing::variant_name(info.param));
                         });

size_t instructions(const compiler::CompiledModel& m) {
  size_t n = 0;
  for (const isa::Section& s : m.program.sections) n += s.code.size();
  return n;
}

// Tiny Qwen3-MoE with 16 experts, 2 per token (experts 6..15 reuse the matrices of experts
// 0..5 under router rows of their own), where a token's experts are an eighth of the layer's.
llm::LlamaModel with_16_experts(llm::LlamaModel m) {
  constexpr int64_t kExperts = 16;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (llm::LlamaLayer& l : m.weights.layers) {
    const std::span<float> router =
        llm::ModelStorage::own(m, static_cast<size_t>(kExperts * m.config.dim));
    for (float& x : router) x = normal(rng);
    l.router = router;
    for (size_t e = l.experts.size(); e < kExperts; ++e)
      l.experts.push_back(l.experts[e % static_cast<size_t>(m.config.n_experts)]);
  }
  m.config.n_experts = kExperts;
  m.path += "-16-experts";
  return m;
}

// The sparse experts give the dense form's logits (within float rounding: the sums' order
// differs), and the figures of one decode step of each (context 8, batch 1 and 4, FP32-grade
// products) are printed: simulated cycles, HBM bytes moved, static instructions.
TEST(ChipDecoderExperts, SparseExpertsGiveTheDenseLogits) {
  const LoadedChip chip = load_chip("seedchip-v1");
  constexpr int64_t kContext = 8;
  compiler::CompileOptions options;
  options.matmul_precision = compiler::MatmulPrecision::kBf16x6;
  const llm::LlamaModel qwen3_moe = from_file(Variant::kQwen3Moe);
  for (const llm::LlamaModel& model :
       {from_file(Variant::kMixtral), qwen3_moe, with_16_experts(qwen3_moe)}) {
    for (const int64_t batch : {1, 4}) {
      SCOPED_TRACE(model.path + " batch " + std::to_string(batch));
      ChipDecoder sparse(model, chip, kContext, options,
                         {.batch = batch, .experts = llm::ExpertForm::kSparse});
      ChipDecoder dense(model, chip, kContext, options,
                        {.batch = batch, .experts = llm::ExpertForm::kDense});
      std::vector<SlotStep> steps;
      for (int64_t b = 0; b < batch; ++b) steps.push_back({static_cast<int>(1 + 7 * b), 0});
      double worst = 0;
      StepResult s_step, d_step;
      for (int64_t t = 0; t < 4; ++t) {
        const std::vector<StepResult> s = sparse.step(steps), d = dense.step(steps);
        for (size_t b = 0; b < steps.size(); ++b) {
          worst = std::max(worst, nmse(s[b].logits, d[b].logits));
          steps[b] = {llm::argmax(d[b].logits), steps[b].pos + 1};
        }
        s_step = s[0];
        d_step = d[0];
      }
      EXPECT_LE(worst, 1e-10);
      const auto bytes = [](const StepResult& r) {
        double sum = 0;
        for (const OpStats& op : *r.ops) sum += op.hbm_bytes;
        return sum;
      };
      std::cout << "[ " << model.path << " (" << model.config.n_experts << " experts, "
                << model.config.experts_per_token << " per token), batch " << batch
                << " ] per decode step, dense -> sparse: cycles " << d_step.cycles << " -> "
                << s_step.cycles << ", HBM bytes " << bytes(d_step) << " -> " << bytes(s_step)
                << ", instructions " << instructions(dense.program()) << " -> "
                << instructions(sparse.program()) << "; logits NMSE " << worst << "\n";
    }
  }
}

}  // namespace
}  // namespace seedchip::runtime
