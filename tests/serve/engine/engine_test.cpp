// The serving engine on fake step costs where every latency can be worked out by hand.
#include "serve/engine/engine.h"

#include <gtest/gtest.h>

#include "arch/chip_loader.h"
#include "llm/model_preset.h"
#include "tests/input_error.h"
#include "tests/serve/constant_cost.h"

namespace seedchip::serve {
namespace {

using testing::ConstantCost;
using testing::D;
using testing::P;

EngineOptions options(int64_t kv_pages = 1000) {
  EngineOptions o;
  o.kv_pages = kv_pages;
  return o;
}

ServeReport run(const Workload& w, const std::string& scheduler, const EngineOptions& o,
                int64_t max_context = 100000) {
  const ConstantCost cost;
  auto s = make_scheduler(scheduler);
  return run_engine(w, cost, *s, o, max_context, 10);
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

// Prefill costs 1 ms a token and a decode step 10 ms, whatever the batch.
class LinearPrefillCost : public StepCostModel {
 public:
  StepCost prefill(int64_t tokens, int64_t) const override {
    return {1e-3 * static_cast<double>(tokens), 0};
  }
  StepCost decode(int64_t, double) const override { return {0.01, 0}; }
  std::string method() const override { return "linear prefill"; }
};

// Sarathi-Serve's point: a long prompt prefilled whole stalls every sequence that is decoding;
// chunked prefill interleaves its chunks with their decodes. A (10-token prompt, 6 tokens out)
// decodes when B (400-token prompt, 2 tokens out) arrives at 15 ms.
//  - continuous: A's first token at 10 ms (its prefill), its second at 20 ms; then B's whole
//    prefill runs alone, 400 ms, and A's third token comes at 430 ms, after B's: a 410 ms stall.
//  - chunked, 64 tokens a step: from 20 ms each step decodes A and prefills 63 of B's tokens
//    (63 ms: the parts' sum, 10 + 63 ms, less one step's shared cost, a batch-1 decode), so A's
//    tokens come every 63 ms until it finishes; B's first token comes at 420 ms either way.
TEST(Engine, ChunkedPrefillBoundsTheStallOfDecodingSequences) {
  const Workload w{"interference", {{0, 0, 10, 6}, {1, 0.015, 400, 2}}};
  const LinearPrefillCost cost;
  EngineOptions o = options();
  o.token_budget = 64;
  auto run_with = [&](const std::string& name) {
    auto s = make_scheduler(name);
    return run_engine(w, cost, *s, o, 100000, 10);
  };
  const ServeReport continuous = run_with("continuous"), chunked = run_with("chunked");
  // Longest gaps: A's and B's (10 ms, its decode); p99 interpolates between the two.
  EXPECT_NEAR(continuous.max_tbt.p99, 0.01 + 0.99 * (0.41 - 0.01), 1e-9);
  EXPECT_NEAR(chunked.max_tbt.p99, 0.01 + 0.99 * (0.063 - 0.01), 1e-9);
  EXPECT_NEAR(continuous.ttft.p99, chunked.ttft.p99, 1e-9);  // B's 405 ms both ways
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

// Prefix caching over blocks of 32 tokens (2 pages of 16).
EngineOptions prefix_options(int64_t kv_pages) {
  EngineOptions o = options(kv_pages);
  o.prefix_caching = true;
  o.prefix_block = 32;
  return o;
}

// Every page is free or in a cached block no sequence references.
void expect_all_pages_back(const ServeReport& r) {
  EXPECT_EQ(r.kv_used_pages_end, 0);
  EXPECT_EQ(r.kv_free_pages_end + r.kv_cached_pages_end, r.kv_pages);
}

TEST(Engine, PrefixCachingSkipsTheCachedBlocks) {
  // One after another: A = [1, 2, 3] (80 tokens: 32 + 32 + 16), B = [1, 2, 4] (90), C = [5] (20),
  // D = A again. B finds blocks 1 and 2 (64 tokens) and prefills 26; C finds nothing; D finds all
  // of A, its partial last block cached when A finished, and prefills its last token to produce
  // its first output token: 79 tokens served from the cache.
  const Workload w{"prefixes",
                   {{0, 0, 80, 2, {1, 2, 3}},
                    {1, 10, 90, 2, {1, 2, 4}},
                    {2, 20, 20, 2, {5}},
                    {3, 30, 80, 2, {1, 2, 3}}}};
  for (const char* scheduler : {"continuous", "chunked"}) {
    const ServeReport r = run(w, scheduler, prefix_options(100));
    EXPECT_EQ(r.finished, 4) << scheduler;
    EXPECT_EQ(r.prefill_tokens, 80 + 26 + 20 + 1) << scheduler;
    EXPECT_EQ(r.prefix_hit_tokens, 64 + 79) << scheduler;
    EXPECT_EQ(r.prompt_tokens, 270) << scheduler;
    EXPECT_DOUBLE_EQ(r.prefix_hit_ratio(), 143.0 / 270) << scheduler;
    EXPECT_EQ(r.prefix_evicted_blocks, 0) << scheduler;
    // Blocks 1, 2 (2 pages each), 3 (16 tokens: 1), 4 (26: 2) and 5 (20: 2) stay cached.
    EXPECT_EQ(r.kv_cached_pages_end, 9) << scheduler;
    expect_all_pages_back(r);
    // Without prefix caching every prompt is prefilled whole and nothing stays.
    EngineOptions off = prefix_options(100);
    off.prefix_caching = false;
    const ServeReport plain = run(w, scheduler, off);
    EXPECT_EQ(plain.prefill_tokens, 270) << scheduler;
    EXPECT_EQ(plain.prefix_hit_tokens, 0) << scheduler;
    EXPECT_EQ(plain.kv_cached_pages_end, 0) << scheduler;
    EXPECT_EQ(plain.kv_free_pages_end, 100) << scheduler;
  }
  // Arriving together, A and B are admitted in the same step: both compute blocks 1 and 2 (no
  // hit), and the cache keeps one copy of them (B's pages of them freed).
  const Workload together{"together", {{0, 0, 80, 2, {1, 2, 3}}, {1, 0, 90, 2, {1, 2, 4}}}};
  for (const char* scheduler : {"continuous", "chunked"}) {
    const ServeReport r = run(together, scheduler, prefix_options(100));
    EXPECT_EQ(r.prefill_tokens, 170) << scheduler;
    EXPECT_EQ(r.prefix_hit_tokens, 0) << scheduler;
    EXPECT_EQ(r.kv_cached_pages_end, 2 + 2 + 1 + 2) << scheduler;
    expect_all_pages_back(r);
  }
}

TEST(Engine, PrefixCachingEvictsLeastRecentlyUsedBlocksTailFirst) {
  // Ten pages; prompts of one or two blocks, one output token, one request at a time. The
  // continuous scheduler reserves the prompt and one slot: 5 pages for 64 tokens, 3 for 32.
  //   [1,2]  nothing cached; caches 1, 2              LRU (oldest first): 2 1
  //   [3,4]  5 of the 6 free pages; caches 3, 4        2 1 4 3
  //   [1,2]  hit: 63 tokens, 1 page for the rest       4 3 2 1
  //   [5]    3 pages, 2 free: evicts 4, the tail of 3-4 3 2 1 5
  //   [3,4]  hit on 3 (32 tokens); evicts 2            1 5 4 3
  //   [1,2]  hit on 1 (32 tokens); evicts 5            4 3 2 1
  const Workload w{"evict",
                   {{0, 0, 64, 1, {1, 2}},
                    {1, 1, 64, 1, {3, 4}},
                    {2, 2, 64, 1, {1, 2}},
                    {3, 3, 32, 1, {5}},
                    {4, 4, 64, 1, {3, 4}},
                    {5, 5, 64, 1, {1, 2}}}};
  const ServeReport r = run(w, "continuous", prefix_options(10));
  EXPECT_EQ(r.finished, 6);
  EXPECT_EQ(r.prefix_hit_tokens, 63 + 32 + 32);
  EXPECT_EQ(r.prefix_evicted_blocks, 3);
  EXPECT_EQ(r.prefill_tokens, 64 + 64 + 1 + 32 + 32 + 32);
  EXPECT_EQ(r.kv_cached_pages_end, 8);
  expect_all_pages_back(r);
  // With room for every block, each of the three repeated prompts is served but for its last
  // token.
  const ServeReport roomy = run(w, "continuous", prefix_options(100));
  EXPECT_EQ(roomy.prefix_hit_tokens, 3 * 63);
  EXPECT_EQ(roomy.prefix_evicted_blocks, 0);

  // The first 300 requests of the Mooncake conversation trace at its own pace in a cache of 2,000
  // pages of 16 tokens (32 k tokens; a request takes 14.6 k on average, and 29 of them more than
  // the whole cache): blocks are evicted and sequences preempted, everything that fits finishes,
  // and every page comes back.
  const Workload mooncake = first_requests(load_workload("mooncake"), 300);
  for (const char* scheduler : {"continuous", "chunked"}) {
    EngineOptions o = options(2000);
    o.prefix_caching = true;
    const ServeReport small = run(mooncake, scheduler, o);
    EXPECT_EQ(small.finished + small.rejected, 300) << scheduler;
    EXPECT_GT(small.prefix_evicted_blocks, 0) << scheduler;
    EXPECT_GT(small.preemptions, 0) << scheduler;
    expect_all_pages_back(small);
    o.kv_pages = 1000000;
    const ServeReport large = run(mooncake, scheduler, o);
    EXPECT_EQ(large.prefix_evicted_blocks, 0) << scheduler;
    EXPECT_LT(small.prefix_hit_tokens, large.prefix_hit_tokens) << scheduler;
    expect_all_pages_back(large);
  }
}

TEST(Engine, PrefixCachingOnTheMooncakeTraceSavesTheReuseItImplies) {
  // The first 2,000 requests of the Mooncake conversation trace in a cache that never evicts.
  const Workload trace = first_requests(load_workload("mooncake"), 2000);
  const PrefixReuse reuse = prefix_reuse(trace);
  EngineOptions o = options(4000000);  // 64 M tokens: more than all the prompts together
  o.prefix_caching = true;
  EngineOptions off = o;
  off.prefix_caching = false;
  // One request at a time (each arriving after the last finished): every block an earlier
  // request computed is cached when the next is admitted, as prefix_reuse assumes. The engine
  // saves the reused tokens but one token per fully reused prompt (it prefills that prompt's
  // last token to produce the first output token): at most one token per request, 2,000 in 27 M
  // prompt tokens, 0.01% of the ratio.
  Workload one_by_one = trace;
  for (Request& q : one_by_one.requests) q.arrival = 1000.0 * static_cast<double>(q.id);
  for (const char* scheduler : {"continuous", "chunked"}) {
    const ServeReport on = run(one_by_one, scheduler, o, 200000);
    const ServeReport plain = run(one_by_one, scheduler, off, 200000);
    ASSERT_EQ(on.finished, 2000) << scheduler;
    EXPECT_EQ(on.preemptions + plain.preemptions + on.prefix_evicted_blocks, 0) << scheduler;
    EXPECT_EQ(on.prompt_tokens, reuse.prompt_tokens) << scheduler;
    EXPECT_EQ(plain.prefill_tokens, reuse.prompt_tokens) << scheduler;
    EXPECT_EQ(plain.prefill_tokens - on.prefill_tokens, on.prefix_hit_tokens) << scheduler;
    EXPECT_LE(on.prefix_hit_tokens, reuse.reused_tokens) << scheduler;
    EXPECT_GE(on.prefix_hit_tokens, reuse.reused_tokens - 2000) << scheduler;
    EXPECT_NEAR(on.prefix_hit_ratio(), reuse.ratio(),
                2000.0 / static_cast<double>(reuse.prompt_tokens))
        << scheduler;
    expect_all_pages_back(on);
  }
  // At the trace's own pace a request admitted while the blocks it shares are still being
  // prefilled (the chunked scheduler admits new prompts beside the chunks of others) computes
  // them again: at most the reuse comes from the cache (here nearly all of it: these steps are
  // short next to the gaps between arrivals), and with no eviction or preemption the prefill
  // still goes down by exactly what did.
  for (const char* scheduler : {"continuous", "chunked"}) {
    const ServeReport on = run(trace, scheduler, o, 200000);
    const ServeReport plain = run(trace, scheduler, off, 200000);
    ASSERT_EQ(on.finished, 2000) << scheduler;
    EXPECT_EQ(on.preemptions + plain.preemptions + on.prefix_evicted_blocks, 0) << scheduler;
    EXPECT_EQ(plain.prefill_tokens - on.prefill_tokens, on.prefix_hit_tokens) << scheduler;
    EXPECT_LE(on.prefix_hit_tokens, reuse.reused_tokens) << scheduler;
    EXPECT_GT(on.prefix_hit_ratio(), 0.9 * reuse.ratio()) << scheduler;
  }
}

TEST(Engine, PrefixBlockMustBeWholePages) {
  EngineOptions o = prefix_options(100);
  o.prefix_block = 24;
  EXPECT_EQ(seedchip::testing::error_of([&] {
              run({"one", {{0, 0, 10, 1}}}, "chunked", o);
            }),
            "KV cache: the prefix block (24 tokens) must be a multiple of the page (16 tokens)");
  o.prefix_caching = false;  // the block matters only with prefix caching
  EXPECT_EQ(run({"one", {{0, 0, 10, 1}}}, "chunked", o).finished, 1);
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

namespace seedchip::serve {
namespace {

TEST(Engine, AStreamedTraceGivesTheReportOfTheLoadedOne) {
  const Workload w = scale_rate(first_requests(load_workload("azure-conv"), 2000), 4);
  EngineOptions o = options(20000);
  const ServeReport loaded = run(w, "chunked", o);
  const ConstantCost cost;
  auto s = make_scheduler("chunked");
  const std::unique_ptr<RequestStream> stream = open_trace("azure-conv", {2000, 1, 4, false});
  const ServeReport streamed = run_engine(*stream, cost, *s, o, 100000, 10);
  EXPECT_EQ(streamed.requests, 2000);
  EXPECT_EQ(streamed.finished, loaded.finished);
  EXPECT_EQ(streamed.steps, loaded.steps);
  EXPECT_EQ(streamed.makespan, loaded.makespan);
  EXPECT_EQ(streamed.ttft.p99, loaded.ttft.p99);
  EXPECT_EQ(streamed.e2e.mean, loaded.e2e.mean);
  // Binned latencies: the same run, its percentiles within the bins' error.
  o.latencies = LatencyDistribution::Mode::kBinned;
  auto s2 = make_scheduler("chunked");
  const std::unique_ptr<RequestStream> again = open_trace("azure-conv", {2000, 1, 4, false});
  const ServeReport binned = run_engine(*again, cost, *s2, o, 100000, 10);
  EXPECT_EQ(binned.steps, loaded.steps);
  EXPECT_EQ(binned.good, loaded.good);
  for (const auto& [b, l] : {std::pair{binned.ttft, loaded.ttft},
                             {binned.tpot, loaded.tpot},
                             {binned.e2e, loaded.e2e},
                             {binned.max_tbt, loaded.max_tbt}}) {
    EXPECT_NEAR(b.p50, l.p50, LatencyDistribution::kRelativeError * l.p50);
    EXPECT_NEAR(b.p99, l.p99, LatencyDistribution::kRelativeError * l.p99);
    EXPECT_NEAR(b.mean, l.mean, 1e-9 * l.mean);
  }
}

}  // namespace
}  // namespace seedchip::serve
