// Timing-only runs of Llama-family shapes on groups of chips (runtime/llm_timing.h), on small
// shapes so that each simulation takes well under a second.
#include "runtime/llm_timing.h"

#include <gtest/gtest.h>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "llm/llama_step_graph.h"
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

// The bf16 bytes of the expert weights one chip's step graph reads in one layer.
double expert_weight_bytes(const llm::LlamaConfig& model, int64_t batch, int64_t tp, int64_t ep) {
  const compiler::ir::Graph g = llm::build_layer_step_graph(model, {batch, 1, 64}, tp, 1, ep);
  double bytes = 0;
  for (const compiler::ir::ValueId v : g.inputs) {
    const compiler::ir::Value& value = g.value(v);
    if (value.name.find("experts.w") != std::string::npos)
      bytes += 2.0 * static_cast<double>(value.type.element_count());
  }
  return bytes;
}

// mixtral-8x7b (8 experts of 3 x 4096 x 14336, 2 per token) on TP 8: a decode step of 64 tokens
// reaches all 8 experts, so each chip reads one expert's worth of weights either way: an eighth
// of each of the 8 at EP 1, its one whole expert at EP 8. A single token reaches 2 experts: EP 1
// reads an eighth of each, EP 8 one whole expert on the chips it reaches (4x the bytes; the step
// waits for those chips), EP 2 a quarter of one expert (its group's chips split it 4 ways).
TEST(LlmTiming, ExpertParallelismShardsTheExpertsOverTheStage) {
  const llm::LlamaConfig mixtral = llm::load_model_preset("mixtral-8x7b").config;
  const double expert = 2.0 * 3 * 4096 * 14336;
  EXPECT_DOUBLE_EQ(expert_weight_bytes(mixtral, 64, 8, 1), expert);
  EXPECT_DOUBLE_EQ(expert_weight_bytes(mixtral, 64, 8, 8), expert);
  EXPECT_DOUBLE_EQ(expert_weight_bytes(mixtral, 64, 8, 2), expert);
  EXPECT_DOUBLE_EQ(expert_weight_bytes(mixtral, 1, 8, 1), expert / 4);
  EXPECT_DOUBLE_EQ(expert_weight_bytes(mixtral, 1, 8, 8), expert);
  EXPECT_DOUBLE_EQ(expert_weight_bytes(mixtral, 1, 8, 2), expert / 4);
  const llm::ShardShape ep8 = llm::shard_shape(mixtral, {64, 1, 64}, 8, 8);
  EXPECT_EQ(ep8.local_experts, 1);
  EXPECT_EQ(ep8.ffn, 14336);
  EXPECT_EQ(ep8.rows_per_expert, 16);  // 64 x 2 / 8 pairs
  const llm::ShardShape ep1 = llm::shard_shape(mixtral, {64, 1, 64}, 8);
  EXPECT_EQ(ep1.local_experts, 8);
  EXPECT_EQ(ep1.ffn, 1792);
  EXPECT_EQ(ep1.rows_per_expert, 16);

  // The whole run at batch 64 on 8 chips (short prompts, to keep the test quick): each chip
  // still holds an eighth of the experts; the layers' links carry the attention all-reduce, the
  // two all-to-alls and the experts' all-gather instead of two all-reduces.
  const LoadedChip chip = load_chip("seedchip-v1");
  ScaleOptions o;
  o.batch = 64;
  o.input_len = 16;
  o.output_len = 2;
  o.tp = 8;
  const ScaleReport tp = run_llm_at_scale(mixtral, chip, o);
  o.ep = 8;
  const ScaleReport ep = run_llm_at_scale(mixtral, chip, o);
  EXPECT_NEAR(ep.weight_bytes_per_chip / tp.weight_bytes_per_chip, 1, 1e-9);
  EXPECT_GT(ep.tpot, 0);
  EXPECT_EQ(tp.decode.all_to_all, "");
  EXPECT_EQ(ep.decode.all_to_all, "one-shot");
  EXPECT_EQ(ep.decode.steps, 1);
  // Per layer, 64 tokens of 4096 bf16: 512 KiB all-reduced by ring (2 x 7/8 of it sent), an
  // all-gather of it (7/8), and two all-to-alls of 64 x 2 x 4096 x 2 / 8 = 128 KiB (7/8 each).
  const double stream = 64 * 4096 * 2.0, pairs = 64 * 2 * 4096 * 2.0 / 8;
  const double logits = 7.0 / 8 * 64 * 32000 * 4;
  EXPECT_EQ(tp.decode.all_reduce, "ring");
  EXPECT_NEAR(tp.decode.link_bytes, 32 * 2 * (2 * 7.0 / 8 * stream) + logits, 1);
  EXPECT_NEAR(ep.decode.link_bytes,
              32 * (2 * 7.0 / 8 * stream + 7.0 / 8 * stream + 2 * 7.0 / 8 * pairs) + logits, 1);
  EXPECT_GT(ep.decode.link_utilization, 0);
}

TEST(LlmTiming, ExpertParallelismOneIsTensorParallelismAlone) {
  const LoadedChip chip = load_chip("seedchip-v1");
  llm::LlamaConfig moe = small_model();
  moe.n_experts = 8;
  moe.experts_per_token = 2;
  moe.hidden_dim = 512;
  ScaleOptions o = small_run();
  o.batch = 4;
  o.tp = 4;
  const ScaleReport plain = run_llm_at_scale(moe, chip, o);
  o.ep = 1;
  const ScaleReport one = run_llm_at_scale(moe, chip, o);
  EXPECT_EQ(one.tpot, plain.tpot);
  EXPECT_EQ(one.decode.link_bytes, plain.decode.link_bytes);
  EXPECT_EQ(one.decode.all_to_all, "");
  // Two one-shot all-reduces of 4 tokens' 2 KiB per layer, and the logits all-gather.
  EXPECT_NEAR(one.decode.link_bytes, 7 * (4 * 2 * 3 * 4 * 2048.0 + 3.0 / 4 * 4 * 4096 * 4), 1);
  o.ep = 4;
  const ScaleReport four = run_llm_at_scale(moe, chip, o);
  EXPECT_EQ(four.decode.all_to_all, "one-shot");
  EXPECT_GT(four.tpot, 0);
}

// --ep must divide --tp and the experts, and needs experts; the errors name the values.
TEST(LlmTiming, ExpertParallelismThatDoesNotDivideIsRefused) {
  const LoadedChip chip = load_chip("seedchip-v1");
  llm::LlamaConfig moe = small_model();
  moe.n_experts = 6;
  moe.experts_per_token = 2;
  moe.hidden_dim = 512;
  const auto refusal = [&](const llm::LlamaConfig& model, int64_t tp, int64_t ep) {
    ScaleOptions o = small_run();
    o.tp = tp;
    o.ep = ep;
    try {
      run_llm_at_scale(model, chip, o);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(refusal(moe, 4, 3).find("--ep 3 does not divide the 4 chips"), std::string::npos);
  EXPECT_NE(refusal(moe, 4, 4).find("--ep 4 does not divide the model's 6 experts"),
            std::string::npos);
  EXPECT_NE(refusal(moe, 2, 4).find("--ep 4 must be in [1, --tp 2]"), std::string::npos);
  EXPECT_NE(refusal(moe, 2, 0).find("--ep 0 must be in [1, --tp 2]"), std::string::npos);
  EXPECT_NE(refusal(small_model(), 2, 2).find("this model is dense"), std::string::npos);
  EXPECT_EQ(refusal(moe, 4, 2), "accepted");
  llm::StepShape shape;
  EXPECT_THROW(simulate_step(moe, chip, shape,
                             [] {
                               ScaleOptions o;
                               o.tp = 4;
                               o.ep = 3;
                               return o;
                             }()),
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
