#include "runtime/conformance.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "arch/chip_loader.h"
#include "compiler/frontend/onnx/onnx_loader.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {
namespace {

// The whole suite runs once (seconds in a Release build) and every test reads its results.
class Conformance : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    results_ = new std::vector<CaseResult>(run_conformance(load_chip("seedchip-v1"), {}));
  }
  static void TearDownTestSuite() {
    delete results_;
    results_ = nullptr;
  }
  static const std::vector<CaseResult>& results() { return *results_; }

 private:
  static std::vector<CaseResult>* results_;
};
std::vector<CaseResult>* Conformance::results_ = nullptr;

// Every case listed as passing (the regression guard of the conformance suite) still passes.
TEST_F(Conformance, ExpectedPassesStillPass) {
  std::ifstream in(std::string(SEEDCHIP_TEST_DATA_DIR) + "/onnx_expected_passes.txt");
  ASSERT_TRUE(in);
  std::set<std::string> expected;
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#') expected.insert(line);
  ASSERT_GT(expected.size(), 300u);
  std::map<std::string, const CaseResult*> by_name;
  for (const CaseResult& r : results()) by_name[r.suite + "/" + r.name] = &r;
  for (const std::string& c : expected) {
    ASSERT_TRUE(by_name.count(c)) << c << " was not run";
    EXPECT_EQ(by_name[c]->status, CaseStatus::kPass) << c << ": " << by_name[c]->detail;
  }
}

// docs/conformance.md is what `seedchip conformance --markdown docs/conformance.md` writes today.
TEST_F(Conformance, CommittedReportIsCurrent) {
  std::ifstream in(std::string(SEEDCHIP_SOURCE_DIR) + "/docs/conformance.md");
  ASSERT_TRUE(in);
  const std::string committed((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
  EXPECT_EQ(conformance_markdown(results(), "seedchip conformance --markdown docs/conformance.md"),
            committed)
      << "regenerate with: build/tools/seedchip conformance --markdown docs/conformance.md";
}

TEST_F(Conformance, UnsupportedCasesNameTheOperator) {
  for (const CaseResult& r : results()) {
    if (r.name != "test_gru_defaults") continue;
    EXPECT_EQ(r.status, CaseStatus::kUnsupported);
    EXPECT_EQ(r.unsupported_op, "GRU");
    EXPECT_NE(r.detail.find("no lowering for GRU"), std::string::npos) << r.detail;
    return;
  }
  FAIL() << "node/test_gru_defaults was not run";
}

TEST(ConformanceData, MissingDataDirectoryIsAClearError) {
  ConformanceOptions o;
  o.data_dir = "/nonexistent";
  EXPECT_THROW(run_conformance(load_chip("seedchip-v1"), o), InputError);
}

// pytorch-converted holds single modules; the one with the most data is this max pooling (3.9 MB
// of input). In timing mode every operator must spread over every core, and the per-operator
// cycles must add up to the run's. (Here rather than in test_runtime: ~10 s, too slow for the
// sanitizer run.)
TEST(Runtime, LargestPytorchConvertedCaseKeepsEveryCoreBusy) {
  const LoadedChip chip = load_chip("seedchip-v1");
  const compiler::CompiledModel m = compiler::compile_graph(
      compiler::frontend::load_onnx_model(std::string(kOnnxTestData) +
                                          "/pytorch-converted/"
                                          "test_MaxPool2d_stride_padding_dilation/model.onnx"),
      chip);
  RunOptions o;
  o.functional = false;
  const RunResult r = run_model(m, chip, {}, o);
  ASSERT_TRUE(r.sim.completed);
  ASSERT_FALSE(r.ops.empty());
  uint64_t sum = 0;
  for (const OpStats& s : r.ops) {
    EXPECT_EQ(s.cores_busy, chip.config.core_count()) << s.label;
    sum += s.cycles;
  }
  EXPECT_EQ(sum, r.sim.core_cycles);
}

}  // namespace
}  // namespace seedchip::runtime
