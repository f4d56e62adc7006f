#include "compiler/passes/fuse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/ir/text.h"
#include "compiler/passes/infer_shapes.h"

namespace seedchip::compiler::passes {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const char* kRmsNormAndSilu = R"(graph "g" opset ""=13 {
  input %x: f32[2,8]
  input %w: f32[8]
  const %eps: f32[] = [0.00001]
  const %two: f32[] = [2]
  %sq: f32[2,8] = Pow(%x, %two)
  %mean: f32[2,1] = ReduceMean(%sq) {axes = [-1]}
  %plus: f32[2,1] = Add(%mean, %eps)
  %root: f32[2,1] = Sqrt(%plus)
  %inv: f32[2,1] = Reciprocal(%root)
  %normed: f32[2,8] = Mul(%x, %inv)
  %y: f32[2,8] = Mul(%w, %normed)
  %s: f32[2,8] = Sigmoid(%y)
  %z: f32[2,8] = Mul(%s, %y)
  output %z
})";

TEST(Fuse, RmsNormAndSiluBecomeOneNodeEach) {
  ir::Graph g = ir::parse(kRmsNormAndSilu);
  EXPECT_EQ(fuse(g), 2);
  ir::verify(g);
  ASSERT_EQ(g.nodes.size(), 2u);
  const std::string text = ir::print(g);
  EXPECT_THAT(text, HasSubstr("%y: f32[2,8] = seedchip::RMSNormalization(%x, %w)"));
  EXPECT_THAT(text, HasSubstr("epsilon"));
  EXPECT_THAT(text, HasSubstr("%z: f32[2,8] = seedchip::Silu(%y)"));
  EXPECT_EQ(g.opset_version("seedchip"), 1);
}

TEST(Fuse, LeavesPatternsWhoseIntermediatesHaveOtherReaders) {
  // %inv is also an output, so the normalisation must keep it: nothing is fused.
  std::string text = kRmsNormAndSilu;
  text.replace(text.find("output %z"), 9, "output %z\n  output %inv");
  ir::Graph g = ir::parse(text);
  EXPECT_EQ(fuse(g), 1);  // only the SiLU
  EXPECT_THAT(ir::print(g), Not(HasSubstr("RMSNormalization")));
}

TEST(Fuse, ReductionsOverOtherAxesAreNotRmsNorms) {
  std::string text = kRmsNormAndSilu;
  text.replace(text.find("axes = [-1]"), 11, "axes = [0]");
  text.replace(text.find("%mean: f32[2,1]"), 15, "%mean: f32[1,8]");
  text.replace(text.find("%plus: f32[2,1]"), 15, "%plus: f32[1,8]");
  text.replace(text.find("%root: f32[2,1]"), 15, "%root: f32[1,8]");
  text.replace(text.find("%inv: f32[2,1]"), 14, "%inv: f32[1,8]");
  ir::Graph g = ir::parse(text);
  fuse(g);
  EXPECT_THAT(ir::print(g), Not(HasSubstr("RMSNormalization")));
}

// Decode attention as llm/llama_graph.cpp writes it: two sequences, 2 K/V heads of 2 query heads.
const char* kAttention = R"(graph "g" opset ""=13 {
  input %q: f32[2,2,2,8]
  input %k: f32[2,2,8,40]
  input %v: bf16[2,2,40,8]
  input %visible: bool[2,1,1,40]
  input %bias: f32[2,40]
  const %scale: f32[] = [0.35]
  const %minus_inf: f32[] = [-inf]
  %qk: f32[2,2,2,40] = MatMul(%q, %k)
  %scores: f32[2,2,2,40] = Mul(%qk, %scale)
  %selected: f32[2,2,2,40] = Where(%visible, %scores, %minus_inf)
  %masked: f32[2,2,2,40] = Add(%selected, %bias)
  %p: f32[2,2,2,40] = Softmax(%masked) {axis = -1}
  %o: f32[2,2,2,8] = MatMul(%p, %v)
  output %o
})";

TEST(Fuse, AttentionBecomesOneNode) {
  ir::Graph g = ir::parse(kAttention);
  EXPECT_EQ(fuse(g), 1);
  ir::verify(g);
  ASSERT_EQ(g.nodes.size(), 1u);
  const std::string text = ir::print(g);
  EXPECT_THAT(text,
              HasSubstr("%o: f32[2,2,2,8] = seedchip::Attention(%q, %k, %v, %visible, %bias)"));
  EXPECT_THAT(text, HasSubstr("mask = \"where_add\""));
  EXPECT_THAT(text, HasSubstr("scale = 0.35"));
  // The text form reads back, and shape inference gives the fused node's type.
  ir::Graph back = ir::parse(text);
  back.values[static_cast<size_t>(back.nodes[0].outputs[0])].type.dims.reset();
  infer_shapes(back);
  EXPECT_EQ(ir::print(back), text);
}

TEST(Fuse, AttentionWithDivAndNoMask) {
  std::string text = kAttention;
  text.replace(text.find("Mul(%qk, %scale)"), 16, "Div(%qk, %scale)");
  text.replace(text.find("Softmax(%masked)"), 16, "Softmax(%scores)");
  for (const char* line : {"  %selected", "  %masked"})
    text.erase(text.find(line), text.find('\n', text.find(line)) - text.find(line) + 1);
  ir::Graph g = ir::parse(text);
  EXPECT_EQ(fuse(g), 1);
  ir::verify(g);
  const std::string fused = ir::print(g);
  EXPECT_THAT(fused, HasSubstr("seedchip::Attention(%q, %k, %v)"));
  EXPECT_THAT(fused, HasSubstr("mask = \"none\""));
  EXPECT_THAT(fused, HasSubstr("scale = 2.857"));  // 1 / 0.35
}

TEST(Fuse, AttentionReadsValuesThroughTheirTranspose) {
  std::string text = kAttention;
  text.replace(text.find("  input %v: bf16[2,2,40,8]"), 26, "  input %rows: bf16[2,40,2,8]");
  text.replace(text.find("  %qk:"), 0,
               "  %v: bf16[2,2,40,8] = Transpose(%rows) {perm = [0, 2, 1, 3]}\n");
  ir::Graph g = ir::parse(text);
  EXPECT_EQ(fuse(g), 1);
  ir::verify(g);
  ASSERT_EQ(g.nodes.size(), 1u);
  const std::string fused = ir::print(g);
  EXPECT_THAT(fused, HasSubstr("seedchip::Attention(%q, %k, %rows, %visible, %bias)"));
  EXPECT_THAT(fused, HasSubstr("v_perm = [0, 2, 1, 3]"));
  ir::Graph back = ir::parse(fused);
  back.values[static_cast<size_t>(back.nodes[0].outputs[0])].type.dims.reset();
  infer_shapes(back);
  EXPECT_EQ(ir::print(back), fused);
}

TEST(Fuse, LeavesAttentionWhoseScoresHaveOtherReaders) {
  std::string text = kAttention;
  text.replace(text.find("output %o"), 9, "output %o\n  output %scores");
  ir::Graph g = ir::parse(text);
  EXPECT_EQ(fuse(g), 0);
  EXPECT_THAT(ir::print(g), Not(HasSubstr("Attention")));
}

TEST(Fuse, SoftmaxOverAnotherAxisIsNotAttention) {
  std::string text = kAttention;
  text.replace(text.find("axis = -1"), 9, "axis = 2");
  ir::Graph g = ir::parse(text);
  EXPECT_EQ(fuse(g), 0);
}

}  // namespace
}  // namespace seedchip::compiler::passes
