// The step-cost models: the cache's interpolation (exact on costs it can represent), its
// consistency with the timing simulator on a small model, the GPU path and saved tables.
#include "serve/cost/cost.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "arch/chip_loader.h"
#include "llm/model_preset.h"
#include "tests/input_error.h"

namespace seedchip::serve {
namespace {

// Costs affine in each of their arguments: prefill a + b tokens + c context; decode d + e batch
// + f batch x context (attention reads every sequence's context).
class LinearCost : public StepCostModel {
 public:
  StepCost prefill(int64_t tokens, int64_t context) const override {
    const double s =
        1e-3 + 2e-6 * static_cast<double>(tokens) + 3e-7 * static_cast<double>(context);
    return {s, 100 * s};
  }
  StepCost decode(int64_t batch, double context) const override {
    const double b = static_cast<double>(batch);
    const double s = 5e-4 + 1e-5 * b + 4e-8 * b * context;
    return {s, 200 * s};
  }
  std::string method() const override { return "linear"; }
};

TEST(CostCache, InterpolationIsExactOnLinearCosts) {
  const LinearCost direct;
  CachedStepCost cache(direct, {});
  EXPECT_THROW(cache.decode(1, 100), std::logic_error);  // not measured yet
  cache.measure(1, nullptr);
  EXPECT_EQ(cache.measured().size(), cache.grid_shapes().size());
  EXPECT_LE(cache.grid_shapes().size(), 16u);
  for (int64_t b : {1, 3, 17, 100, 256, 300})
    for (double c : {1.0, 128.0, 999.5, 4096.0, 20000.0}) {
      EXPECT_NEAR(cache.decode(b, c).seconds, direct.decode(b, c).seconds, 1e-12) << b << " " << c;
      EXPECT_NEAR(cache.decode(b, c).joules, direct.decode(b, c).joules, 1e-10);
    }
  for (int64_t t : {1, 32, 77, 300, 512})
    for (int64_t c : {t, t + 5, int64_t{2048}, int64_t{9000}}) {
      EXPECT_NEAR(cache.prefill(t, c).seconds, direct.prefill(t, c).seconds, 1e-12)
          << t << " " << c;
    }
  // Longer than the largest chunk: consecutive chunks of 512 ending at the context, in one step
  // (sharing a batch-1 decode's cost).
  const StepCost long_prompt = cache.prefill(1200, 1300);
  const double expected = direct.prefill(512, 612).seconds + direct.prefill(512, 1124).seconds +
                          direct.prefill(176, 1300).seconds - 2 * direct.decode(1, 1).seconds;
  EXPECT_NEAR(long_prompt.seconds, expected, 1e-12);
  EXPECT_NE(seedchip::testing::error_of([&] { cache.prefill(10, 5); }), "");
}

TEST(CostCache, PartsOfAStepShareItsFixedCost) {
  const StepCost shared{1, 10};
  EXPECT_EQ(combine({{3, 30}}, shared), (StepCost{3, 30}));
  EXPECT_EQ(combine({{3, 30}, {2, 20}, {4, 40}}, shared), (StepCost{7, 70}));
  EXPECT_EQ(combine({{1.5, 15}, {1.25, 12.5}}, shared), (StepCost{1.75, 17.5}));
  EXPECT_EQ(combine({{0.5, 5}, {0.6, 6}}, shared), (StepCost{0.6, 6}));  // never below a part
}

TEST(CostCache, GridOptionsAreChecked) {
  const LinearCost direct;
  CostGridOptions g;
  g.prefill_context_high = g.prefill_tokens_max;
  EXPECT_NE(
      seedchip::testing::error_of([&] { CachedStepCost(direct, g); }).find("prefill_context_high"),
      std::string::npos);
}

llm::LlamaConfig small_model() {
  llm::LlamaConfig c;
  c.name = "small";
  c.dim = 1024;
  c.hidden_dim = 2048;
  c.n_layers = 4;
  c.n_heads = 8;
  c.n_kv_heads = 4;
  c.vocab_size = 4096;
  c.seq_len = 4096;
  c.shared_classifier = false;
  return c;
}

// The cache against the timing simulator on random shapes inside its grid, for a small model (so
// that each simulation takes a fraction of a second); measured with two threads, which must give
// what one thread gives.
TEST(CostCache, ConsistentWithTheTimingSimulator) {
  const SimulatedStepCost direct(small_model(), load_chip("seedchip-v1"), 1);
  CostGridOptions g;
  g.decode_batch_max = 16;
  g.decode_batch_points = 3;
  g.decode_context_low = 64;
  g.decode_context_high = 512;
  g.prefill_tokens_min = 16;
  g.prefill_tokens_max = 128;
  g.prefill_token_points = 2;
  g.prefill_context_high = 512;
  CachedStepCost cache(direct, g);
  cache.measure(2, nullptr);
  const CostShape probe{false, 4, 512};
  EXPECT_EQ(cache.measured().at(probe).seconds, direct.decode(4, 512).seconds);
  // The simulator is not smooth in the batch: on 16 cores a decode of 3 sequences takes longer
  // than one of 4 (attention products go to cores whole), which no interpolation between batch 1
  // and 4 follows; its worst case on this model is about 40%.
  const ConsistencyReport r = check_consistency(cache, 6, 1);
  EXPECT_EQ(r.samples, 6);
  EXPECT_LT(r.max_error, 0.45) << r.worst;
  EXPECT_LT(r.mean_error, 0.15);
  EXPECT_LE(r.mean_error, r.max_error);
  EXPECT_GT(cache.decode(16, 300).joules, 0);
}

TEST(CostCache, GpuPresetsUseTheAnalyticModel) {
  const llm::LlamaConfig model = llm::load_model_preset("llama-3.1-70b").config;
  const LoadedChip h200 = load_chip("h200");
  const auto direct = make_direct_cost(model, h200, 8);
  EXPECT_NE(direct->method().find("analytic"), std::string::npos);
  const StepCost d = direct->decode(64, 1000);
  EXPECT_GT(d.seconds, 0);
  EXPECT_DOUBLE_EQ(d.joules, h200.config.power.tdp_w * 8 * d.seconds);  // the estimate
  // A chunk continuing a prompt costs at least the chunk alone, and more late in a long prompt.
  EXPECT_GE(direct->prefill(512, 4096).seconds, direct->prefill(512, 512).seconds);
  EXPECT_GT(direct->prefill(512, 8192).seconds, direct->prefill(512, 1024).seconds);
  EXPECT_NE(make_direct_cost(model, load_chip("seedchip-v1"), 8)->method().find("simulator"),
            std::string::npos);
}

// A pipeline of two stages: a decode iteration is a micro-batch of half the batch through every
// layer, a prefill chunk the whole prompt through every layer, each plus the hand-offs.
TEST(CostCache, PipelineStagesOnBothModels) {
  const llm::LlamaConfig model = llm::load_model_preset("llama-3.1-70b").config;
  const LoadedChip h200 = load_chip("h200");
  const auto tp4 = make_direct_cost(model, h200, 4), pp2 = make_direct_cost(model, h200, 4, 2);
  // The analytic stage counts the classifier in each stage: within 5% of the whole model.
  EXPECT_NEAR(pp2->decode(64, 1000).seconds, tp4->decode(32, 1000).seconds,
              0.05 * tp4->decode(32, 1000).seconds);
  EXPECT_GT(pp2->decode(64, 1000).seconds, tp4->decode(32, 1000).seconds);
  EXPECT_NEAR(pp2->prefill(512, 512).seconds, tp4->prefill(512, 512).seconds,
              0.05 * tp4->prefill(512, 512).seconds);
  EXPECT_DOUBLE_EQ(pp2->decode(64, 1000).joules,
                   h200.config.power.tdp_w * 8 * pp2->decode(64, 1000).seconds);
  EXPECT_NE(cost_identity(model, h200, 4, *pp2, 2).find("TP 4 x PP 2,"), std::string::npos);
  EXPECT_EQ(cost_identity(model, h200, 4, *tp4).find("PP"), std::string::npos);
  EXPECT_NE(cost_identity(model, h200, 4, *tp4).find(", prices v"), std::string::npos);

  // The timing simulator on the small model (four layers): a stage is two.
  const LoadedChip v1 = load_chip("seedchip-v1");
  const SimulatedStepCost one(small_model(), v1, 1), two(small_model(), v1, 1, 2);
  const StepCost whole = one.decode(4, 256), piped = two.decode(8, 256);
  EXPECT_NEAR(piped.seconds, whole.seconds, 0.1 * whole.seconds);
  EXPECT_GT(piped.seconds, whole.seconds);  // the hand-off between the stages
  // Twice the chips, each doing its layer's work for both micro-batches.
  EXPECT_NEAR(piped.joules, 2 * whole.joules, 0.2 * whole.joules);
  EXPECT_NEAR(two.prefill(64, 64).seconds, one.prefill(64, 64).seconds,
              0.1 * one.prefill(64, 64).seconds);
  EXPECT_THROW(SimulatedStepCost(small_model(), v1, 1, 5), InputError);  // more stages than layers
}

// Expert parallelism reaches both chip models: the analytic one for GPUs (sim/analytic) and the
// timing simulator, and the identity of a saved table.
TEST(CostCache, ExpertParallelismOnBothModels) {
  const llm::LlamaConfig mixtral = llm::load_model_preset("mixtral-8x7b").config;
  const LoadedChip h200 = load_chip("h200");
  const auto ep1 = make_direct_cost(mixtral, h200, 8),
             ep8 = make_direct_cost(mixtral, h200, 8, 1, 8);
  // At batch 1 a token's experts are read whole on the chips that hold them, instead of an eighth
  // of each on every chip, and the all-to-alls are paid: EP is slower.
  EXPECT_GT(ep8->decode(1, 1000).seconds, ep1->decode(1, 1000).seconds);
  EXPECT_NE(cost_identity(mixtral, h200, 8, *ep8, 1, 8).find("TP 8, EP 8,"), std::string::npos);
  EXPECT_EQ(cost_identity(mixtral, h200, 8, *ep1).find("EP"), std::string::npos);
  EXPECT_THROW(make_direct_cost(mixtral, h200, 8, 1, 3), InputError);
  EXPECT_THROW(make_direct_cost(llm::load_model_preset("llama-3.1-70b").config, h200, 8, 1, 2),
               InputError);
  const LoadedChip v1 = load_chip("seedchip-v1");
  const SimulatedStepCost sim1(mixtral, v1, 8), sim8(mixtral, v1, 8, 1, 8);
  EXPECT_NE(sim8.decode(64, 256).seconds, sim1.decode(64, 256).seconds);
}

TEST(CostCache, SavedTablesAreReadBackForTheSameIdentityOnly) {
  const LinearCost direct;
  CachedStepCost cache(direct, {});
  cache.measure(1, nullptr);
  const std::string path = (std::filesystem::temp_directory_path() / "cost_table.json").string();
  save_cost_table(path, "id", cache.measured());
  EXPECT_EQ(load_cost_table(path, "id"), cache.measured());
  EXPECT_TRUE(load_cost_table(path, "other").empty());
  EXPECT_TRUE(load_cost_table(path + ".missing", "id").empty());
}

}  // namespace
}  // namespace seedchip::serve
