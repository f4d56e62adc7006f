#include "compiler/passes/unroll_loops.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "compiler/ir/text.h"
#include "compiler/passes/pass.h"
#include "compiler/passes/specialize.h"
#include "tests/input_error.h"

namespace seedchip::compiler::passes {
namespace {

using ir::ElementType;

// A Loop of two iterations carrying x + x, x + 2x and scanning the carried value before each.
constexpr const char* kTwoIterations = R"(graph "loop" opset ""=13 {
  input %x: f32[2]
  const %m: i64[] = [2]
  %y: f32[2], %ys: f32[2,2] = Loop(%m, _, %x) {body = graph {
    input %i: i64[]
    input %c: bool[]
    input %v: f32[2]
    %w: f32[2] = Add(%v, %x) @"acc"
    output %c
    output %w
    output %v
  }} @"loop"
  output %y
  output %ys
}
)";

TEST(UnrollLoops, CopiesTheBodyPerIterationAndStacksScanOutputs) {
  ir::Graph g = ir::parse(kTwoIterations);
  EXPECT_TRUE(unroll_loops(g));
  ir::verify(g);
  // The trip count is left for fold-constants to drop.
  EXPECT_EQ(ir::print(g), R"(graph "loop" opset ""=13 {
  input %x: f32[2]
  const %m: i64[] = [2]
  const %axes: i64[1] = [0]
  %w: f32[2] = Add(%x, %x) @"loop/0/acc"
  %w_1: f32[2] = Add(%w, %x) @"loop/1/acc"
  %y: f32[2] = Identity(%w_1) @"loop/final"
  %x_row = Unsqueeze(%x, %axes) @"loop/scan"
  %w_row = Unsqueeze(%w, %axes) @"loop/scan"
  %ys: f32[2,2] = Concat(%x_row, %w_row) {axis = 0} @"loop/scan"
  output %y
  output %ys
}
)");
  EXPECT_FALSE(unroll_loops(g));  // nothing left to unroll
}

TEST(UnrollLoops, BeforeOpset13UnsqueezeTakesItsAxesAsAnAttribute) {
  std::string text = kTwoIterations;
  text.replace(text.find("\"\"=13"), 5, "\"\"=11");
  ir::Graph g = ir::parse(text);
  ASSERT_TRUE(unroll_loops(g));
  const std::string printed = ir::print(g);
  EXPECT_NE(printed.find("%x_row = Unsqueeze(%x) {axes = [0]}"), std::string::npos) << printed;
  EXPECT_EQ(printed.find("%axes"), std::string::npos) << printed;
}

// Range's function body (ONNX's Range-11 expansion), with the iteration number and condition
// read so that their per-iteration constants are exercised.
constexpr const char* kRangeBody = R"(graph "range" opset ""=13 {
  input %start: f32[]
  input %limit: f32[]
  input %delta: f32[]
  %diff: f32[] = Sub(%limit, %start)
  %quotient: f32[] = Div(%diff, %delta)
  %ceil: f32[] = Ceil(%quotient)
  %trips: f32[] = Relu(%ceil)
  %m: i64[] = Cast(%trips) {to = 7}
  %go: bool[] = Cast(%m) {to = 9}
  %last: f32[], %out: f32[?] = Loop(%m, %go, %start) {body = graph {
    input %i: i64[]
    input %cond: bool[]
    input %prev: f32[]
    %cond_out: bool[] = Identity(%cond)
    %current: f32[] = Add(%prev, %delta)
    %range: f32[] = Identity(%prev)
    output %cond_out
    output %current
    output %range
  }}
  output %out
}
)";

ir::HostTensor f32_scalar(float v) { return ir::host_tensor<float>(ElementType::F32, {}, {v}); }

TEST(UnrollLoops, RangeFunctionBodyFoldsToTheRangeOnceItsOperandsAreKnown) {
  ir::Graph g = ir::parse(kRangeBody);
  // start, limit and delta fix the trip count, so the runner compiles them in.
  const std::vector<std::string> fixed = specialize_shape_inputs(
      g, {{"start", f32_scalar(10)}, {"limit", f32_scalar(6)}, {"delta", f32_scalar(-3)}});
  EXPECT_EQ(fixed, (std::vector<std::string>{"start", "limit", "delta"}));
  run_passes(g, {"infer-shapes", "fold-constants", "unroll-loops"});
  EXPECT_EQ(ir::print(g), R"(graph "range" opset ""=13 {
  const %out: f32[2] = [10, 7]
  output %out
}
)");
}

TEST(UnrollLoops, RangeTripCountsFoldThroughRelu) {
  // ceil((limit - start) / delta) clamped at 0 by Relu, which fold-constants evaluates for it.
  ir::Graph g = ir::parse(R"(graph "g" opset ""=14 {
  const %q: f32[3] = [-2.5, 0, 3]
  const %n: i32[2] = [-4, 4]
  %r: f32[3] = Relu(%q)
  %s: i32[2] = Relu(%n)
  output %r
  output %s
}
)");
  run_passes(g, {"infer-shapes", "fold-constants"});
  EXPECT_EQ(ir::print(g), R"(graph "g" opset ""=14 {
  const %r: f32[3] = [0, 0, 3]
  const %s: i32[2] = [0, 4]
  output %r
  output %s
}
)");
}

TEST(UnrollLoops, ZeroIterationsGiveTheInitialValuesAndEmptyScans) {
  ir::Graph g = ir::parse(kRangeBody);
  specialize_shape_inputs(
      g, {{"start", f32_scalar(1)}, {"limit", f32_scalar(1)}, {"delta", f32_scalar(2)}});
  run_passes(g, {"infer-shapes", "fold-constants", "unroll-loops"});
  EXPECT_EQ(ir::print(g), R"(graph "range" opset ""=13 {
  const %out: f32[0] = []
  output %out
}
)");
}

TEST(UnrollLoops, LoopsOfUnknownTripCountStayWithTheReason) {
  ir::Graph g = ir::parse(kRangeBody);
  run_passes(g, {"infer-shapes", "fold-constants", "unroll-loops"});
  ASSERT_EQ(g.nodes.back().op, "Loop");
  EXPECT_EQ(unroll_blocker(g, g.nodes.size() - 1),
            "node #6 (Loop): trip count 'm' is not a compile-time constant i64 scalar");

  std::string text = kTwoIterations;
  text.replace(text.find("Loop(%m, _,"), 11, "Loop(_, _,");
  g = ir::parse(text);
  EXPECT_FALSE(unroll_loops(g));
  EXPECT_EQ(
      unroll_blocker(g, 0),
      "node 'loop' (Loop): no trip count M: a loop bounded by its condition alone is not unrolled");
}

TEST(UnrollLoops, TooManyCopiesAreNotMade) {
  std::string text = kTwoIterations;
  text.replace(text.find("i64[] = [2]"), 11, "i64[] = [65537]");
  ir::Graph g = ir::parse(text);
  EXPECT_FALSE(unroll_loops(g));
  EXPECT_EQ(unroll_blocker(g, 0),
            "node 'loop' (Loop): 65537 iterations of 1 nodes exceed the 65536 nodes unrolling may "
            "add");
}

TEST(UnrollLoops, AComputedConditionIsNotUnrolled) {
  std::string text = kTwoIterations;
  text.replace(text.find("    output %c\n"), 14, "    %more: bool[] = Not(%c)\n    output %more\n");
  ir::Graph g = ir::parse(text);
  EXPECT_FALSE(unroll_loops(g));
  EXPECT_EQ(unroll_blocker(g, 0),
            "node 'loop' (Loop): the body computes its condition output 'more'; only a constant "
            "one or the "
            "condition input passed through is unrolled");
}

TEST(UnrollLoops, AConstantFalseConditionStopsAfterOneIteration) {
  std::string text = kTwoIterations;
  text.replace(text.find("    output %c\n"), 14,
               "    const %stop: bool[] = [0]\n    output %stop\n");
  ir::Graph g = ir::parse(text);
  ASSERT_TRUE(unroll_loops(g));
  const std::string printed = ir::print(g);
  EXPECT_NE(printed.find("%y: f32[2] = Identity(%w)"), std::string::npos) << printed;
  EXPECT_EQ(printed.find("%w_1"), std::string::npos) << printed;
}

TEST(UnrollLoops, MalformedBodiesNameTheLoop) {
  std::string text = kTwoIterations;
  text.replace(text.find("    input %v: f32[2]\n"), 21, "");
  text.replace(text.find("Add(%v, %x)"), 11, "Add(%x, %x)");
  text.replace(text.find("    output %v\n"), 14, "    output %x\n");
  ir::Graph g = ir::parse(text);
  EXPECT_EQ(seedchip::testing::error_of([&] { unroll_loops(g); }),
            "node 'loop' (Loop): the body has 2 inputs; 2 + 1 loop-carried values expected");
}

}  // namespace
}  // namespace seedchip::compiler::passes
