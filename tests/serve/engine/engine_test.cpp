// The serving engine on fake step costs where every latency can be worked out by hand.
#include "serve/engine/engine.h"

#include <gtest/gtest.h>

#include "arch/chip_loader.h"
#include "llm/model_preset.h"
#include "tests/input_error.h"

namespace seedchip::serve {
namespace {

// Every prefill chunk costs P and every decode iteration D, whatever their shape.
constexpr double P = 0.1, D = 0.01;
class ConstantCost : public StepCostModel {
 public:
  StepCost prefill(int64_t, int64_t) const override { return {P, 1}; }
  StepCost decode(int64_t, double) const override { return {D, 0.5}; }
  std::string method() const override { return "constant"; }
};

EngineOptions options(int64_t kv_pages = 1000) {
  EngineOptions o;
  o.kv_pages = kv_pages;
  return o;
}

ServeReport run(const Workload& w, const std::string& scheduler, const EngineOptions& o) {
  const ConstantCost cost;
  auto s = make_scheduler(scheduler);
  return run_engine(w, cost, *s, o, 100000, 10);
}

TEST(Engine, OneRequestTakesPrefillThenDecodes) {
  const Workload w{"one", {{0, 0, 100, 5}}};
  for (const char* scheduler : {"continuous", "chunked"}) {
    const ServeReport r = run(w, scheduler, options());
    EXPECT_EQ(r.finished, 1);
    EXPECT_DOUBLE_EQ(r.ttft.p50, P);
    EXPECT_DOUBLE_EQ(r.tpot.p99, D);
    EXPECT_DOUBLE_EQ(r.e2e.p50, P + 4 * D);
    EXPECT_EQ(r.steps, 5);
    EXPECT_EQ(r.output_tokens, 5);
    EXPECT_DOUBLE_EQ(r.energy_busy, 1 + 4 * 0.5);
    EXPECT_DOUBLE_EQ(r.utilization(), 1);
    EXPECT_EQ(r.good, 1);
  }
}

TEST(Engine, ContinuousPrefillsFirstAndIdlesBetweenArrivals) {
  // The second request arrives while the first decodes: its prefill pauses the first's decoding.
  const Workload w{"two", {{0, 0, 10, 3}, {1, 0.105, 10, 2}, {2, 10, 10, 1}}};
  const ServeReport r = run(w, "continuous", options());
  // 0: prefill A (0.1); decode A (0.11, the second arrived at 0.105); prefill B (0.21); decode
  // A+B (0.22): A and B finish. C prefilled at 10 and done at 10.1.
  EXPECT_EQ(r.finished, 3);
  EXPECT_NEAR(r.makespan, 10.1, 1e-12);
  EXPECT_NEAR(r.busy, 3 * P + 2 * D, 1e-12);
  EXPECT_NEAR(r.energy_idle, 10 * (r.makespan - r.busy), 1e-9);
  EXPECT_NEAR(r.tpot.mean, ((0.22 - 0.1) / 2 + (0.22 - 0.21)) / 2, 1e-12);
  EXPECT_NEAR(r.ttft.p50, P, 1e-12);  // A and C: P; B: 0.21 - 0.105
}

TEST(Engine, ChunkedPrefillSplitsPromptsByTheTokenBudget) {
  EngineOptions o = options();
  o.token_budget = 64;
  const ServeReport r = run({"long", {{0, 0, 200, 2}}}, "chunked", o);
  EXPECT_DOUBLE_EQ(r.ttft.p50, 4 * P);  // 64 + 64 + 64 + 8 tokens
  EXPECT_EQ(r.prefill_tokens, 200);
  // A's prompt fills the first step; then A's decodes share steps with B's chunks (63, then 37
  // tokens), each such step costing both less the shared cost of a step (a batch-1 decode, D
  // here); B's last token decodes alone.
  const ServeReport two = run({"two", {{0, 0, 64, 3}, {1, 0, 100, 2}}}, "chunked", o);
  EXPECT_EQ(two.finished, 2);
  EXPECT_EQ(two.steps, 4);
  EXPECT_NEAR(two.busy, 3 * P + D, 1e-12);
  EXPECT_NEAR(two.ttft.mean, (P + 3 * P) / 2, 1e-12);
}

TEST(Engine, AFullKvCachePreemptsAndRecomputes) {
  // Pages of 16 positions: each request grows to 32 + 63 = 95 positions (6 pages); 10 pages hold
  // the three prompts (2 pages each) but not their growth.
  const Workload w{"kv", {{0, 0, 32, 64}, {1, 0, 32, 64}, {2, 0, 32, 64}}};
  for (const char* scheduler : {"continuous", "chunked"}) {
    const ServeReport r = run(w, scheduler, options(10));
    EXPECT_EQ(r.finished, 3) << scheduler;
    EXPECT_GT(r.preemptions, 0) << scheduler;
    EXPECT_EQ(r.output_tokens, 3 * 64);
    EXPECT_GT(r.prefill_tokens, 3 * 32);  // recomputation
    EXPECT_LE(r.kv_peak_pages, 10);
    const ServeReport roomy = run(w, scheduler, options(100));
    EXPECT_EQ(roomy.preemptions, 0);
    EXPECT_GT(r.makespan, roomy.makespan);
  }
  // A request that can never fit is rejected, not waited for.
  const ServeReport r = run({"big", {{0, 0, 500, 1}, {1, 0, 10, 1}}}, "continuous", options(10));
  EXPECT_EQ(r.rejected, 1);
  EXPECT_EQ(r.finished, 1);
}

TEST(Engine, DeterministicAndStoppable) {
  const Workload lengths = first_requests(load_workload("azure-conv"), 500);
  const Workload w = poisson_arrivals(lengths, 50, 300, 3);
  EngineOptions o = options(2000);
  o.max_batch = 32;
  for (const char* scheduler : {"continuous", "chunked"}) {
    const ServeReport a = run(w, scheduler, o), b = run(w, scheduler, o);
    EXPECT_EQ(a.finished, 300);
    EXPECT_EQ(a.makespan, b.makespan);
    EXPECT_EQ(a.ttft.p99, b.ttft.p99);
    EXPECT_EQ(a.tpot.p50, b.tpot.p50);
    EXPECT_EQ(a.preemptions, b.preemptions);
    EXPECT_LE(a.mean_batch, 32);
  }
  int calls = 0;
  o.keep_going = [&] { return ++calls < 100; };
  const ServeReport stopped = run(w, "continuous", o);
  EXPECT_TRUE(stopped.stopped);
  EXPECT_LT(stopped.finished, 300);
  EXPECT_EQ(stopped.steps, 99);
}

TEST(Engine, KvBudgetAndSchedulerRegistry) {
  const llm::LlamaConfig m = llm::load_model_preset("llama-3.1-70b").config;
  const KvBudget b = kv_pages_for(m, load_chip("seedchip-v1").config, 8, 16);
  EXPECT_DOUBLE_EQ(b.bytes_per_token, 2.0 * 80 * 1024 * 2);  // K and V, 80 layers, 8 x 128, BF16
  EXPECT_DOUBLE_EQ(b.hbm_bytes, 8 * 144e9);
  EXPECT_EQ(b.pages,
            static_cast<int64_t>((b.hbm_bytes - b.weight_bytes) / (b.bytes_per_token * 16)));
  const llm::LlamaConfig big = llm::load_model_preset("llama-3.1-405b").config;
  EXPECT_NE(seedchip::testing::error_of([&] {
              kv_pages_for(big, load_chip("seedchip-v1").config, 1, 16);
            }).find("do not fit"),
            std::string::npos);
  EXPECT_EQ(schedulers().size(), 2u);
  EXPECT_EQ(seedchip::testing::error_of([] { make_scheduler("fifo"); }),
            "unknown scheduler 'fifo' (known: chunked, continuous)");
}

}  // namespace
}  // namespace seedchip::serve
