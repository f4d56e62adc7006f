// A fleet run as shards: exactly the whole fleet under round-robin, every figure through JSON to
// the bit, and the shards' own errors.
#include "serve/fleet/shards.h"

#include <gtest/gtest.h>

#include "serve/fleet/fleet_config.h"
#include "tests/input_error.h"
#include "tests/serve/constant_cost.h"

namespace seedchip::serve {
namespace {

using seedchip::testing::error_of;
using testing::ShapedCost;

Pool pool(const StepCostModel& cost, int64_t instances, PoolRole role = PoolRole::kBoth) {
  Pool p;
  p.name = role == PoolRole::kDecode ? "decode" : "test";
  p.cost = &cost;
  p.engine.kv_pages = 3000;
  p.engine.prefix_caching = true;
  p.instances = instances;
  p.max_context = 1000000;
  p.idle_watts = 10;
  p.role = role;
  p.kv_bytes_per_token = 1e5;
  p.link_bytes_per_s = 1e11;
  return p;
}

// Every shard of `trace`'s first 900 requests at 8x their rate, each through the JSON a process
// would send, merged.
MergedShards sharded(const std::vector<Pool>& pools, const std::string& router, int64_t shards,
                     const FleetOptions& o) {
  std::vector<ShardResult> results;
  for (int64_t s = shards - 1; s >= 0; --s) {  // in any order
    const std::unique_ptr<RequestStream> trace = open_trace("mooncake", {900, 1, 8, false});
    const ShardResult r = run_shard(*trace, shard_pools(pools, shards), router, o, s, shards);
    results.push_back(shard_from_json(nlohmann::json::parse(shard_to_json(r).dump()), "test"));
  }
  return merge_shards(std::move(results), o.slo_classes);
}

TEST(FleetShards, RoundRobinShardsAreTheWholeFleet) {
  const ShapedCost cost;
  const std::vector<Pool> pools = {pool(cost, 6)};
  FleetOptions o;
  const std::unique_ptr<RequestStream> trace = open_trace("mooncake", {900, 1, 8, false});
  auto router = make_router("round-robin");
  const FleetReport whole = run_fleet(*trace, pools, *router, o);
  const MergedShards m = sharded(pools, "round-robin", 3, o);
  const ServeReport &a = m.total, &b = whole.total;
  EXPECT_EQ(m.instances, 6);
  EXPECT_EQ(a.requests, 900);
  EXPECT_EQ(a.finished, b.finished);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.prefill_tokens, b.prefill_tokens);
  EXPECT_EQ(a.output_tokens, b.output_tokens);
  EXPECT_EQ(a.prefix_hit_tokens, b.prefix_hit_tokens);
  EXPECT_GT(a.prefix_hit_tokens, 0);
  EXPECT_EQ(a.kv_peak_pages, b.kv_peak_pages);
  EXPECT_EQ(a.good, b.good);
  EXPECT_EQ(a.makespan, b.makespan);
  // Every request's latencies, merged from three shards: the same percentiles to the bit.
  for (const auto& [x, y] :
       {std::pair{a.ttft, b.ttft}, {a.tpot, b.tpot}, {a.e2e, b.e2e}, {a.max_tbt, b.max_tbt}}) {
    EXPECT_EQ(x.p50, y.p50);
    EXPECT_EQ(x.p99, y.p99);
    EXPECT_EQ(x.mean, y.mean);
  }
  // Sums taken in another order.
  EXPECT_NEAR(a.busy, b.busy, 1e-12 * b.busy);
  EXPECT_NEAR(a.mean_batch, b.mean_batch, 1e-12 * b.mean_batch);
  EXPECT_NEAR(a.energy_busy, b.energy_busy, 1e-9 * b.energy_busy);
  EXPECT_NEAR(a.energy_idle, b.energy_idle, 1e-9 * b.energy_idle);
  ASSERT_EQ(m.classes.size(), 1u);
  EXPECT_EQ(m.classes[0].requests, 900);
  EXPECT_EQ(m.classes[0].good, whole.classes[0].good);
}

TEST(FleetShards, PoolsOfAMixedFleetMergeAsTheWholeFleetsPools) {
  const ShapedCost fast, slow(2);
  Pool a = pool(fast, 2), b = pool(slow, 4);
  a.name = "fast";
  b.name = "slow";
  const std::vector<Pool> pools = {a, b};
  FleetOptions o;
  const std::unique_ptr<RequestStream> trace = open_trace("mooncake", {900, 1, 8, false});
  auto router = make_router("round-robin");
  const FleetReport whole = run_fleet(*trace, pools, *router, o);
  const MergedShards m = sharded(pools, "round-robin", 2, o);
  ASSERT_EQ(m.pools.size(), 2u);
  for (size_t p = 0; p < 2; ++p) {
    SCOPED_TRACE(p);
    const ServeReport &x = m.pools[p], &y = whole.pools[p].total;
    EXPECT_EQ(x.requests, y.requests);
    EXPECT_EQ(x.finished, y.finished);
    EXPECT_EQ(x.output_tokens, y.output_tokens);
    EXPECT_EQ(x.ttft.p99, y.ttft.p99);
    EXPECT_EQ(x.tpot.p50, y.tpot.p50);
    EXPECT_NEAR(x.busy, y.busy, 1e-12 * y.busy);
    EXPECT_NEAR(x.energy_idle, y.energy_idle, 1e-9 * y.energy_idle);
  }
  // The slow pool's steps take twice as long: its TPOT is not the fast one's.
  EXPECT_GT(m.pools[1].tpot.p50, m.pools[0].tpot.p50);
}

TEST(FleetShards, OtherRoutersAndDisaggregatedShards) {
  const ShapedCost cost;
  FleetOptions o;
  o.latencies = LatencyDistribution::Mode::kBinned;
  // Least-outstanding-tokens inside each shard: not the whole fleet, but every request served.
  const MergedShards lot = sharded({pool(cost, 4)}, "least-outstanding-tokens", 2, o);
  // (The longest Mooncake prompts do not fit a 3,000-page cache: rejected.)
  EXPECT_EQ(lot.total.finished + lot.total.rejected, 900);
  EXPECT_GT(lot.total.finished, 800);
  EXPECT_GT(lot.total.ttft.p99, 0);
  // Two shards of a 2 + 2 disaggregated fleet: each hands off to its own decode instance.
  const MergedShards d = sharded(
      {pool(cost, 2, PoolRole::kPrefill), pool(cost, 2, PoolRole::kDecode)}, "round-robin", 2, o);
  EXPECT_EQ(d.total.finished + d.total.rejected, 900);
  EXPECT_GT(d.total.finished, 800);
  EXPECT_EQ(d.instances, 4);
}

TEST(FleetShards, Errors) {
  const ShapedCost cost;
  EXPECT_EQ(error_of([&] { shard_pools({pool(cost, 5)}, 2); }),
            "fleet shards: pool 'test' has 5 instances, not a multiple of the 2 shards");
  EXPECT_NE(error_of([&] { shard_pools({pool(cost, 4)}, 0); }), "");
  EXPECT_NE(error_of([] {
              shard_from_json(nlohmann::json::parse("{\"shard\": 0}"), "rank 1");
            }).find("rank 1: not a shard's result"),
            std::string::npos);
  nlohmann::json bins = LatencyDistribution(LatencyDistribution::Mode::kBinned).to_json();
  bins["count"] = 3;
  EXPECT_NE(error_of([&] {
              LatencyDistribution::from_json(bins, "rank 1");
            }).find("bins that do not add up to the count"),
            std::string::npos);
}

}  // namespace
}  // namespace seedchip::serve
