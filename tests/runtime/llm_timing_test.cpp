// Timing-only runs of Llama-family shapes on groups of chips (runtime/llm_timing.h), on small
// shapes so that each simulation takes well under a second.
#include "runtime/llm_timing.h"

#include <gtest/gtest.h>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "llm/model_preset.h"

namespace seedchip::runtime {
namespace {

llm::LlamaConfig small_model() {
  llm::LlamaConfig c;
  c.name = "small";
  c.dim = 1024;
  c.hidden_dim = 2048;
  c.n_layers = 4;
  c.n_heads = 8;
  c.n_kv_heads = 4;
  c.vocab_size = 4096;
  c.seq_len = 1024;
  c.shared_classifier = false;
  return c;
}

ScaleOptions small_run() {
  ScaleOptions o;
  o.batch = 1;
  o.input_len = 64;
  o.output_len = 8;
  return o;
}

// A model this small is latency-bound at batch 1 (its operators are short); decode still moves
// bytes rather than computing.
TEST(LlmTiming, DecodeAtBatchOneMovesBytesAndTheReportAddsUp) {
  const LoadedChip chip = load_chip("seedchip-v1");
  const ScaleReport r = run_llm_at_scale(small_model(), chip, small_run());
  EXPECT_NE(r.decode.bound, "compute");
  EXPECT_GT(r.decode.hbm_utilization, 10 * r.decode.mxu_utilization);
  EXPECT_EQ(r.decode.steps, 7);
  EXPECT_EQ(r.prefill.steps, 1);
  EXPECT_NEAR(r.tpot * 7, r.decode.seconds, 1e-12);
  EXPECT_GE(r.decode.seconds, r.decode.roofline_seconds);  // never faster than its roofline
  EXPECT_GT(r.prefill.mxu_utilization, r.decode.mxu_utilization);
  EXPECT_GT(r.joules_per_output_token, 0);
  EXPECT_GT(r.decode.energy.static_j, 0);
  EXPECT_EQ(r.decode_samples.size(), 3u);
  EXPECT_LT(r.decode_interpolation_error, 0.05);
  // Weights: 4 layers of bf16 Q/K/V/O and three feed-forward matrices, embedding and classifier.
  const double layer = 1024.0 * (1024 + 2 * 512) + 1024.0 * 1024 + 3 * 1024.0 * 2048;
  EXPECT_DOUBLE_EQ(r.weight_bytes_per_chip, 2 * (4 * layer + 2 * 4096.0 * 1024));
}

TEST(LlmTiming, TensorParallelismSplitsTheWeightsAndUsesTheLinks) {
  const LoadedChip chip = load_chip("seedchip-v1");
  ScaleOptions o = small_run();
  const ScaleReport one = run_llm_at_scale(small_model(), chip, o);
  o.tp = 4;
  const ScaleReport four = run_llm_at_scale(small_model(), chip, o);
  EXPECT_EQ(four.chips, 4);
  // Everything but the embedding table (each chip keeps all of it) is split four ways.
  const double embedding = 2 * 4096.0 * 1024;
  EXPECT_NEAR(four.weight_bytes_per_chip - embedding, (one.weight_bytes_per_chip - embedding) / 4,
              1);
  EXPECT_EQ(one.decode.link_bytes, 0);
  EXPECT_GT(four.decode.link_bytes, 0);
  EXPECT_GT(four.decode.link_utilization, 0);
  EXPECT_LT(four.tpot, one.tpot);
  // One token's 2 KiB residual stream: one-shot (2 hops at most on a ring of 4) beats the ring's
  // 6 latencies; each chip sends its buffer to 3 others, twice per layer.
  EXPECT_EQ(one.decode.all_reduce, "");
  EXPECT_EQ(four.decode.all_reduce, "one-shot");
  const double gathers = four.decode.link_bytes - 7 * 4 * 2 * 3 * 2048.0;
  EXPECT_NEAR(gathers, 7 * 3.0 / 4 * 4096 * 4, 1);  // the f32 logits all-gather of each iteration
}

// Layer reuse: one simulated layer stands for every layer. The full simulation of each layer
// differs only by the HBM state the layer starts from.
TEST(LlmTiming, LayerReuseStaysCloseToSimulatingEveryLayer) {
  const LoadedChip chip = load_chip("seedchip-v1");
  ScaleOptions o = small_run();
  const ScaleReport reused = run_llm_at_scale(small_model(), chip, o);
  o.reuse_layers = false;
  const ScaleReport full = run_llm_at_scale(small_model(), chip, o);
  EXPECT_NEAR(reused.tpot / full.tpot, 1, 0.05);
  EXPECT_NEAR(reused.prefill.seconds / full.prefill.seconds, 1, 0.05);
}

TEST(LlmTiming, MixturesOfExpertsAndTheVariantsBuild) {
  const LoadedChip chip = load_chip("seedchip-v1");
  llm::LlamaConfig moe = small_model();
  moe.n_experts = 8;
  moe.experts_per_token = 2;
  moe.hidden_dim = 512;
  moe.attention_bias = true;
  moe.qk_norm = true;
  ScaleOptions o = small_run();
  o.batch = 4;
  const ScaleReport r = run_llm_at_scale(moe, chip, o);
  EXPECT_GT(r.tpot, 0);
  EXPECT_GT(r.prefill.mxu_utilization, 0);
  // Every expert lives in HBM, though a batch-1 step reads only the two it is routed to.
  o.batch = 1;
  const ScaleReport one = run_llm_at_scale(moe, chip, o);
  EXPECT_NEAR(one.weight_bytes_per_chip / (2.0 * static_cast<double>(llm::parameter_count(moe))), 1,
              0.01);
  // qwen3-235b-a22b's 470 GB of BF16 weights need more than two chips even at batch 1.
  ScaleOptions two = small_run();
  two.tp = 2;
  EXPECT_THROW(run_llm_at_scale(llm::load_model_preset("qwen3-235b-a22b").config, chip, two),
               InputError);
}

TEST(LlmTiming, BadOptionsAndModelsThatDoNotFitAreRefused) {
  const LoadedChip chip = load_chip("seedchip-v1");
  ScaleOptions o = small_run();
  o.tp = 3;  // 8 heads do not split 3 ways
  EXPECT_THROW(run_llm_at_scale(small_model(), chip, o), InputError);
  o = small_run();
  o.input_len = 2000;  // beyond the context
  EXPECT_THROW(run_llm_at_scale(small_model(), chip, o), InputError);
  o = small_run();
  o.batch = 3;
  o.pp = 2;  // micro-batches must divide the batch
  EXPECT_THROW(run_llm_at_scale(small_model(), chip, o), InputError);
  // llama-3.1-405b does not fit one chip.
  EXPECT_THROW(run_llm_at_scale(llm::load_model_preset("llama-3.1-405b").config, chip, small_run()),
               InputError);
  EXPECT_THROW(run_llm_at_scale(llm::load_model_preset("bloom-176b").config, chip, small_run()),
               InputError);
}

}  // namespace
}  // namespace seedchip::runtime
