// The engine driven step by step (serve::Engine), as a fleet drives it: the clock, idling until a
// request comes, the outstanding tokens routers read, and the cached prefix.
#include <gtest/gtest.h>

#include <limits>

#include "serve/engine/engine.h"
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

TEST(Stepping, ClockIdlingAndOutstandingTokens) {
  const ConstantCost cost;
  auto scheduler = make_scheduler("continuous");
  Engine e(cost, *scheduler, options(), 100000, 10, 0);
  EXPECT_TRUE(e.idle());
  EXPECT_EQ(e.next_step(), std::numeric_limits<double>::infinity());
  // An idle engine waits for the request: its clock moves on to the arrival.
  e.add({0, 1.0, 100, 4});
  EXPECT_EQ(e.clock(), 1.0);
  EXPECT_EQ(e.next_step(), 1.0);
  EXPECT_EQ(e.outstanding_tokens(), 104);
  e.step();  // the prompt and the first output token
  EXPECT_DOUBLE_EQ(e.clock(), 1 + P);
  EXPECT_EQ(e.outstanding_tokens(), 3);
  // Arriving during that step (before the clock), the next request waits for the next step,
  // which prefills it alone (continuous prefills first) and so holds back the first one's decode.
  e.add({1, 1.05, 10, 2});
  EXPECT_DOUBLE_EQ(e.clock(), 1 + P);
  EXPECT_EQ(e.outstanding_tokens(), 3 + 12);
  e.step();
  EXPECT_EQ(e.outstanding_tokens(), 3 + 1);
  // run_until runs the steps starting before the time: the two decode together at 1.2 (ending
  // 1.21, request 1 done), then request 0's last two.
  e.run_until(1.205);
  EXPECT_DOUBLE_EQ(e.clock(), 1 + 2 * P + D);
  EXPECT_EQ(e.finished(), 1);
  e.run_until(100);
  EXPECT_TRUE(e.idle());
  EXPECT_DOUBLE_EQ(e.clock(), 1 + 2 * P + 3 * D);
  EXPECT_EQ(e.outstanding_tokens(), 0);
  const ServeReport r = e.report(3.0);
  EXPECT_EQ(r.finished, 2);
  EXPECT_DOUBLE_EQ(r.makespan, 3.0);
  EXPECT_NEAR(r.energy_idle, 10 * (3.0 - r.busy), 1e-12);
  ASSERT_EQ(e.latencies().size(), 1u);
  const ClassLatencies& l = e.latencies()[0];
  EXPECT_EQ(l.finished, 2);
  ASSERT_EQ(l.ttft.values().size(), 2u);
  EXPECT_NEAR(l.ttft.values()[0], 1 + 2 * P - 1.05, 1e-12);  // request 1 finished first
  EXPECT_NEAR(l.e2e.values()[1], 2 * P + 3 * D, 1e-12);
  EXPECT_THROW(e.step(), std::logic_error);
}

TEST(Stepping, OutstandingTokensCountRecomputationAndPrefixHits) {
  const ConstantCost cost;
  // Preemption: the work of a preempted sequence grows by what it must compute again, and all of
  // it is done at the end.
  auto scheduler = make_scheduler("chunked");
  Engine small(cost, *scheduler, options(10), 100000, 0, 0);
  for (int64_t i = 0; i < 3; ++i) small.add({i, 0, 32, 64});
  EXPECT_EQ(small.outstanding_tokens(), 3 * 96);
  int64_t done = 0;  // tokens computed: prefill (recomputation included) and output
  while (!small.idle()) {
    const ServeReport before = small.report(small.clock());
    const int64_t outstanding = small.outstanding_tokens();
    small.step();
    const ServeReport after = small.report(small.clock());
    const int64_t computed =
        after.prefill_tokens - before.prefill_tokens + (after.output_tokens - before.output_tokens);
    // A step does `computed` tokens; a preemption in it adds what is to be recomputed.
    EXPECT_GE(small.outstanding_tokens(), outstanding - computed);
    if (after.preemptions == before.preemptions) {
      EXPECT_EQ(small.outstanding_tokens(), outstanding - computed);
    }
    done += computed;
  }
  const ServeReport r = small.report(small.clock());
  EXPECT_GT(r.preemptions, 0);
  EXPECT_EQ(small.outstanding_tokens(), 0);
  EXPECT_GT(done, 3 * 96);

  // A prefix hit is work skipped: B = [1, 2, 4] after A = [1, 2, 3] (blocks of 32) prefills 26 of
  // its 90 tokens.
  EngineOptions o = options(100);
  o.prefix_caching = true;
  o.prefix_block = 32;
  auto continuous = make_scheduler("continuous");
  Engine e(cost, *continuous, o, 100000, 0, 0);
  const Request a{0, 0, 80, 2, {1, 2, 3}}, b{1, 10, 90, 2, {1, 2, 4}};
  EXPECT_EQ(e.cached_prefix(b), 0);
  e.add(a);
  e.run_until(10);
  EXPECT_EQ(e.cached_prefix(b), 64);
  EXPECT_EQ(e.cached_prefix(a), 80);  // the partial block was cached when A finished
  e.add(b);
  EXPECT_EQ(e.outstanding_tokens(), 92);
  e.step();
  EXPECT_EQ(e.outstanding_tokens(), 1);  // 64 from the cache, 26 prefilled, 1 output token
  EXPECT_EQ(e.report(e.clock()).prefill_tokens, 80 + 26);
}

}  // namespace
}  // namespace seedchip::serve
