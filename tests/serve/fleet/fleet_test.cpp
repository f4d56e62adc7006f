// The fleet: a one-instance fleet reports what run_engine does; each router on cases small enough
// to follow by hand; SLO classes; determinism; and the fleet file's and SLO rules' bad inputs.
#include "serve/fleet/fleet.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "arch/chip_loader.h"
#include "llm/model_preset.h"
#include "serve/fleet/fleet_config.h"
#include "tests/input_error.h"
#include "tests/serve/constant_cost.h"

namespace seedchip::serve {
namespace {

using seedchip::testing::error_of;

using testing::ConstantCost;
using testing::D;
using testing::P;
using testing::ShapedCost;

Pool pool(const StepCostModel& cost, int64_t instances, int64_t kv_pages = 1000,
          const std::string& scheduler = "continuous") {
  Pool p;
  p.name = "test";
  p.cost = &cost;
  p.scheduler = scheduler;
  p.engine.kv_pages = kv_pages;
  p.instances = instances;
  p.max_context = 1000000;
  p.idle_watts = 10;
  return p;
}

FleetReport fleet(const Workload& w, const std::vector<Pool>& pools, const std::string& router,
                  FleetOptions o = {}) {
  auto r = make_router(router);
  o.record_routes = true;
  return run_fleet(w, pools, *r, o);
}

void expect_same(const Percentiles& a, const Percentiles& b) {
  EXPECT_EQ(a.p50, b.p50);
  EXPECT_EQ(a.p90, b.p90);
  EXPECT_EQ(a.p99, b.p99);
  EXPECT_EQ(a.mean, b.mean);
}

// Every figure equal, to the bit (mean_batch to rounding when `derived`: the fleet recombines it).
void expect_same(const ServeReport& a, const ServeReport& b, bool derived = false) {
  EXPECT_EQ(a.requests, b.requests);
  EXPECT_EQ(a.finished, b.finished);
  EXPECT_EQ(a.rejected, b.rejected);
  EXPECT_EQ(a.stopped, b.stopped);
  EXPECT_EQ(a.makespan, b.makespan);
  EXPECT_EQ(a.busy, b.busy);
  EXPECT_EQ(a.steps, b.steps);
  EXPECT_EQ(a.prefill_tokens, b.prefill_tokens);
  EXPECT_EQ(a.output_tokens, b.output_tokens);
  EXPECT_EQ(a.preemptions, b.preemptions);
  if (derived)
    EXPECT_DOUBLE_EQ(a.mean_batch, b.mean_batch);
  else
    EXPECT_EQ(a.mean_batch, b.mean_batch);
  EXPECT_EQ(a.energy_busy, b.energy_busy);
  EXPECT_EQ(a.energy_idle, b.energy_idle);
  EXPECT_EQ(a.kv_pages, b.kv_pages);
  EXPECT_EQ(a.kv_peak_pages, b.kv_peak_pages);
  EXPECT_EQ(a.kv_free_pages_end, b.kv_free_pages_end);
  EXPECT_EQ(a.kv_cached_pages_end, b.kv_cached_pages_end);
  EXPECT_EQ(a.kv_used_pages_end, b.kv_used_pages_end);
  EXPECT_EQ(a.prompt_tokens, b.prompt_tokens);
  EXPECT_EQ(a.prefix_hit_tokens, b.prefix_hit_tokens);
  EXPECT_EQ(a.prefix_evicted_blocks, b.prefix_evicted_blocks);
  expect_same(a.ttft, b.ttft);
  expect_same(a.tpot, b.tpot);
  expect_same(a.e2e, b.e2e);
  EXPECT_EQ(a.good, b.good);
}

TEST(Fleet, OneInstanceReportsWhatRunEngineDoes) {
  const ShapedCost cost;
  // Azure lengths at Poisson arrivals, and the Mooncake trace's prefixes in a cache small enough
  // to evict blocks and preempt sequences; both schedulers.
  const Workload azure =
      poisson_arrivals(first_requests(load_workload("azure-conv"), 500), 20, 400, 3);
  const Workload mooncake = first_requests(load_workload("mooncake"), 300);
  for (const char* scheduler : {"continuous", "chunked"})
    for (const bool prefix : {false, true}) {
      const Workload& w = prefix ? mooncake : azure;
      Pool p = pool(cost, 1, prefix ? 2000 : 3000, scheduler);
      p.engine.prefix_caching = prefix;
      p.engine.max_batch = 32;
      auto s = make_scheduler(scheduler);
      const ServeReport alone = run_engine(w, cost, *s, p.engine, p.max_context, p.idle_watts);
      const FleetReport f = fleet(w, {p}, "round-robin");
      SCOPED_TRACE(std::string(scheduler) + (prefix ? ", mooncake" : ", azure"));
      if (prefix) {
        EXPECT_GT(alone.preemptions, 0);
        EXPECT_GT(alone.prefix_evicted_blocks, 0);
      }
      expect_same(f.instances[0], alone);
      expect_same(f.total, alone, true);
      expect_same(f.pools[0].total, alone, true);
      ASSERT_EQ(f.classes.size(), 1u);
      EXPECT_EQ(f.classes[0].good, alone.good);
      EXPECT_EQ(f.classes[0].goodput, alone.goodput());
    }
}

TEST(Fleet, RoundRobinTakesTurns) {
  const ConstantCost cost;
  Workload w{"nine", {}};
  for (int64_t i = 0; i < 9; ++i) w.requests.push_back({i, 0.01 * static_cast<double>(i), 10, 2});
  const FleetReport f = fleet(w, {pool(cost, 3)}, "round-robin");
  EXPECT_EQ(f.routed_to, (std::vector<int64_t>{0, 1, 2, 0, 1, 2, 0, 1, 2}));
  for (const ServeReport& r : f.instances) EXPECT_EQ(r.finished, 3);
  EXPECT_EQ(f.total.finished, 9);
  EXPECT_EQ(f.total.output_tokens, 18);
}

TEST(Fleet, LeastOutstandingTokensPicksTheIdleInstance) {
  const ConstantCost cost;
  // A (100 + 50 tokens) goes to instance 0 (a tie: the lowest number); its prefill has run when
  // B comes at 0.05, leaving it 49 tokens to generate: B goes to idle instance 1. B's prefill has
  // run when C comes at 0.06, leaving 4 tokens there against 49: C joins B.
  const Workload w{"three", {{0, 0, 100, 50}, {1, 0.05, 10, 5}, {2, 0.06, 10, 5}}};
  const FleetReport f = fleet(w, {pool(cost, 2)}, "least-outstanding-tokens");
  EXPECT_EQ(f.routed_to, (std::vector<int64_t>{0, 1, 1}));
  // Round-robin sends C to instance 0, behind A.
  EXPECT_EQ(fleet(w, {pool(cost, 2)}, "round-robin").routed_to, (std::vector<int64_t>{0, 1, 0}));
}

TEST(Fleet, PrefixAffinityGoesWhereThePrefixIsCached) {
  const ConstantCost cost;
  // Two conversations of 32-token blocks: [1, 2] then [1, 2, 6], and [3, 4] then [3, 4, 5]. The
  // first turns land on instances 0 and 1 (the second arrives while the first runs: least
  // outstanding tokens); the second turns come when all is idle. Round-robin sends [3, 4, 5] to
  // instance 0 and [1, 2, 6] to instance 1, where nothing of them is cached: 96 tokens each.
  // Prefix affinity sends each to the instance holding its first two blocks: 32 tokens each.
  const Workload w{"turns",
                   {{0, 0, 64, 20, {1, 2}},
                    {1, 0.05, 64, 20, {3, 4}},
                    {2, 10, 96, 2, {3, 4, 5}},
                    {3, 10.5, 96, 2, {1, 2, 6}}}};
  Pool p = pool(cost, 2);
  p.engine.prefix_caching = true;
  p.engine.prefix_block = 32;
  const FleetReport rr = fleet(w, {p}, "round-robin");
  const FleetReport affinity = fleet(w, {p}, "prefix-affinity");
  EXPECT_EQ(rr.routed_to, (std::vector<int64_t>{0, 1, 0, 1}));
  EXPECT_EQ(affinity.routed_to, (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(rr.total.prefill_tokens, 64 + 64 + 96 + 96);
  EXPECT_EQ(rr.total.prefix_hit_tokens, 0);
  EXPECT_EQ(affinity.total.prefill_tokens, 64 + 64 + 32 + 32);
  EXPECT_EQ(affinity.total.prefix_hit_tokens, 128);
  // Without hash_ids it is least-outstanding-tokens.
  Workload plain = w;
  for (Request& q : plain.requests) q.hash_ids.clear();
  EXPECT_EQ(fleet(plain, {p}, "prefix-affinity").routed_to,
            fleet(plain, {p}, "least-outstanding-tokens").routed_to);
}

TEST(Fleet, PrefixAffinityOnTheMooncakeTrace) {
  // The first 3,000 Mooncake requests at their pace on four instances of llama-3.1-70b on 8 x h200
  // (the analytic model through a measured grid; together about what the instances serve),
  // prefix caching on.
  const llm::LlamaConfig model = llm::load_model_preset("llama-3.1-70b").config;
  const LoadedChip h200 = load_chip("h200");
  const auto direct = make_direct_cost(model, h200, 8);
  CachedStepCost cost(*direct, {});
  cost.measure(1, nullptr);
  Pool p = pool(cost, 4);
  p.engine.kv_pages = kv_pages_for(model, h200.config, 8, 16).pages;
  p.engine.prefix_caching = true;
  p.max_context = model.seq_len;
  const Workload w = first_requests(load_workload("mooncake"), 3000);
  const FleetReport rr = fleet(w, {p}, "round-robin");
  const FleetReport affinity = fleet(w, {p}, "prefix-affinity");
  EXPECT_EQ(rr.total.finished + rr.total.rejected, 3000);
  EXPECT_EQ(affinity.total.finished + affinity.total.rejected, 3000);
  // Round-robin finds a conversation's earlier turns on the instance it picks one time in four;
  // affinity finds them wherever they are still cached (here: 12.1 M against 5.3 M tokens, and the
  // TTFT median 1.6 s against 42 s; the trace's own reuse bound is 32% of 40.6 M prompt tokens).
  EXPECT_GT(affinity.total.prefix_hit_tokens, 2 * rr.total.prefix_hit_tokens);
  EXPECT_LT(affinity.total.ttft.p50, rr.total.ttft.p50 / 10);
  EXPECT_LT(affinity.total.prefill_tokens, rr.total.prefill_tokens);
  // Every instance takes some of the load.
  for (const ServeReport& r : affinity.instances) EXPECT_GT(r.finished, 3000 / 20);
}

TEST(Fleet, DisaggregatedPrefillHandsTheKvToADecodeInstance) {
  const ConstantCost cost;
  // One prefill and one decode instance; 1 MB of KV per position over 1 GB/s of links: the KV of
  // a 100-token prompt takes 0.1 s to move.
  Pool prefill = pool(cost, 1), decode = pool(cost, 1);
  prefill.name = "prefill";
  prefill.role = PoolRole::kPrefill;
  prefill.kv_bytes_per_token = 1e6;
  prefill.link_bytes_per_s = 1e9;
  decode.name = "decode";
  decode.role = PoolRole::kDecode;
  // A (100 prompt tokens, 5 output tokens) is prefilled by 0.1 (its first token), moved by 0.2
  // and decoded 4 times by 0.24. B (one output token) arrives at 1 and finishes where it is
  // prefilled, at 1.1.
  const Workload w{"pd", {{0, 0, 100, 5}, {1, 1, 10, 1}}};
  const FleetReport f = fleet(w, {prefill, decode}, "round-robin");
  EXPECT_EQ(f.routed_to, (std::vector<int64_t>{0, 0}));  // arrivals never go to decode instances
  EXPECT_EQ(f.kv_transfers, 1);
  EXPECT_NEAR(f.kv_transfer_seconds.p50, 0.1, 1e-12);
  const ServeReport &p = f.instances[0], &d = f.instances[1];
  EXPECT_EQ(p.finished, 1);
  EXPECT_EQ(p.steps, 2);
  EXPECT_EQ(p.output_tokens, 2);
  EXPECT_EQ(p.prefill_tokens, 110);
  EXPECT_EQ(d.requests, 1);
  EXPECT_EQ(d.finished, 1);
  EXPECT_EQ(d.steps, 4);
  EXPECT_EQ(d.output_tokens, 4);
  EXPECT_EQ(d.prefill_tokens, 0);
  EXPECT_EQ(d.kv_used_pages_end, 0);
  EXPECT_EQ(d.prompt_tokens, 100);  // counted where A finished
  EXPECT_EQ(f.total.finished, 2);
  EXPECT_NEAR(f.total.makespan, 1.1, 1e-12);
  EXPECT_NEAR(f.total.ttft.p50, P, 1e-12);
  EXPECT_NEAR(f.total.tpot.p50, (0.24 - 0.1) / 4, 1e-12);  // the transfer delays A's tokens
  EXPECT_NEAR(f.total.e2e.mean, (0.24 + 0.1) / 2, 1e-12);
  EXPECT_EQ(f.pools[1].role, PoolRole::kDecode);
  // On one instance doing both, A decodes at once: TPOT D.
  EXPECT_NEAR(fleet(w, {pool(cost, 1)}, "round-robin").total.tpot.p50, D, 1e-12);

  EXPECT_EQ(error_of([&] { fleet(w, {prefill}, "round-robin"); }),
            "fleet: prefill pools need decode pools to hand their sequences to, and the other way "
            "round");
  prefill.link_bytes_per_s = 0;
  EXPECT_EQ(error_of([&] {
              fleet(w, {prefill, decode}, "round-robin");
            }),
            "fleet: prefill pool 'prefill' needs its KV bytes per token and link bandwidth for the "
            "transfers");
}

TEST(Fleet, GoodputPerSloClass) {
  const ConstantCost cost;
  // Every TTFT is at least P = 0.1 s: no request of the 50 ms class is good, all of the 1 s one.
  Workload w{"classes", {}};
  for (int64_t i = 0; i < 10; ++i) {
    Request q{i, static_cast<double>(i), 10, 3};
    q.slo_class = i % 2;
    w.requests.push_back(q);
  }
  FleetOptions o;
  o.slo_classes = {{"tight", 0.05, 1}, {"loose", 1, 1}};
  const FleetReport f = fleet(w, {pool(cost, 2)}, "least-outstanding-tokens", o);
  ASSERT_EQ(f.classes.size(), 2u);
  EXPECT_EQ(f.classes[0].slo.name, "tight");
  EXPECT_EQ(f.classes[0].requests, 5);
  EXPECT_EQ(f.classes[0].finished, 5);
  EXPECT_EQ(f.classes[0].good, 0);
  EXPECT_EQ(f.classes[1].good, 5);
  EXPECT_DOUBLE_EQ(f.classes[1].goodput, 5 / f.total.makespan);
  EXPECT_EQ(f.total.good, 5);
  EXPECT_DOUBLE_EQ(f.total.makespan, 9 + P + 2 * D);
  EXPECT_NEAR(f.classes[0].ttft.p50, P, 1e-12);
  EXPECT_NEAR(f.classes[1].tpot.p50, D, 1e-12);
  // A class the options do not list.
  w.requests[3].slo_class = 2;
  EXPECT_EQ(error_of([&] { fleet(w, {pool(cost, 2)}, "round-robin", o); }),
            "fleet: request 3 is of SLO class 2; the classes are 0 to 1");
}

TEST(Fleet, SloRulesAssignClasses) {
  const SloClass defaults{"default", 2, 0.2};
  std::vector<SloRule> rules = {parse_slo_rule("chat:ttft=2s,tpot=200ms", defaults),
                                parse_slo_rule("long:prompt>4096,ttft=10s", defaults),
                                parse_slo_rule("short-answer:output<=8,prompt<=4096", defaults)};
  EXPECT_EQ(rules[1].slo.name, "long");
  EXPECT_DOUBLE_EQ(rules[1].slo.ttft, 10);
  EXPECT_DOUBLE_EQ(rules[1].slo.tpot, 0.2);  // the default's
  EXPECT_EQ(rules[2].when.size(), 2u);
  Workload w{"w", {{0, 0, 100, 50}, {1, 1, 5000, 50}, {2, 2, 4096, 8}, {3, 3, 5000, 8}}};
  assign_slo_classes(w, rules);
  EXPECT_EQ(w.requests[0].slo_class, 0);
  EXPECT_EQ(w.requests[1].slo_class, 1);
  EXPECT_EQ(w.requests[2].slo_class, 2);
  EXPECT_EQ(w.requests[3].slo_class, 1);  // too long a prompt for short-answer
  EXPECT_DOUBLE_EQ(parse_slo_rule("x:tpot=500us", defaults).slo.tpot, 500e-6);

  EXPECT_EQ(error_of([&] { parse_slo_rule("chat:ttft=2", defaults); }),
            "--slo-class 'chat:ttft=2': expected a positive duration with a unit (s, ms, us) "
            "after ttft=, got '2'");
  EXPECT_EQ(error_of([&] { parse_slo_rule("long:prompt=>4096", defaults); }),
            "--slo-class 'long:prompt=>4096': expected ttft=DURATION, tpot=DURATION or a condition "
            "such as prompt>4096 (prompt or output, then >, >=, < or <=, then tokens), got "
            "'prompt=>4096'");
  EXPECT_EQ(error_of([&] { parse_slo_rule("a.b:ttft=1s", defaults); }),
            "--slo-class 'a.b:ttft=1s': expected NAME:ITEM,... with a name of letters, digits, "
            "'-' and '_', got 'a.b'");
  EXPECT_EQ(error_of([&] {
              Workload v = w;
              assign_slo_classes(v, {rules[1]});
            }),
            "--slo-class: request 0 (prompt 100, output 50 tokens) matches no class; add a class "
            "without conditions first");
  EXPECT_EQ(error_of([&] {
              Workload v = w;
              assign_slo_classes(v, {rules[0], rules[0]});
            }),
            "--slo-class: class 'chat' is given twice");
}

TEST(Fleet, MixedPoolsAndDeterminism) {
  // Two pools, one twice as slow; Azure lengths at Poisson arrivals.
  const ShapedCost fast, slow(2);
  Pool a = pool(fast, 3, 3000), b = pool(slow, 2, 3000, "chunked");
  a.name = "fast";
  b.name = "slow";
  b.chips = 4;
  const Workload w = poisson_arrivals(first_requests(load_workload("azure-conv"), 500), 40, 600, 7);
  for (const auto& [name, info] : routers()) {
    SCOPED_TRACE(name);
    const FleetReport x = fleet(w, {a, b}, name), y = fleet(w, {a, b}, name);
    EXPECT_EQ(x.routed_to, y.routed_to);
    expect_same(x.total, y.total);
    ASSERT_EQ(x.instances.size(), 5u);
    EXPECT_EQ(x.total.finished, 600);
    EXPECT_EQ(x.pools[0].total.finished + x.pools[1].total.finished, 600);
    EXPECT_EQ(x.pools[0].total.output_tokens + x.pools[1].total.output_tokens,
              x.total.output_tokens);
    EXPECT_EQ(x.pools[1].name, "slow");
    EXPECT_EQ(x.pools[1].chips, 4);
    // Utilization is the mean busy share of the instances.
    double busy = 0;
    for (const ServeReport& r : x.instances) busy += r.busy;
    EXPECT_NEAR(x.total.utilization(), busy / 5 / x.total.makespan, 1e-12);
    EXPECT_NEAR(x.total.joules_per_output_token(),
                (x.total.energy_busy + x.total.energy_idle) / x.total.output_tokens, 1e-12);
    for (const ServeReport& r : x.instances) EXPECT_EQ(r.makespan, x.total.makespan);
  }
  // Least outstanding tokens spreads the load: every instance serves.
  for (const ServeReport& r : fleet(w, {a, b}, "least-outstanding-tokens").instances)
    EXPECT_GT(r.finished, 0);
}

TEST(Fleet, StopsWhenAsked) {
  const ShapedCost cost;
  const Workload w = poisson_arrivals(first_requests(load_workload("azure-conv"), 500), 40, 600, 7);
  FleetOptions o;
  int calls = 0;
  o.keep_going = [&] { return ++calls < 100; };
  const FleetReport f = fleet(w, {pool(cost, 4, 3000)}, "round-robin", o);
  EXPECT_TRUE(f.total.stopped);
  EXPECT_EQ(f.total.steps, 99);
  EXPECT_LT(f.total.finished, 600);
  EXPECT_EQ(f.total.requests, 600);
}

TEST(Fleet, BadInputs) {
  const ConstantCost cost;
  EXPECT_EQ(error_of([] { make_router("random"); }),
            "unknown router 'random' (known: least-outstanding-tokens, prefix-affinity, "
            "round-robin)");
  Pool none = pool(cost, 0);
  EXPECT_EQ(error_of([&] {
              fleet({"w", {}}, {none}, "round-robin");
            }),
            "fleet: pool 'test' needs at least one instance and a cost model");
  EXPECT_EQ(error_of([&] { fleet({"w", {}}, {}, "round-robin"); }), "fleet: no pool of instances");
}

class FleetFile : public ::testing::Test {
 protected:
  std::string write(const std::string& text) {
    const auto path =
        std::filesystem::temp_directory_path() /
        ("seedchip-fleet-" +
         std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".yaml");
    std::ofstream(path) << text;
    paths_.push_back(path.string());
    return path.string();
  }
  void TearDown() override {
    for (const std::string& p : paths_) std::filesystem::remove(p);
  }
  std::vector<std::string> paths_;
};

TEST_F(FleetFile, ReadsPools) {
  const std::string f = write(
      "pools:\n"
      "  - chip: seedchip-v1\n"
      "    chips: 4\n"
      "    tp: 2\n"
      "    instances: 3\n"
      "    scheduler: chunked\n"
      "    max_batch: 64\n"
      "  - {chip: h200, set: [power.tdp_w=600], role: decode, ep: 4}\n");
  const std::vector<PoolSpec> pools = load_fleet_file(f);
  ASSERT_EQ(pools.size(), 2u);
  EXPECT_EQ(pools[0].ep, 1);
  EXPECT_EQ(pools[1].ep, 4);
  EXPECT_EQ(parallelism(pools[1].chips, pools[1].tensor_parallel(), pools[1].ep), "TP 8, EP 4");
  EXPECT_EQ(pools[0].chip, "seedchip-v1");
  EXPECT_EQ(pools[0].chips, 4);
  EXPECT_EQ(pools[0].tensor_parallel(), 2);
  EXPECT_EQ(pools[0].pipeline_stages(), 2);
  EXPECT_EQ(pools[1].tensor_parallel(), 8);  // all the chips by default
  EXPECT_EQ(pools[1].pipeline_stages(), 1);
  EXPECT_EQ(pools[0].instances, 3);
  EXPECT_EQ(pools[0].scheduler, "chunked");
  EXPECT_EQ(pools[0].max_batch, 64);
  EXPECT_EQ(pools[1].chips, 8);
  EXPECT_EQ(pools[1].instances, 1);
  EXPECT_EQ(pools[1].scheduler, "continuous");
  EXPECT_EQ(pools[1].overrides, (std::vector<std::string>{"power.tdp_w=600"}));
  EXPECT_EQ(pools[0].role, PoolRole::kBoth);
  EXPECT_EQ(pools[1].role, PoolRole::kDecode);
}

TEST_F(FleetFile, BadFilesNameFileLineAndKey) {
  const std::string unknown = write("pools:\n  - chip: h200\n    chps: 8\n");
  EXPECT_EQ(error_of([&] { load_fleet_file(unknown); }),
            unknown +
                ":3: unknown key 'pools[0].chps'; the keys are listed in "
                "serve/fleet/fleet_config.h");
  const std::string zero = write("pools:\n  - chip: h200\n    instances: 0\n");
  EXPECT_EQ(error_of([&] { load_fleet_file(zero); }),
            zero + ":3: key 'pools[0].instances': expected an integer in [1, 1048576], got '0'");
  const std::string chip = write("pools:\n  - chip: h100x\n");
  EXPECT_NE(error_of([&] {
              load_fleet_file(chip);
            }).find(chip + ":2: key 'pools[0].chip': expected a chip preset ("),
            std::string::npos);
  const std::string scheduler = write("pools:\n  - chip: h200\n    scheduler: fifo\n");
  EXPECT_EQ(error_of([&] { load_fleet_file(scheduler); }),
            scheduler +
                ":3: key 'pools[0].scheduler': expected a scheduler (chunked, continuous), got "
                "'fifo'");
  const std::string set = write("pools:\n  - chip: h200\n    set: [power.tdp_w=bad]\n");
  EXPECT_EQ(error_of([&] { load_fleet_file(set); }),
            set +
                ":3: key 'pools[0].set': --set 'power.tdp_w=bad': 'power.tdp_w' = 'bad': expected "
                "a number in [1, 10000] W");
  const std::string tp = write("pools:\n  - chip: h200\n    chips: 4\n    tp: 3\n");
  EXPECT_EQ(error_of([&] { load_fleet_file(tp); }),
            tp + ":4: key 'pools[0].tp': expected a divisor of chips (4), got '3'");
  const std::string ep = write("pools:\n  - chip: h200\n    chips: 8\n    ep: 3\n");
  EXPECT_EQ(error_of([&] { load_fleet_file(ep); }),
            ep + ":4: key 'pools[0].ep': expected a divisor of tp (8), got '3'");
  const std::string role = write("pools:\n  - chip: h200\n    role: encode\n");
  EXPECT_EQ(error_of([&] { load_fleet_file(role); }),
            role + ":3: key 'pools[0].role': expected both, prefill or decode, got 'encode'");
  const std::string missing = write("routers: 2\n");
  EXPECT_EQ(error_of([&] { load_fleet_file(missing); }),
            missing + ": required key 'pools' is missing");
  const std::string empty = write("pools: []\n");
  EXPECT_EQ(error_of([&] { load_fleet_file(empty); }),
            empty + ": key 'pools': expected at least one pool of instances");
  const std::string top = write("pools:\n  - chip: h200\nrouter: round-robin\n");
  EXPECT_EQ(error_of([&] { load_fleet_file(top); }),
            top + ":3: unknown key 'router'; the keys are listed in serve/fleet/fleet_config.h");
  EXPECT_NE(error_of([&] { load_fleet_file("/nonexistent/fleet.yaml"); }).find("cannot open"),
            std::string::npos);
}

}  // namespace
}  // namespace seedchip::serve

namespace seedchip::serve {
namespace {

TEST(Fleet, AStreamedTraceGivesTheReportOfTheLoadedOne) {
  const ShapedCost cost;
  const SloClass defaults{"default", 2, 0.2};
  const std::vector<SloRule> rules = {parse_slo_rule("chat:ttft=1s", defaults),
                                      parse_slo_rule("long:prompt>2000,ttft=4s", defaults)};
  Workload w = scale_rate(first_requests(load_workload("azure-conv"), 3000), 6);
  assign_slo_classes(w, rules);
  FleetOptions o;
  o.slo_classes = {rules[0].slo, rules[1].slo};
  const std::vector<Pool> pools = {pool(cost, 3, 3000)};
  const FleetReport loaded = fleet(w, pools, "least-outstanding-tokens", o);
  auto streamed_with = [&](LatencyDistribution::Mode mode) {
    FleetOptions so = o;
    so.latencies = mode;
    ClassifiedStream s(open_trace("azure-conv", {3000, 1, 6, false}), rules);
    auto router = make_router("least-outstanding-tokens");
    return run_fleet(s, pools, *router, so);
  };
  const FleetReport streamed = streamed_with(LatencyDistribution::Mode::kExact);
  EXPECT_TRUE(streamed.routed_to.empty());  // not recorded unless asked
  expect_same(streamed.total, loaded.total);
  ASSERT_EQ(streamed.classes.size(), 2u);
  for (size_t c = 0; c < 2; ++c) {
    EXPECT_EQ(streamed.classes[c].requests, loaded.classes[c].requests);
    EXPECT_EQ(streamed.classes[c].good, loaded.classes[c].good);
    EXPECT_EQ(streamed.classes[c].ttft.p99, loaded.classes[c].ttft.p99);
  }
  EXPECT_GT(loaded.classes[1].requests, 0);
  const FleetReport binned = streamed_with(LatencyDistribution::Mode::kBinned);
  EXPECT_EQ(binned.total.good, loaded.total.good);
  EXPECT_NEAR(binned.total.ttft.p99, loaded.total.ttft.p99,
              LatencyDistribution::kRelativeError * loaded.total.ttft.p99);
  EXPECT_NEAR(binned.classes[1].tpot.p50, loaded.classes[1].tpot.p50,
              LatencyDistribution::kRelativeError * loaded.classes[1].tpot.p50);
}

}  // namespace
}  // namespace seedchip::serve
