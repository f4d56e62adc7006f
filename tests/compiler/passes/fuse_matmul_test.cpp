// The fuse pass's product epilogues (seedchip::FusedMatMul), text in, text out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/ir/text.h"
#include "compiler/passes/fuse.h"

namespace seedchip::compiler::passes {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const char* kMatMulBiasRelu = R"(graph "g" opset ""=13 {
  input %a: f32[4,16]
  input %b: f32[16,32]
  input %bias: f32[32]
  %p: f32[4,32] = MatMul(%a, %b)
  %s: f32[4,32] = Add(%bias, %p)
  %y: f32[4,32] = Relu(%s)
  output %y
})";

TEST(FuseMatMul, ProductBiasAndActivationBecomeOneNode) {
  ir::Graph g = ir::parse(kMatMulBiasRelu);
  EXPECT_EQ(fuse(g), 1);
  ir::verify(g);
  ASSERT_EQ(g.nodes.size(), 1u);
  EXPECT_THAT(ir::print(g), HasSubstr("%y: f32[4,32] = seedchip::FusedMatMul(%a, %b, %bias)"));
  EXPECT_THAT(ir::print(g), HasSubstr("activation = \"relu\""));
}

TEST(FuseMatMul, ProductAndAddWithoutActivationFuse) {
  std::string text = kMatMulBiasRelu;
  text.replace(text.find("  %y: f32[4,32] = Relu(%s)\n"), 27, "");
  text.replace(text.find("output %y"), 9, "output %s");
  ir::Graph g = ir::parse(text);
  EXPECT_EQ(fuse(g), 1);
  EXPECT_THAT(ir::print(g), HasSubstr("%s: f32[4,32] = seedchip::FusedMatMul(%a, %b, %bias)"));
  EXPECT_THAT(ir::print(g), Not(HasSubstr("activation")));
}

TEST(FuseMatMul, GemmWithBiasRowAndSigmoid) {
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %a: f32[4,16]
  input %w: f32[32,16]
  input %c: f32[1,32]
  %p: f32[4,32] = Gemm(%a, %w, %c) {transB = 1}
  %y: f32[4,32] = Sigmoid(%p)
  output %y
})");
  EXPECT_EQ(fuse(g), 1);
  const std::string text = ir::print(g);
  EXPECT_THAT(text, HasSubstr("%y: f32[4,32] = seedchip::FusedMatMul(%a, %w, %c)"));
  EXPECT_THAT(text, HasSubstr("transB = 1"));
  EXPECT_THAT(text, HasSubstr("activation = \"sigmoid\""));
}

TEST(FuseMatMul, LeavesWhatTheEpilogueCannotRun) {
  // The sum is also an output: the product takes the bias, the Relu stays apart.
  std::string shared = kMatMulBiasRelu;
  shared.replace(shared.find("output %y"), 9, "output %y\n  output %s");
  ir::Graph g = ir::parse(shared);
  EXPECT_EQ(fuse(g), 1);
  EXPECT_THAT(ir::print(g), HasSubstr("%s: f32[4,32] = seedchip::FusedMatMul(%a, %b, %bias)"));
  EXPECT_THAT(ir::print(g), HasSubstr("= Relu(%s)"));
  // A bias per row is no bias row.
  std::string rows = kMatMulBiasRelu;
  rows.replace(rows.find("%bias: f32[32]"), 14, "%bias: f32[4,1]");
  g = ir::parse(rows);
  EXPECT_EQ(fuse(g), 0);
  // Gemm with alpha 2 or a transposed A is left as it is.
  g = ir::parse(R"(graph "g" opset ""=13 {
  input %a: f32[16,4]
  input %w: f32[16,32]
  %p: f32[4,32] = Gemm(%a, %w) {transA = 1}
  %y: f32[4,32] = Tanh(%p)
  output %y
})");
  EXPECT_EQ(fuse(g), 0);
}

TEST(FuseMatMul, ConvAndActivationKeepConvAttributes) {
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[1,3,8,8]
  input %w: f32[4,3,3,3]
  %c: f32[1,4,8,8] = Conv(%x, %w) {pads = [1, 1, 1, 1]}
  %y: f32[1,4,8,8] = Tanh(%c)
  output %y
})");
  EXPECT_EQ(fuse(g), 1);
  const std::string text = ir::print(g);
  EXPECT_THAT(text, HasSubstr("%y: f32[1,4,8,8] = seedchip::FusedConv(%x, %w)"));
  EXPECT_THAT(text, HasSubstr("pads = [1, 1, 1, 1]"));
  EXPECT_THAT(text, HasSubstr("activation = \"tanh\""));
}

}  // namespace
}  // namespace seedchip::compiler::passes
