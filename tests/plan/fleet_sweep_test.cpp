// The fleet form of a sweep file: read and checked, its shards shared between ranks, and a run
// through every shard merged into what the unsharded fleet reports.
#include "plan/fleet_sweep.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/input_error.h"

namespace seedchip::plan {
namespace {

using seedchip::testing::error_of;

std::string write(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

const std::string kHead = "model: llama-3.1-70b\ntrace: azure-conv\nrequests: 600\n";

TEST(FleetSweep, ReadsTheFleetAndSharesTheShards) {
  write("fleet_sweep_pools.yaml",
        "pools:\n  - {chip: h200, instances: 4}\n  - {chip: h100-sxm, chips: 4, instances: 2}\n");
  const std::string path =
      write("fleet_sweep.yaml", kHead +
                                    "rate_scale: 4\nfleet: fleet_sweep_pools.yaml\nshards: 2\n"
                                    "router: least-outstanding-tokens\nlatencies: exact\n");
  EXPECT_TRUE(is_fleet_sweep(path));
  const FleetSweepConfig c = load_fleet_sweep(path);
  EXPECT_EQ(c.shards, 2);
  EXPECT_EQ(c.rate_scale, 4);
  ASSERT_EQ(c.pools.size(), 2u);  // read from the sweep's folder
  EXPECT_EQ(c.pools[1].chips, 4);
  EXPECT_EQ(c.latencies, serve::LatencyDistribution::Mode::kExact);
  EXPECT_EQ(shards_of_rank(c, 0, 2), (std::vector<int64_t>{0}));
  EXPECT_EQ(shards_of_rank(c, 1, 3), (std::vector<int64_t>{1}));
  EXPECT_TRUE(shards_of_rank(c, 2, 3).empty());
  EXPECT_FALSE(is_fleet_sweep(write("points_sweep.yaml", kHead + "points: {chip: h200}\n")));

  // Both shards merged: every request once, the two pools' instances halved in each shard.
  const FleetSweep sweep = prepare_fleet_sweep(c, "", 1, nullptr);
  ASSERT_EQ(sweep.pools.size(), 2u);
  EXPECT_EQ(sweep.pools[0].instances, 2);
  EXPECT_EQ(sweep.pools[1].instances, 1);
  std::vector<serve::ShardResult> shards = {run_fleet_shard(sweep, 1), run_fleet_shard(sweep, 0)};
  EXPECT_EQ(shards[0].total.requests + shards[1].total.requests, 600);
  const serve::MergedShards m = serve::merge_shards(shards, sweep.options.slo_classes);
  EXPECT_EQ(m.instances, 6);
  EXPECT_EQ(m.total.finished, 600);
  const nlohmann::json j = fleet_sweep_json(sweep, m);
  EXPECT_EQ(j["finished"]["value"], 600);
  EXPECT_EQ(j["pools"][1]["chip"], "h100-sxm");
  EXPECT_GT(j["ttft"]["p99"]["value"].get<double>(), 0);
}

TEST(FleetSweep, BadFilesNameTheKey) {
  write("fleet_sweep_odd.yaml", "pools:\n  - {chip: h200, instances: 3}\n");
  EXPECT_NE(error_of([] {
              load_fleet_sweep(write("fleet_sweep_bad1.yaml",
                                     kHead + "fleet: fleet_sweep_odd.yaml\nshards: 2\n"));
            }).find("fleet_sweep_bad1.yaml:5: key 'shards'"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              load_fleet_sweep(write("fleet_sweep_bad2.yaml",
                                     kHead + "fleet: fleet_sweep_odd.yaml\nrouter: random\n"));
            }).find("key 'router'"),
            std::string::npos);
  EXPECT_NE(
      error_of([] {
        load_fleet_sweep(write("fleet_sweep_bad3.yaml",
                               kHead + "fleet: fleet_sweep_odd.yaml\nrouter: prefix-affinity\n"));
      }).find("prefix_caching: true"),
      std::string::npos);
  EXPECT_NE(error_of([] {
              load_fleet_sweep(write("fleet_sweep_bad4.yaml",
                                     kHead + "fleet: fleet_sweep_odd.yaml\nlatencies: x\n"));
            }).find("key 'latencies'"),
            std::string::npos);
  EXPECT_NE(
      error_of([] {
        load_fleet_sweep(write("fleet_sweep_bad5.yaml", kHead + "fleet: no_such_fleet.yaml\n"));
      }).find("no_such_fleet.yaml"),
      std::string::npos);
  EXPECT_NE(error_of([] {
              load_fleet_sweep(write("fleet_sweep_bad6.yaml",
                                     kHead + "fleet: fleet_sweep_odd.yaml\nshard: 3\n"));
            }).find("unknown key 'shard'"),
            std::string::npos);
}

}  // namespace
}  // namespace seedchip::plan
