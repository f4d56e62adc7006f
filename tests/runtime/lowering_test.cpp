// Lowerings run end to end on small graphs (compiler, then the functional simulator), checked
// against values worked out by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "arch/chip_loader.h"
#include "compiler/ir/text.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {
namespace {

namespace ir = compiler::ir;

ir::HostTensor f32(std::vector<int64_t> dims, const std::vector<float>& values) {
  ir::HostTensor t;
  t.element = ir::ElementType::F32;
  t.dims = std::move(dims);
  t.bytes.resize(values.size() * 4);
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

// The graph's one output for input %x, as floats (bool outputs as 0 / 1).
std::vector<float> run(const std::string& graph, const ir::HostTensor& x) {
  const LoadedChip chip = load_chip("seedchip-v1");
  const compiler::CompiledModel model = compiler::compile_graph(ir::parse(graph), chip);
  const RunResult r = run_model(model, chip, {{"x", x}});
  const ir::HostTensor& y = r.outputs.at(0);
  std::vector<float> out;
  if (y.element == ir::ElementType::Bool) {
    for (uint8_t b : y.bytes) out.push_back(b);
    return out;
  }
  out.resize(y.bytes.size() / 4);
  std::memcpy(out.data(), y.bytes.data(), y.bytes.size());
  return out;
}

// A streaming kernel's chunk must fit the SRAM even where aligning its slots hides how much one
// more row costs: 4M elements by a scalar on cores of 1 MiB once planned chunks twice that size.
TEST(Lowering, LargeStreamsChunkWithinTheSram) {
  LoadedChip chip = load_chip("seedchip-v1");
  chip.config.sram.bytes = 1 << 20;
  const compiler::CompiledModel model = compiler::compile_graph(ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[2048,2048]
  const %two: f32[] = [2]
  %y: f32[2048,2048] = Mul(%x, %two)
  output %y
})"),
                                                                chip);
  RunOptions timing;
  timing.functional = false;
  EXPECT_TRUE(run_model(model, chip, {}, timing).sim.completed);
}

TEST(Lowering, PadReflectEdgeAndWrap) {
  const ir::HostTensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto pad = [&](const std::string& mode) {
    // Rows: 0 before, 1 after; columns: 2 before, 1 after.
    return run(R"(graph "pad" opset ""=19 {
  input %x: f32[2,3]
  const %pads: i64[4] = [0, 2, 1, 1]
  %y: f32[3,6] = Pad(%x, %pads) {mode = ")" +
                   mode + R"("}
  output %y
})",
               x);
  };
  EXPECT_EQ(pad("reflect"), (std::vector<float>{3, 2, 1, 2, 3, 2,  //
                                                6, 5, 4, 5, 6, 5,  //
                                                3, 2, 1, 2, 3, 2}));
  EXPECT_EQ(pad("edge"), (std::vector<float>{1, 1, 1, 2, 3, 3,  //
                                             4, 4, 4, 5, 6, 6,  //
                                             4, 4, 4, 5, 6, 6}));
  EXPECT_EQ(pad("wrap"), (std::vector<float>{2, 3, 1, 2, 3, 1,  //
                                             5, 6, 4, 5, 6, 4,  //
                                             2, 3, 1, 2, 3, 1}));
}

TEST(Lowering, PadConstantCropsWithNegativePads) {
  const std::vector<float> y = run(R"(graph "pad" opset ""=13 {
  input %x: f32[2,3]
  const %pads: i64[4] = [1, -1, 0, 1]
  const %value: f32[] = [7.5]
  %y: f32[3,3] = Pad(%x, %pads, %value)
  output %y
})",
                                   f32({2, 3}, {1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(y, (std::vector<float>{7.5f, 7.5f, 7.5f, 2, 3, 7.5f, 5, 6, 7.5f}));
}

TEST(Lowering, ReduceProdMultipliesEveryReducedElement) {
  // Rows of 7 (odd at every halving but the last) over axes 0 and 2 of [7, 2, 1].
  const std::vector<float> values = {1, -2, 3, 0.5f, -1, 2, 4, 1.5f, 2, -3, 0.25f, 8, -1, 3};
  const std::vector<float> y = run(R"(graph "prod" opset ""=13 {
  input %x: f32[7,2,1]
  %y: f32[2] = ReduceProd(%x) {axes = [0, 2], keepdims = 0}
  output %y
})",
                                   f32({7, 2, 1}, values));
  // Every partial product is exact, so the order of the multiplications does not show.
  EXPECT_EQ(y, (std::vector<float>{6, 216}));
}

TEST(Lowering, HardmaxMarksTheFirstMaximum) {
  const std::vector<float> y = run(R"(graph "hardmax" opset ""=13 {
  input %x: f32[3,4]
  %y: f32[3,4] = Hardmax(%x)
  output %y
})",
                                   f32({3, 4}, {1, 3, 3, 2, 5, 5, 5, 5, -4, -1, -2, -1}));
  EXPECT_EQ(y, (std::vector<float>{0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0}));
}

TEST(Lowering, InverseTrigonometryAtTheEdgesOfItsDomain) {
  const ir::HostTensor x = f32({5}, {-1, -0.5f, 0, 1e-6f, 1});
  auto unary = [&](const std::string& op) {
    return run(R"(graph "trig" opset ""=13 {
  input %x: f32[5]
  %y: f32[5] = )" + op +
                   R"((%x)
  output %y
})",
               x);
  };
  const float pi = 3.14159265f;
  EXPECT_THAT(unary("Asin"), ::testing::Pointwise(::testing::FloatNear(1e-6f),
                                                  {-pi / 2, -pi / 6, 0.0f, 1e-6f, pi / 2}));
  EXPECT_THAT(unary("Acos"), ::testing::Pointwise(::testing::FloatNear(1e-6f),
                                                  {pi, 2 * pi / 3, pi / 2, pi / 2 - 1e-6f, 0.0f}));
  // Relative accuracy near 0 too, where the textbook formulas cancel.
  const std::vector<float> atanh = unary("Atanh"), sinh = unary("Sinh"), asinh = unary("Asinh");
  EXPECT_EQ(atanh[0], -INFINITY);
  EXPECT_EQ(atanh[4], INFINITY);
  for (size_t i = 0; i < 5; ++i) {
    const double v = std::vector<double>{-1, -0.5, 0, 1e-6f, 1}[i];
    if (i != 0 && i != 4) {
      EXPECT_NEAR(atanh[i], std::atanh(v), 1e-6 * std::abs(std::atanh(v))) << v;
    }
    EXPECT_NEAR(sinh[i], std::sinh(v), 1e-6 * std::abs(std::sinh(v))) << v;
    EXPECT_NEAR(asinh[i], std::asinh(v), 1e-6 * std::abs(std::asinh(v))) << v;
  }
}

TEST(Lowering, IsInfIsNanAndFmod) {
  const ir::HostTensor x = f32({4}, {INFINITY, -INFINITY, NAN, -7.5f});
  EXPECT_EQ(run(R"(graph "g" opset ""=13 {
  input %x: f32[4]
  %y: bool[4] = IsInf(%x) {detect_positive = 0}
  output %y
})",
                x),
            (std::vector<float>{0, 1, 0, 0}));
  EXPECT_EQ(run(R"(graph "g" opset ""=13 {
  input %x: f32[4]
  %y: bool[4] = IsNaN(%x)
  output %y
})",
                x),
            (std::vector<float>{0, 0, 1, 0}));
  const std::vector<float> mod = run(R"(graph "g" opset ""=13 {
  input %x: f32[4]
  const %b: f32[4] = [2, -2, 2, -2]
  %y: f32[4] = Mod(%x, %b) {fmod = 1}
  output %y
})",
                                     f32({4}, {5.5f, 5.5f, -5.5f, -5.5f}));
  EXPECT_EQ(mod, (std::vector<float>{1.5f, 1.5f, -1.5f, -1.5f}));
}

}  // namespace
}  // namespace seedchip::runtime
