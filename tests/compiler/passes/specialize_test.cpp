#include "compiler/passes/specialize.h"

#include <gtest/gtest.h>

#include <cstring>

#include "compiler/ir/text.h"

namespace seedchip::compiler::passes {
namespace {

ir::HostTensor i64s(std::vector<int64_t> v) {
  ir::HostTensor t;
  t.element = ir::ElementType::I64;
  t.dims = {static_cast<int64_t>(v.size())};
  t.bytes.resize(v.size() * 8);
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

TEST(Specialize, ShapeOperandsBecomeConstants) {
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[4,6]
  input %axes: i64[1]
  input %shape: i64[2]
  %s: f32[4,1] = ReduceSum(%x, %axes)
  %r: f32[1,4] = Reshape(%s, %shape)
  output %r
})");
  const auto done =
      specialize_shape_inputs(g, {{"axes", i64s({1})}, {"shape", i64s({1, 4})}, {"x", {}}});
  EXPECT_EQ(done, (std::vector<std::string>{"axes", "shape"}));
  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.value(g.inputs[0]).name, "x");
  EXPECT_TRUE(g.value(g.find("axes")).constant);
  ir::verify(g);
}

TEST(Specialize, ConstantOfShapeAndDropoutModeBecomeConstants) {
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %shape: i64[2]
  input %ratio: f32[]
  input %training: bool[]
  %z: f32[?,?] = ConstantOfShape(%shape)
  %y: f32[?,?] = Dropout(%z, %ratio, %training)
  output %y
})");
  ir::HostTensor ratio{ir::ElementType::F32, {}, std::vector<uint8_t>(4, 0), {}};
  ir::HostTensor training{ir::ElementType::Bool, {}, {1}, {}};
  const auto done = specialize_shape_inputs(
      g, {{"shape", i64s({2, 3})}, {"ratio", ratio}, {"training", training}});
  EXPECT_EQ(done, (std::vector<std::string>{"shape", "ratio", "training"}));
  EXPECT_TRUE(g.inputs.empty());
  ir::verify(g);
}

TEST(Specialize, InputsTheChipComputesWithStayInputs) {
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[4]
  input %shape: i64[1]
  %r: f32[4] = Reshape(%x, %shape)
  %n: i64[1] = Neg(%shape)
  output %r
  output %n
})");
  EXPECT_TRUE(specialize_shape_inputs(g, {{"shape", i64s({4})}}).empty());
  EXPECT_EQ(g.inputs.size(), 2u);
}

TEST(Specialize, MismatchedTypesAreLeftAlone) {
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[4]
  input %shape: i64[1]
  %r: f32[4] = Reshape(%x, %shape)
  output %r
})");
  ir::HostTensor wrong = i64s({4});
  wrong.element = ir::ElementType::I32;
  wrong.bytes.resize(4);
  EXPECT_TRUE(specialize_shape_inputs(g, {{"shape", wrong}}).empty());
}

}  // namespace
}  // namespace seedchip::compiler::passes
