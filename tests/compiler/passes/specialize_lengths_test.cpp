// Inputs that a length is computed from (specialize.h): Range's function body computes its Loop's
// trip count from start, limit and delta, a window's function body Range's limit from its size.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "compiler/ir/text.h"
#include "compiler/passes/specialize.h"

namespace seedchip::compiler::passes {
namespace {

using ir::ElementType;

TEST(SpecializeLengths, InputsARangeLimitIsComputedFromBecomeConstants) {
  ir::Graph g = ir::parse(R"(graph "window" opset ""=17 {
  input %size: i32[]
  input %x: f32[?]
  const %zero: f32[] = [0]
  const %one: f32[] = [1]
  %limit: f32[] = Cast(%size) {to = 1}
  %n: f32[?] = Range(%zero, %limit, %one)
  %y: f32[?] = Mul(%n, %x)
  output %y
})");
  const auto size = ir::host_tensor<int32_t>(ElementType::I32, {}, {4});
  const auto x = ir::host_tensor<float>(ElementType::F32, {4}, {1, 2, 3, 4});
  EXPECT_EQ(specialize_shape_inputs(g, {{"size", size}, {"x", x}}),
            (std::vector<std::string>{"size"}));
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");  // the chip computes with it
}

TEST(SpecializeLengths, ShapeReadsOnlyDimsSoItsInputStaysAnInput) {
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[3]
  input %start: i64[]
  %dims: i64[1] = Shape(%x)
  %count: i64[] = Squeeze(%dims)
  const %one: i64[] = [1]
  %n: i64[?] = Range(%start, %count, %one)
  output %n
})");
  const auto x = ir::host_tensor<float>(ElementType::F32, {3}, {1, 2, 3});
  const auto start = ir::host_tensor<int64_t>(ElementType::I64, {}, {1});
  EXPECT_EQ(specialize_shape_inputs(g, {{"x", x}, {"start", start}}),
            (std::vector<std::string>{"start"}));
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
}

}  // namespace
}  // namespace seedchip::compiler::passes
