// The choose-layout pass, text in, text out: which Transposes become views for their readers.
#include "compiler/passes/choose_layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "compiler/ir/text.h"

namespace seedchip::compiler::passes {
namespace {

using ::testing::HasSubstr;

// Heads moved in front of the sequence ([S, H, D] -> [H, S, D]) keep D last: both readers, a
// product and an addition, take the permuted view.
TEST(ChooseLayout, ATransposeKeepingTheLastAxisBecomesAViewForItsReaders) {
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[4,2,8]
  input %w: f32[8,8]
  input %r: f32[2,4,8]
  %t: f32[2,4,8] = Transpose(%x) {perm = [1, 0, 2]}
  %p: f32[2,4,8] = MatMul(%t, %w)
  %y: f32[2,4,8] = Add(%t, %r)
  output %p
  output %y
})");
  EXPECT_EQ(choose_layout(g), 1);
  ir::verify(g);
  EXPECT_THAT(ir::print(g),
              HasSubstr("%t: f32[2,4,8] = seedchip::TransposeView(%x) {perm = [1, 0, 2]}"));
}

TEST(ChooseLayout, CopiesStayWhereAViewWouldNotPay) {
  const auto views = [](const std::string& body) {
    ir::Graph g = ir::parse("graph \"g\" opset \"\"=13 {\n  input %x: f32[4,8]\n" + body + "}");
    const int n = choose_layout(g);
    ir::verify(g);
    return n;
  };
  // The last axis moves: each row would become element-sized transfers.
  EXPECT_EQ(views("  %t: f32[8,4] = Transpose(%x)\n"
                  "  %y: f32[8,4] = Add(%t, %t)\n  output %y\n"),
            0);
  // A graph output is read as a dense tensor.
  EXPECT_EQ(views("  %t: f32[4,8] = Transpose(%x) {perm = [0, 1]}\n  output %t\n"), 0);
  // A reader that needs dense rows (Softmax reads through reshaped views).
  EXPECT_EQ(views("  %t: f32[4,8] = Transpose(%x) {perm = [0, 1]}\n"
                  "  %y: f32[4,8] = Softmax(%t) {axis = 1}\n  output %y\n"),
            0);
  // One reader that cannot take the view keeps the copy for all of them.
  EXPECT_EQ(views("  %t: f32[4,8] = Transpose(%x) {perm = [0, 1]}\n"
                  "  %a: f32[4,8] = Add(%t, %t)\n"
                  "  %y: f32[4,8] = Softmax(%t) {axis = 1}\n  output %a\n  output %y\n"),
            0);
  EXPECT_EQ(views("  %t: f32[4,8] = Transpose(%x) {perm = [0, 1]}\n"
                  "  %a: f32[4,8] = Mul(%t, %x)\n  output %a\n"),
            1);
}

}  // namespace
}  // namespace seedchip::compiler::passes
