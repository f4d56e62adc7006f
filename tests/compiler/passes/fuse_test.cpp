#include "compiler/passes/fuse.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/ir/text.h"

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

}  // namespace
}  // namespace seedchip::compiler::passes
