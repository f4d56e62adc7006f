#include "compiler/codegen/compile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>

#include "compiler/ir/text.h"
#include "tests/input_error.h"

namespace seedchip::compiler {
namespace {

using ::testing::HasSubstr;

using seedchip::testing::error_of;

const TensorSlot& slot(const CompiledModel& m, const std::string& name) {
  for (const TensorSlot& t : m.tensors)
    if (t.name == name) return t;
  throw std::logic_error("no tensor " + name);
}

TEST(Compile, IntermediatesReuseFreedSpace) {
  const ir::Graph g = ir::parse(R"(graph "chain" opset ""=13 {
  input %x: f32[1024]
  %a: f32[1024] = Relu(%x)
  %b: f32[1024] = Exp(%a)
  %c: f32[1024] = Neg(%b)
  %d: f32[1024] = Tanh(%c)
  output %d
})");
  const CompiledModel m = compile_graph(g, load_chip("seedchip-v1"));
  ASSERT_EQ(m.ops.size(), 4u);
  // %a is dead once %b exists, so %c takes its place.
  EXPECT_EQ(slot(m, "c").hbm, slot(m, "a").hbm);
  EXPECT_NE(slot(m, "b").hbm, slot(m, "a").hbm);
  EXPECT_NE(slot(m, "x").hbm, slot(m, "d").hbm);
  for (const OpRecord& op : m.ops) EXPECT_EQ(op.barriers, 1);
}

TEST(Compile, ReshapesOfIntermediatesAreAliasesWithoutCode) {
  const ir::Graph g = ir::parse(R"(graph "alias" opset ""=13 {
  input %x: f32[4,6]
  const %shape: i64[2] = [6, 4]
  %a: f32[4,6] = Relu(%x)
  %b: f32[6,4] = Reshape(%a, %shape)
  %c: f32[6,4] = Exp(%b)
  %d: f32[4,6] = Tanh(%x)
  %e: f32[6,4] = Reshape(%d, %shape)
  output %c
  output %e
})");
  const CompiledModel m = compile_graph(g, load_chip("seedchip-v1"));
  ASSERT_EQ(m.ops.size(), 5u);
  EXPECT_EQ(m.ops[1].barriers, 0);  // %b is %a's bytes
  EXPECT_EQ(slot(m, "b").hbm, slot(m, "a").hbm);
  EXPECT_EQ(m.ops[4].barriers, 1);  // %e is a graph output: a real copy
  // %a must outlive its alias's reader: %c, written while %b is read, may not take its space.
  EXPECT_NE(slot(m, "c").hbm, slot(m, "a").hbm);
}

TEST(Compile, ReduceProdHalvesRowsInLogDepth) {
  const ir::Graph g = ir::parse(R"(graph "prod" opset ""=13 {
  input %x: f32[3,1000]
  %y: f32[3] = ReduceProd(%x) {axes = [1], keepdims = 0}
  output %y
})");
  const CompiledModel m = compile_graph(g, load_chip("seedchip-v1"));
  ASSERT_EQ(m.ops.size(), 1u);
  // The copy to scratch, then 10 halvings (1000, 500, 250, 125, 63, 32, 16, 8, 4, 2), each
  // after a barrier, and the operator's own closing barrier.
  EXPECT_EQ(m.ops[0].barriers, 11);
}

TEST(Compile, NamesEveryMissingLowering) {
  const ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[4]
  %a: f32[4] = LRN(%x) {size = 3}
  %b: f32[4] = Gelu(%a)
  output %b
})");
  try {
    compile_graph(g, load_chip("seedchip-v1"));
    FAIL() << "compiled";
  } catch (const UnsupportedError& e) {
    EXPECT_EQ(e.op(), "LRN");  // the first in node order
    EXPECT_THAT(e.what(), HasSubstr("no lowering for Gelu, LRN"));
  }
}

TEST(Compile, UnknownShapesAreUnsupported) {
  const ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[?]
  %y: f32[?] = Relu(%x)
  output %y
})");
  EXPECT_THAT(error_of([&] { compile_graph(g, load_chip("seedchip-v1")); }),
              HasSubstr("tensor 'x' has no fully known"));
}

TEST(Compile, ReportsHbmOverflowWithTheNumbers) {
  const ir::Graph g = ir::parse(R"(graph "big" opset ""=13 {
  input %x: f32[65536,65536,16]
  %y: f32[65536,65536,16] = Relu(%x)
  output %y
})");
  EXPECT_THAT(error_of([&] { compile_graph(g, load_chip("seedchip-v1")); }),
              HasSubstr("needs 549755813888 bytes of HBM (tensors 549755813888, scratch 0) "
                        "but chip 'seedchip-v1' has 154618822656"));
}

TEST(Compile, PrecisionNames) {
  EXPECT_EQ(precision_from_name("bf16x6"), MatmulPrecision::kBf16x6);
  EXPECT_THAT(error_of([] { precision_from_name("fp32"); }), HasSubstr("bf16, bf16x3, bf16x6"));
}

}  // namespace
}  // namespace seedchip::compiler
