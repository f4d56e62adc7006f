// Operators with run-time indices (lower_index.cpp) end to end on the functional simulator:
// Gather, GatherElements and GatherND with computed indices, OneHot, the losses, and the error an
// index out of range raises instead of a read of another tensor's memory (the index program hands
// dma.gather a -1 for it; rows count from the start of the core's chunk).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "arch/chip_loader.h"
#include "compiler/ir/text.h"
#include "runtime/runtime.h"
#include "tests/input_error.h"

namespace seedchip::runtime {
namespace {

namespace ir = compiler::ir;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::vector<float> run(const std::string& graph, const std::map<std::string, ir::HostTensor>& in) {
  const LoadedChip chip = load_chip("seedchip-v1");
  const compiler::CompiledModel model = compiler::compile_graph(ir::parse(graph), chip);
  const RunResult r = run_model(model, chip, in);
  const ir::HostTensor& y = r.outputs.at(0);
  std::vector<float> out(y.bytes.size() / 4);
  std::memcpy(out.data(), y.bytes.data(), y.bytes.size());
  return out;
}

const char* kGather = R"(graph "gather" opset ""=13 {
  input %x: f32[3,2]
  input %i: i64[4]
  %y: f32[4,2] = Gather(%x, %i) {axis = 0}
  output %y
})";

const ir::HostTensor kTable =
    ir::host_tensor<float>(ir::ElementType::F32, {3, 2}, {0, 1, 10, 11, 20, 21});

TEST(IndexLowering, GatherReadsRowsNamedAtRunTime) {
  const auto i = ir::host_tensor<int64_t>(ir::ElementType::I64, {4}, {2, 0, -1, 1});
  EXPECT_EQ(run(kGather, {{"x", kTable}, {"i", i}}),
            (std::vector<float>{20, 21, 0, 1, 20, 21, 10, 11}));
}

// Four rows are less than one VPU pass: one core gathers them all, so row r of the chunk is
// index r.
TEST(IndexLowering, GatherIndexOutOfRangeStopsTheRun) {
  const auto past_end = ir::host_tensor<int64_t>(ir::ElementType::I64, {4}, {0, 3, 0, 0});
  EXPECT_THAT(seedchip::testing::error_of([&] {
                run(kGather, {{"x", kTable}, {"i", past_end}});
              }),
              AllOf(HasSubstr("node #0 (Gather)"), HasSubstr("dma.gather"),
                    HasSubstr("index -1 of row 1 is outside [0, 3)")));
  // 2^32 + 1 has the low word 1: the high word must not be dropped silently.
  const auto wide =
      ir::host_tensor<int64_t>(ir::ElementType::I64, {4}, {0, 0, (int64_t{1} << 32) + 1, 0});
  EXPECT_THAT(seedchip::testing::error_of([&] {
                run(kGather, {{"x", kTable}, {"i", wide}});
              }),
              HasSubstr("index -1 of row 2 is outside [0, 3)"));
}

TEST(IndexLowering, GatherElementsAlongTheLastAxis) {
  const auto i = ir::host_tensor<int32_t>(ir::ElementType::I32, {3, 2}, {1, 1, 0, -2, 1, 0});
  EXPECT_EQ(run(R"(graph "ge" opset ""=13 {
  input %x: f32[3,2]
  input %i: i32[3,2]
  %y: f32[3,2] = GatherElements(%x, %i) {axis = 1}
  output %y
})",
                {{"x", kTable}, {"i", i}}),
            (std::vector<float>{1, 1, 10, 10, 21, 20}));
}

TEST(IndexLowering, WeightedMeanLossSkipsIgnoredTargets) {
  // log-probabilities [N=3, C=2]; targets 1, 0 and the ignored -1; class weights 2 and 3.
  const auto x = ir::host_tensor<float>(ir::ElementType::F32, {3, 2}, {-1, -2, -3, -4, -5, -6});
  const auto t = ir::host_tensor<int64_t>(ir::ElementType::I64, {3}, {1, 0, -1});
  const auto w = ir::host_tensor<float>(ir::ElementType::F32, {2}, {2, 3});
  // (3 x 2 + 2 x 3) / (3 + 2)
  EXPECT_EQ(run(R"(graph "nll" opset ""=13 {
  input %x: f32[3,2]
  input %t: i64[3]
  input %w: f32[2]
  %y: f32[] = NegativeLogLikelihoodLoss(%x, %t, %w) {ignore_index = -1}
  output %y
})",
                {{"x", x}, {"t", t}, {"w", w}}),
            (std::vector<float>{12.0f / 5}));
}

TEST(IndexLowering, GatherNdWithABatchAxis) {
  // data [2, 2, 2]; batch_dims 1: each batch picks rows of its own [2, 2] block.
  const auto x = ir::host_tensor<float>(ir::ElementType::F32, {2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  const auto i = ir::host_tensor<int64_t>(ir::ElementType::I64, {2, 1}, {1, 0});
  EXPECT_EQ(run(R"(graph "gnd" opset ""=13 {
  input %x: f32[2,2,2]
  input %i: i64[2,1]
  %y: f32[2,2] = GatherND(%x, %i) {batch_dims = 1}
  output %y
})",
                {{"x", x}, {"i", i}}),
            (std::vector<float>{2, 3, 4, 5}));
}

TEST(IndexLowering, OneHotWrapsNegativeIndicesAndSkipsOutOfRange) {
  const auto i = ir::host_tensor<int64_t>(ir::ElementType::I64, {3}, {1, -1, 5});
  const auto values = ir::host_tensor<float>(ir::ElementType::F32, {2}, {-2, 7});
  EXPECT_EQ(run(R"(graph "oh" opset ""=11 {
  input %i: i64[3]
  const %depth: i64[] = [3]
  input %values: f32[2]
  %y: f32[3,3] = OneHot(%i, %depth, %values)
  output %y
})",
                {{"i", i}, {"values", values}}),
            (std::vector<float>{-2, 7, -2,  //
                                -2, -2, 7,  //
                                -2, -2, -2}));
}

}  // namespace
}  // namespace seedchip::runtime
