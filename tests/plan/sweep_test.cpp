#include "plan/sweep.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/input_error.h"

namespace seedchip::plan {
namespace {

using seedchip::testing::error_of;

std::string write_sweep(const std::string& name, const std::string& text) {
  const auto path = std::filesystem::temp_directory_path() / name;
  std::ofstream(path) << text;
  return path.string();
}

const std::string kHead = "model: llama-3.1-70b\ntrace: azure-conv\nrequests: 200\n";

TEST(Sweep, EnumeratesTheProductLastListFastest) {
  const SweepConfig c = load_sweep(write_sweep(
      "sweep_product.yaml", kHead + "points:\n  chip: [h200, h100-sxm]\n"
                                    "  set: [[], [hbm.stacks=8, core.clock_mhz=1900]]\n"
                                    "  chips: [4, 8]\n  scheduler: [continuous, chunked]\n"
                                    "  max_batch: [64, 256]\n"));
  ASSERT_EQ(c.points.size(), 32u);
  auto is = [](const InstanceShape& s, const std::string& chip, size_t overrides, int64_t chips,
               int64_t batch, const std::string& scheduler) {
    return s.chip == chip && s.overrides.size() == overrides && s.chips == chips &&
           s.max_batch == batch && s.scheduler == scheduler;
  };
  EXPECT_TRUE(is(c.points[0], "h200", 0, 4, 64, "continuous"));
  EXPECT_TRUE(is(c.points[1], "h200", 0, 4, 64, "chunked"));
  EXPECT_TRUE(is(c.points[2], "h200", 0, 4, 256, "continuous"));
  EXPECT_TRUE(is(c.points[4], "h200", 0, 8, 64, "continuous"));
  EXPECT_TRUE(is(c.points[8], "h200", 2, 4, 64, "continuous"));
  EXPECT_EQ(c.points[8].overrides[1], "core.clock_mhz=1900");
  EXPECT_TRUE(is(c.points[16], "h100-sxm", 0, 4, 64, "continuous"));
  EXPECT_TRUE(is(c.points[31], "h100-sxm", 2, 8, 256, "chunked"));
}

TEST(Sweep, DefaultsGiveOnePointPerChip) {
  const SweepConfig c =
      load_sweep(write_sweep("sweep_defaults.yaml", kHead + "points: {chip: h200}\n"));
  ASSERT_EQ(c.points.size(), 1u);
  EXPECT_TRUE(c.points[0].overrides.empty());
  EXPECT_EQ(c.points[0].chips, 8);
  EXPECT_EQ(c.points[0].tensor_parallel(), 8);
  EXPECT_EQ(c.points[0].scheduler, "continuous");
  EXPECT_EQ(c.points[0].max_batch, 256);
  EXPECT_DOUBLE_EQ(c.slo.ttft, 2.0);
  EXPECT_DOUBLE_EQ(c.slo.attainment, 0.99);
  EXPECT_EQ(c.prices_path, default_prices_path());
}

TEST(Sweep, RanksTakeWholeGroupsOfPointsSharingAStepTable) {
  // Groups (chip, set, chips) of two points each (two schedulers).
  const SweepConfig c = load_sweep(
      write_sweep("sweep_ranks.yaml", kHead + "points:\n  chip: [h200, h100-sxm]\n  chips: [4, 8]\n"
                                              "  scheduler: [continuous, chunked]\n"));
  ASSERT_EQ(c.points.size(), 8u);
  EXPECT_EQ(points_of_rank(c, 0, 2), (std::vector<size_t>{0, 1, 4, 5}));
  EXPECT_EQ(points_of_rank(c, 1, 2), (std::vector<size_t>{2, 3, 6, 7}));
  for (int ranks = 1; ranks <= 5; ++ranks) {
    std::multiset<size_t> all;
    for (int rank = 0; rank < ranks; ++rank)
      for (size_t i : points_of_rank(c, rank, ranks)) all.insert(i);
    EXPECT_EQ(all, (std::multiset<size_t>{0, 1, 2, 3, 4, 5, 6, 7})) << ranks << " ranks";
  }
  // One point per group: round robin over the points.
  const SweepConfig single = load_sweep(write_sweep(
      "sweep_ranks1.yaml", kHead + "points:\n  chip: [h200, h100-sxm]\n  chips: [2, 4, 8]\n"));
  EXPECT_EQ(points_of_rank(single, 1, 4), (std::vector<size_t>{1, 5}));
}

TEST(Sweep, BadInputNamesFileLineAndKey) {
  auto error = [](const std::string& body) {
    return error_of([&] { load_sweep(write_sweep("sweep_bad.yaml", body)); });
  };
  const std::string file = (std::filesystem::temp_directory_path() / "sweep_bad.yaml").string();
  EXPECT_EQ(error(kHead + "points:\n  chip: h200\n  chipz: [8]\n"),
            file + ":6: unknown key 'points.chipz'; the keys are listed in plan/sweep.h");
  EXPECT_EQ(error(kHead + "point: {chip: h200}\n"), file + ": required key 'points' is missing");
  EXPECT_EQ(error(kHead + "extra: 1\npoints: {chip: h200}\n"),
            file + ":4: unknown key 'extra'; the keys are listed in plan/sweep.h");
  EXPECT_NE(error(kHead + "slo: {ttft_s: -1}\npoints: {chip: h200}\n")
                .find(file + ":4: key 'slo.ttft_s': expected a number"),
            std::string::npos);
  EXPECT_NE(error(kHead + "points:\n  chip: [h200, no-such-chip]\n")
                .find(file + ":5: key 'points.chip': "),
            std::string::npos);
  EXPECT_NE(error(kHead + "points:\n  chip: h200\n  set: [hbm.stacks=8]\n")
                .find(file + ":6: key 'points.set[0]': expected a list of key=value overrides"),
            std::string::npos);
  EXPECT_NE(error(kHead + "points:\n  chip: h200\n  set: [[], [hbm.stacks]]\n")
                .find(file + ":6: key 'points.set[1]': expected key=value, got 'hbm.stacks'"),
            std::string::npos);
  const std::string bad_key = error(kHead +
                                    "points:\n  chip: h200\n  set:\n    - []\n"
                                    "    - [hbm.timing.tRCDX=3]\n");
  EXPECT_NE(bad_key.find(file + ":8: key 'points.set[1]': on h200: "), std::string::npos)
      << bad_key;
  EXPECT_NE(bad_key.find("hbm.timing.tRCDX"), std::string::npos) << bad_key;
  EXPECT_EQ(error(kHead + "points:\n  chip: h200\n  scheduler: [continuous, fastest]\n"),
            file + ":6: key 'points.scheduler': unknown scheduler 'fastest'");
  EXPECT_NE(error("model: no-such-model\ntrace: azure-conv\npoints: {chip: h200}\n")
                .find(file + ":1: key 'model': "),
            std::string::npos);
  EXPECT_NE(error(kHead + "prices: none.yaml\npoints: {chip: h200}\n").find("cannot open"),
            std::string::npos);
}

SweepRow a_row() {
  SweepRow r;
  r.index = 7;
  r.shape = {"seedchip-v1", {"hbm.stacks=8", "mxu.rows=64"}, 4, "chunked", 128};
  r.met = true;
  r.capacity = {1.0 / 3, 12.345678901234567, 98765.43210987654, 1e-300, 0.99375, 1.9999999999999998,
                0.1,     3210.0000000000005};
  r.loads_tried = 13;
  r.yuan_per_million_tokens = 2.0 / 7;
  r.tokens_per_s_per_watt = 4.000000000000001;
  r.chip_capex = 111234.56789;
  r.tpp = 20132.659;
  r.export_class = "3A090.a";
  return r;
}

TEST(Sweep, TensorParallelListPipelinesTheRest) {
  const SweepConfig c = load_sweep(
      write_sweep("sweep_tp.yaml", kHead + "points: {chip: h200, chips: [4, 8], tp: [8, 2]}\n"));
  std::vector<std::string> shapes;
  for (const InstanceShape& s : c.points) shapes.push_back(s.describe());
  EXPECT_EQ(shapes, (std::vector<std::string>{"4 x h200 (TP 2 x PP 2), continuous, batch <= 256",
                                              "8 x h200, continuous, batch <= 256",
                                              "8 x h200 (TP 2 x PP 4), continuous, batch <= 256"}));
  SweepRow r;
  r.shape = c.points[2];
  const SweepRow back = row_from_json(nlohmann::json::parse(row_to_json(r).dump()), "test");
  EXPECT_EQ(back.shape.tensor_parallel(), 2);
  EXPECT_EQ(back, r);
  EXPECT_NE(error_of([] {
              load_sweep(write_sweep("sweep_tp_none.yaml",
                                     kHead + "points: {chip: h200, chips: [4], tp: [8]}\n"));
            }).find("key 'points.tp': no point"),
            std::string::npos);
}

TEST(Sweep, RowsRoundTripThroughJsonTextExactly) {
  const SweepRow r = a_row();
  const SweepRow back = row_from_json(nlohmann::json::parse(row_to_json(r).dump()), "test");
  EXPECT_EQ(back, r);
  EXPECT_EQ(row_to_json(back).dump(), row_to_json(r).dump());
  SweepRow unfit;
  unfit.shape = {"h100-sxm", {}, 1, "continuous", 256};
  unfit.fits = false;
  unfit.why_not = "KV cache: the weights do not fit";
  EXPECT_EQ(row_from_json(nlohmann::json::parse(row_to_json(unfit).dump()), "test"), unfit);

  nlohmann::json broken = row_to_json(r);
  broken["capacity"].erase("watts");
  EXPECT_NE(error_of([&] {
              row_from_json(broken, "rank 1's rows");
            }).find("rank 1's rows: not a sweep result row: "),
            std::string::npos);
}

TEST(Sweep, SplitEvaluationGivesTheRowsOfOneProcess) {
  const SweepConfig c = load_sweep(
      write_sweep("sweep_eval.yaml", kHead + "points:\n  chip: [h200, h100-sxm]\n  chips: [1, 8]\n"
                                             "  scheduler: [continuous, chunked]\n"));
  const Sweep sweep = prepare_sweep(c, "", 1, nullptr);
  std::vector<SweepRow> whole;
  StepCostMemo memo;
  for (size_t i = 0; i < c.points.size(); ++i) whole.push_back(evaluate_point(sweep, i, &memo));

  // 70B weights (141 GB) do not fit one H100 (80 GB); eight H200s meet the SLO.
  EXPECT_FALSE(whole[4].fits);
  EXPECT_NE(whole[4].why_not.find("do not fit"), std::string::npos) << whole[4].why_not;
  const SweepRow& h200 = whole[2];
  ASSERT_TRUE(h200.fits && h200.met);
  EXPECT_GT(h200.capacity.tokens_per_s, 0);
  EXPECT_GT(h200.yuan_per_million_tokens, 0);
  EXPECT_GT(h200.tokens_per_s_per_watt, 0);
  EXPECT_FALSE(h200.export_class.empty());
  EXPECT_DOUBLE_EQ(h200.chip_capex, chip_cost(sweep.prices, load_chip("h200", {}).config).capex());

  // Two "ranks", each with its own step tables, through JSON text as cmd_sweep sends them.
  std::vector<SweepRow> split(c.points.size());
  for (int rank = 0; rank < 2; ++rank) {
    StepCostMemo own;
    for (size_t i : points_of_rank(c, rank, 2)) {
      const std::string text = row_to_json(evaluate_point(sweep, i, &own)).dump();
      split[i] = row_from_json(nlohmann::json::parse(text), "test");
    }
  }
  EXPECT_EQ(split, whole);
  EXPECT_EQ(sweep_json(sweep, split).dump(), sweep_json(sweep, whole).dump());
  EXPECT_EQ(sweep_json(sweep, whole)["points"].size(), 8u);
}

}  // namespace
}  // namespace seedchip::plan
