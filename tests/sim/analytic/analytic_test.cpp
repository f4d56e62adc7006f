#include "sim/analytic/analytic.h"

#include <gtest/gtest.h>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "llm/model_preset.h"
#include "sim/analytic/fit.h"

namespace seedchip::analytic {
namespace {

// stories260K's shape (dim 64, hidden 172, 8 heads, 4 KV heads), 2 layers.
llm::LlamaConfig small_model() {
  llm::LlamaConfig m;
  m.dim = 64;
  m.hidden_dim = 172;
  m.n_layers = 2;
  m.n_heads = 8;
  m.n_kv_heads = 4;
  m.vocab_size = 512;
  m.seq_len = 512;
  return m;
}

const KernelCost& kernel(const StepCost& cost, const std::string& name) {
  for (const KernelCost& k : cost.kernels)
    if (k.name == name) return k;
  throw std::runtime_error("no kernel " + name);
}

const ClassCost& of(const StepCost& cost, OpClass c) { return cost.classes[static_cast<int>(c)]; }

StepShape prefill(int64_t length, int64_t batch = 1) {
  return {Phase::kPrefill, std::vector<int64_t>(batch, length)};
}
StepShape decode(int64_t context, int64_t batch = 1) {
  return {Phase::kDecode, std::vector<int64_t>(batch, context)};
}

TEST(Analytic, CountsGemmFlopsAndBytes) {
  StepCost cost = cost_step(load_chip("seedchip-v1").config, small_model(), prefill(16), {1});
  // QKV: M = 16 tokens, N = (8 + 2 x 4 heads) x 8 = 128, K = 64; once per layer.
  const KernelCost& qkv = kernel(cost, "qkv_proj");
  EXPECT_EQ(qkv.count, 2);
  EXPECT_EQ(qkv.m, 16);
  EXPECT_DOUBLE_EQ(qkv.flops, 2.0 * 16 * 128 * 64);
  EXPECT_DOUBLE_EQ(qkv.bytes, 2.0 * (128 * 64 + 16 * 64 + 16 * 128));
  // Gated FFN: gate and up in one GEMM of N = 2 x 172.
  EXPECT_DOUBLE_EQ(kernel(cost, "ffn_up").flops, 2.0 * 16 * 344 * 64);
  EXPECT_DOUBLE_EQ(kernel(cost, "ffn_down").flops, 2.0 * 16 * 64 * 172);
  // The classifier runs on the last position only.
  EXPECT_EQ(kernel(cost, "lm_head").m, 1);
  // Causal attention: 2 x L^2 x head_dim x heads.
  EXPECT_DOUBLE_EQ(kernel(cost, "attention").flops, 2.0 * 16 * 16 * 8 * 8);
  double sum = 0;
  for (const ClassCost& c : cost.classes) sum += c.seconds;
  EXPECT_DOUBLE_EQ(sum, cost.seconds);
}

TEST(Analytic, UngatedFfnHasTwoMatrices) {
  llm::LlamaConfig m = small_model();
  m.gated_ffn = false;
  StepCost cost = cost_step(load_chip("seedchip-v1").config, m, prefill(16), {1});
  EXPECT_DOUBLE_EQ(kernel(cost, "ffn_up").flops, 2.0 * 16 * 172 * 64);
}

TEST(Analytic, DecodeAtBatchOneIsMemoryBound) {
  llm::LlamaConfig llama = llm::load_model_preset("llama-2-70b").config;
  ChipConfig h200 = load_chip("h200").config;
  // With the fitted efficiencies too: the weights take longer to stream than the kernel floor.
  EXPECT_EQ(of(cost_step(h200, llama, decode(1024), {1}), OpClass::kGemmSkinny).bound,
            Bound::kMemory);
  h200.efficiency = EfficiencyConfig{};  // the roofline itself
  StepCost cost = cost_step(h200, llama, decode(1024), {1});
  EXPECT_GT(of(cost, OpClass::kGemmSkinny).kernels, 0);
  EXPECT_EQ(of(cost, OpClass::kGemmLarge).kernels, 0);
  EXPECT_EQ(of(cost, OpClass::kGemmSkinny).bound, Bound::kMemory);
  EXPECT_EQ(of(cost, OpClass::kAttentionDecode).bound, Bound::kMemory);
}

TEST(Analytic, LongPrefillIsComputeBound) {
  llm::LlamaConfig llama = llm::load_model_preset("llama-2-70b").config;
  ChipConfig h200 = load_chip("h200").config;
  h200.efficiency = EfficiencyConfig{};  // the roofline itself
  StepCost cost = cost_step(h200, llama, prefill(8192), {1});
  EXPECT_EQ(of(cost, OpClass::kGemmLarge).bound, Bound::kCompute);
  EXPECT_EQ(of(cost, OpClass::kAttentionPrefill).bound, Bound::kCompute);
  EXPECT_EQ(kernel(cost, "lm_head").op_class, OpClass::kGemmSkinny);  // one row per sequence
}

TEST(Analytic, TensorParallelismHalvesWeightBytesPerChip) {
  llm::LlamaConfig m = small_model();
  ChipConfig chip = load_chip("seedchip-v1").config;
  StepCost one = cost_step(chip, m, decode(8), {1});
  StepCost two = cost_step(chip, m, decode(8), {2});
  // Decode: M = 1, so bytes = 2 x (N K + K + N); the up GEMM's N halves.
  EXPECT_DOUBLE_EQ(kernel(one, "ffn_up").bytes, 2.0 * (344 * 64 + 64 + 344));
  EXPECT_DOUBLE_EQ(kernel(two, "ffn_up").bytes, 2.0 * (172 * 64 + 64 + 172));
  EXPECT_DOUBLE_EQ(kernel(two, "ffn_down").bytes, 2.0 * (64 * 86 + 86 + 64));
  EXPECT_DOUBLE_EQ(kernel(two, "attention").bytes * 2, kernel(one, "attention").bytes);
}

TEST(Analytic, AllReduceOnlyUnderTensorParallelism) {
  llm::LlamaConfig m = small_model();
  ChipConfig chip = load_chip("seedchip-v1").config;
  StepCost one = cost_step(chip, m, prefill(32), {1});
  EXPECT_EQ(of(one, OpClass::kAllReduce).kernels, 0);
  EXPECT_EQ(of(one, OpClass::kAllReduce).seconds, 0);
  StepCost four = cost_step(chip, m, prefill(32), {4});
  EXPECT_EQ(of(four, OpClass::kAllReduce).kernels, 2 * m.n_layers);  // after attention and FFN
  const KernelCost& ar = kernel(four, "allreduce");
  EXPECT_DOUBLE_EQ(ar.bytes, 2.0 * 32 * 64);
  // Ring: 2(TP-1)/TP x payload over the links, plus 2(TP-1) link latencies.
  const double link = 8 * 100e9;
  EXPECT_DOUBLE_EQ(ar.seconds, 6.0 / 4 * ar.bytes / link + 6 * 500e-9);
}

TEST(Analytic, MixtureOfExpertsReadsOnlyActiveExperts) {
  llm::LlamaConfig mixtral = llm::load_model_preset("mixtral-8x7b").config;
  ChipConfig chip = load_chip("seedchip-v1").config;
  const double one_expert_up = 2.0 * mixtral.hidden_dim * mixtral.dim;  // gate + up values
  // One token routed to 2 of 8 experts reads 2 experts' weights.
  // The kernels are copied out: cost_step's result is a temporary.
  const KernelCost up1 = kernel(cost_step(chip, mixtral, decode(64), {1}), "ffn_up");
  EXPECT_DOUBLE_EQ(up1.bytes,
                   2 * (2 * one_expert_up + 2 * mixtral.dim + 2 * 2.0 * mixtral.hidden_dim));
  EXPECT_DOUBLE_EQ(up1.flops, 2 * 2 * one_expert_up);
  // A large batch touches (nearly) all 8.
  const KernelCost up256 = kernel(cost_step(chip, mixtral, decode(64, 256), {1}), "ffn_up");
  EXPECT_NEAR(up256.bytes / 2, 8 * one_expert_up + 512 * (mixtral.dim + 2.0 * mixtral.hidden_dim),
              1e-6 * up256.bytes);
}

TEST(Analytic, ExpertParallelismShardsExpertsAndAddsAllToAlls) {
  const llm::LlamaConfig mixtral = llm::load_model_preset("mixtral-8x7b").config;
  const ChipConfig chip = load_chip("seedchip-v1").config;
  const double link = 8 * 100e9, latency = 500e-9, dim = 4096, hidden = 14336;
  // TP 8, EP 8: every chip holds one whole expert. 64 sequences route 128 (token, expert) pairs,
  // 16 to each chip.
  const StepCost ep8 = cost_step(chip, mixtral, decode(64, 64), {8, 8});
  const KernelCost dispatch = kernel(ep8, "dispatch"), combine = kernel(ep8, "combine");
  EXPECT_EQ(dispatch.count, mixtral.n_layers);
  EXPECT_DOUBLE_EQ(dispatch.bytes, 2.0 * 16 * dim);
  EXPECT_DOUBLE_EQ(combine.bytes, dispatch.bytes);
  // One-shot: 7/8 of the buffer leaves at once, one latency.
  EXPECT_DOUBLE_EQ(dispatch.seconds, 7.0 / 8 * dispatch.bytes / link + latency);
  // The feed-forward output is gathered (a ring of 7 steps) instead of all-reduced.
  const KernelCost gather = kernel(ep8, "allgather");
  EXPECT_DOUBLE_EQ(gather.bytes, 2.0 * 64 * dim);
  EXPECT_DOUBLE_EQ(gather.seconds, 7.0 / 8 * gather.bytes / link + 7 * latency);
  EXPECT_EQ(kernel(ep8, "allreduce").count, mixtral.n_layers);  // attention's only
  // The chip's one expert at full width: 16 rows through 2 x 14336 gate/up columns.
  const KernelCost up8 = kernel(ep8, "ffn_up");
  EXPECT_DOUBLE_EQ(up8.flops, 2.0 * 16 * 2 * hidden * dim);
  // EP 1 splits every expert 8 ways instead: all 128 pairs, each 1/8 of the width.
  const StepCost ep1 = cost_step(chip, mixtral, decode(64, 64), {8, 1});
  EXPECT_DOUBLE_EQ(kernel(ep1, "ffn_up").flops, 2.0 * 128 * 2 * hidden / 8 * dim);
  for (const KernelCost& k : ep1.kernels) EXPECT_NE(k.name, "dispatch");
  // At batch 1 the token reaches one chip's expert whole: 4x the weight bytes of EP 1's two
  // eighths of two experts.
  const KernelCost one_ep8 = kernel(cost_step(chip, mixtral, decode(64), {8, 8}), "ffn_up");
  const KernelCost one_ep1 = kernel(cost_step(chip, mixtral, decode(64), {8, 1}), "ffn_up");
  EXPECT_NEAR(one_ep8.bytes / one_ep1.bytes, 4.0, 0.01);
  // EP must divide TP and the experts, and needs experts.
  EXPECT_THROW(cost_step(chip, mixtral, decode(8), {8, 3}), InputError);
  EXPECT_THROW(cost_step(chip, mixtral, decode(8), {2, 4}), InputError);
  EXPECT_THROW(cost_step(chip, small_model(), decode(8), {4, 2}), InputError);
}

TEST(Analytic, EfficiencyAndKernelFloorScaleTime) {
  llm::LlamaConfig llama = llm::load_model_preset("llama-2-70b").config;
  ChipConfig chip = load_chip("h200").config;
  chip.efficiency = EfficiencyConfig{};
  double roofline = kernel(cost_step(chip, llama, prefill(4096), {1}), "ffn_up").seconds;
  chip.efficiency.gemm_large_compute = 0.5;
  EXPECT_DOUBLE_EQ(kernel(cost_step(chip, llama, prefill(4096), {1}), "ffn_up").seconds,
                   2 * roofline);
  // A floor of 1e6 cycles at 1830 MHz exceeds every kernel of a small decode step.
  chip.efficiency.kernel_min_cycles = 1e6;
  StepCost floored = cost_step(chip, small_model(), decode(8), {1});
  for (const KernelCost& k : floored.kernels) {
    EXPECT_EQ(k.bound, Bound::kKernelFloor) << k.name;
    EXPECT_DOUBLE_EQ(k.seconds, 1e6 / 1830e6) << k.name;
  }
}

TEST(Analytic, RejectsBadShapes) {
  ChipConfig chip = load_chip("seedchip-v1").config;
  EXPECT_THROW(cost_step(chip, small_model(), prefill(16), {3}), InputError);
  EXPECT_THROW(cost_step(chip, small_model(), {Phase::kDecode, {}}, {1}), InputError);
  EXPECT_THROW(cost_step(chip, small_model(), decode(0), {1}), InputError);
  EXPECT_THROW(cost_step(chip, llm::LlamaConfig{}, decode(1), {1}), InputError);
  chip.links.count = 0;
  EXPECT_THROW(cost_step(chip, small_model(), decode(4), {2}), InputError);
}

TEST(Fit, RecoversTheParametersThatMadeTheData) {
  llm::LlamaConfig llama = llm::load_model_preset("llama-2-70b").config;
  ChipConfig chip = load_chip("h100-sxm").config;
  EfficiencyConfig truth;
  truth.gemm_large_compute = 0.6;
  truth.gemm_skinny_memory = 0.8;
  truth.kernel_min_cycles = 20000;
  std::vector<FitCase> cases;
  for (int64_t length : {512, 2048, 8192})
    for (int64_t tp : {2, 8}) {
      cases.push_back({chip, llama, prefill(length), {tp}, {}});
      cases.push_back({chip, llama, decode(length, 8), {tp}, {}});
    }
  for (FitCase& c : cases) c.measured_seconds = {predict_seconds(c, truth)};
  FitResult fit = fit_efficiency(cases,
                                 {{"efficiency.gemm_large.compute", 0.01, 1},
                                  {"efficiency.gemm_skinny.memory", 0.01, 1},
                                  {"efficiency.kernel_min_cycles", 10, 1e6}},
                                 truth);
  EXPECT_LT(fit.objective, 1e-3);
  EXPECT_NEAR(fit.efficiency.gemm_large_compute, 0.6, 0.01);
  EXPECT_NEAR(fit.efficiency.gemm_skinny_memory, 0.8, 0.01);
  EXPECT_NEAR(fit.efficiency.kernel_min_cycles, 20000, 300);
  EXPECT_THROW(fit_efficiency(cases, {{"core.clock_mhz", 1, 2}}, truth), InputError);
  EXPECT_THROW(fit_efficiency({}, {}, truth), InputError);
}

}  // namespace
}  // namespace seedchip::analytic
