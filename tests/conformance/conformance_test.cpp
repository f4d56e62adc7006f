#include "runtime/conformance.h"

#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

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

// Issue 3's list: every node case of these operators passes. A case is its operator's when the
// operator's name is the longest one (of every operator the suite uses) that the case's name starts
// with, underscores and case aside: test_reduce_sum_square is ReduceSumSquare's, not ReduceSum's.
TEST_F(Conformance, EveryCaseOfTheRequiredOperatorsPasses) {
  std::set<std::string> required;
  std::istringstream listed(
      "MatMul Gemm Conv ConvTranspose Add Sub Mul Div Pow Sqrt Reciprocal Exp Log Erf Tanh Sigmoid "
      "Relu LeakyRelu Gelu Softmax LogSoftmax LayerNormalization BatchNormalization ReduceMean "
      "ReduceSum ReduceMax ArgMax Reshape Flatten Transpose Concat Split Slice Gather Squeeze "
      "Unsqueeze Expand Where Cast Clip MaxPool AveragePool GlobalAveragePool Shape "
      "ConstantOfShape Range Identity Trilu CumSum Einsum");
  for (std::string op; listed >> op;) required.insert(op);
  const auto plain = [](std::string_view text) {
    std::string out;
    for (char c : text)
      if (c != '_') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
  };
  // The names the cases use where they are not the operator's (test_batchnorm_*, test_tril*).
  std::map<std::string, std::vector<std::string>> spelled = {{"BatchNormalization", {"batchnorm"}},
                                                             {"Trilu", {"tril", "triu"}}};
  std::set<std::string> operators(required.begin(), required.end());
  for (const CaseResult& r : results()) operators.insert(r.ops.begin(), r.ops.end());
  std::map<std::string, int> cases;
  for (const CaseResult& r : results()) {
    if (r.suite != "node") continue;
    const std::string name = plain(r.name.substr(r.name.find('_') + 1));
    std::string best, best_prefix;
    for (const std::string& op : operators) {
      const auto it = spelled.find(op);
      for (const std::string& prefix :
           it != spelled.end() ? it->second : std::vector<std::string>{plain(op)})
        if (name.starts_with(prefix) && prefix.size() > best_prefix.size()) {
          best = op;
          best_prefix = prefix;
        }
    }
    if (!required.count(best)) continue;
    ++cases[best];
    EXPECT_EQ(r.status, CaseStatus::kPass) << best << ": node/" << r.name << ": " << r.detail;
  }
  // Each listed operator has cases (Gelu's came after this test data was packaged).
  for (const std::string& op : required) {
    if (op == "Gelu") continue;
    EXPECT_GT(cases[op], 0) << op;
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
