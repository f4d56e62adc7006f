// Lowerings run end to end on small graphs (compiler, then the functional simulator), checked
// against values worked out by hand.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "compiler/ir/text.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {
namespace {

namespace ir = compiler::ir;

ir::HostTensor f32(std::vector<int64_t> dims, const std::vector<float>& values) {
  return ir::host_tensor(ir::ElementType::F32, std::move(dims), values);
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

// The graph's outputs for the named inputs.
std::vector<ir::HostTensor> run_graph(const std::string& graph,
                                      const std::map<std::string, ir::HostTensor>& inputs) {
  const LoadedChip chip = load_chip("seedchip-v1");
  return run_model(compiler::compile_graph(ir::parse(graph), chip), chip, inputs).outputs;
}

// ONNX integer arithmetic wraps around and divides toward zero; u8 quotients are unsigned.
TEST(Lowering, IntegerArithmeticWrapsAndTruncates) {
  const auto u8_op = [](const std::string& op) {
    const std::string g = R"(graph "g" opset ""=14 {
  input %x: u8[5]
  const %b: u8[5] = [10, 200, 17, 1, 255]
  %y: u8[5] = )" + op + R"((%x, %b)
  output %y
})";
    const ir::HostTensor x =
        ir::host_tensor<uint8_t>(ir::ElementType::U8, {5}, {250, 3, 16, 200, 254});
    return ir::host_values<uint8_t>(run_graph(g, {{"x", x}}).at(0));
  };
  EXPECT_EQ(u8_op("Add"), (std::vector<uint8_t>{4, 203, 33, 201, 253}));
  EXPECT_EQ(u8_op("Sub"), (std::vector<uint8_t>{240, 59, 255, 199, 255}));
  EXPECT_EQ(u8_op("Mul"), (std::vector<uint8_t>{196, 88, 16, 200, 2}));
  EXPECT_EQ(u8_op("Div"), (std::vector<uint8_t>{25, 0, 0, 200, 0}));

  const ir::HostTensor a =
      ir::host_tensor<int32_t>(ir::ElementType::I32, {4}, {2147483647, -7, 7, 9});
  const ir::HostTensor b = ir::host_tensor<int32_t>(ir::ElementType::I32, {4}, {1, 2, -2, 0});
  const auto i32_op = [&](const std::string& op) {
    return ir::host_values<int32_t>(run_graph(R"(graph "g" opset ""=14 {
  input %a: i32[4]
  input %b: i32[4]
  %y: i32[4] = )" + op + R"((%a, %b)
  output %y
})",
                                              {{"a", a}, {"b", b}})
                                        .at(0));
  };
  EXPECT_EQ(i32_op("Add"), (std::vector<int32_t>{-2147483647 - 1, -5, 5, 9}));
  EXPECT_EQ(i32_op("Div"), (std::vector<int32_t>{2147483647, -3, -3, 0}));
  EXPECT_EQ(i32_op("Pow"), (std::vector<int32_t>{2147483647, 49, 0, 1}));
}

// Pow with an integer exponent keeps the sign of a negative base for odd exponents; 64-bit
// exponents are read from both words.
TEST(Lowering, PowOfAFloatBaseToAnIntegerExponent) {
  const ir::HostTensor x = f32({5}, {-2, -2, 3, 0, 2});
  const ir::HostTensor n =
      ir::host_tensor<int64_t>(ir::ElementType::I64, {5}, {3, 2, -1, 0, int64_t{1} << 33});
  // -1 is the case where high x 2^32 + low would cancel in f32.
  const std::vector<float> y = ir::host_values<float>(run_graph(R"(graph "g" opset ""=15 {
  input %x: f32[5]
  input %n: i64[5]
  %y: f32[5] = Pow(%x, %n)
  output %y
})",
                                                                {{"x", x}, {"n", n}})
                                                          .at(0));
  ASSERT_EQ(y.size(), 5u);
  EXPECT_NEAR(y[0], -8, 1e-5);
  EXPECT_NEAR(y[1], 4, 1e-5);
  EXPECT_NEAR(y[2], 1.0 / 3, 1e-6);
  EXPECT_EQ(y[3], 1);
  EXPECT_EQ(y[4], INFINITY);
}

TEST(Lowering, WhereSelectsI64ByBothWords) {
  const ir::HostTensor c = ir::host_tensor<uint8_t>(ir::ElementType::Bool, {2, 1}, {1, 0});
  const ir::HostTensor a =
      ir::host_tensor<int64_t>(ir::ElementType::I64, {2, 2}, {int64_t{1} << 40, -1, 3, 4});
  const ir::HostTensor b =
      ir::host_tensor<int64_t>(ir::ElementType::I64, {2}, {-(int64_t{5} << 33), 6});
  EXPECT_EQ(ir::host_values<int64_t>(run_graph(R"(graph "g" opset ""=16 {
  input %c: bool[2,1]
  input %a: i64[2,2]
  input %b: i64[2]
  %y: i64[2,2] = Where(%c, %a, %b)
  output %y
})",
                                               {{"c", c}, {"a", a}, {"b", b}})
                                         .at(0)),
            (std::vector<int64_t>{int64_t{1} << 40, -1, -(int64_t{5} << 33), 6}));
}

// MaxPool's Indices: the first of equal maxima in window order, never a padding tap, counted
// over every plane (N x C), row-major or (storage_order 1) with the spatial axes column-major.
TEST(Lowering, MaxPoolIndicesPointAtTheFirstMaximum) {
  // Two planes of 2 x 3; the second has ties. Windows 2 x 2, stride 1, one column of padding at
  // the left.
  const ir::HostTensor x = f32({1, 2, 2, 3}, {1, 5, 2,  //
                                              4, 0, 3,  //
                                              7, 7, 1,  //
                                              7, 2, 7});
  const auto indices = [&](int storage_order) {
    return ir::host_values<int64_t>(run_graph(R"(graph "g" opset ""=12 {
  input %x: f32[1,2,2,3]
  %y: f32[1,2,1,3], %i: i64[1,2,1,3] = MaxPool(%x) {kernel_shape = [2, 2], pads = [0, 1, 0, 0], storage_order = )" +
                                                  std::to_string(storage_order) + R"(}
  output %i
})",
                                              {{"x", x}})
                                        .at(0));
  };
  // Plane 0 windows cover columns {pad, 0}, {0, 1}, {1, 2}: maxima 4 (h1 w0), 5 (h0 w1), 5.
  // Plane 1 (offset 6): 7 at h0 w0 first in every window that holds it, then 7 at h0 w1.
  EXPECT_EQ(indices(0), (std::vector<int64_t>{3, 1, 1, 6, 6, 7}));
  // Column-major spatial index: h + w x 2.
  EXPECT_EQ(indices(1), (std::vector<int64_t>{1, 2, 2, 6, 6, 8}));
}

// CastLike reads only its second operand's element type: data of any dims binds to it, data of
// another element type does not.
TEST(Lowering, CastLikeTargetIsCheckedForItsElementTypeOnly) {
  const std::string g = R"(graph "g" opset ""=15 {
  input %x: f32[3]
  input %like: f16[3,4]
  %y: f16[3] = CastLike(%x, %like)
  output %y
})";
  const ir::HostTensor x = f32({3}, {1, -2, 0.5f});
  const std::vector<ir::HostTensor> out =
      run_graph(g, {{"x", x}, {"like", ir::host_tensor<uint16_t>(ir::ElementType::F16, {1}, {0})}});
  EXPECT_EQ(ir::host_values<uint16_t>(out.at(0)), (std::vector<uint16_t>{0x3C00, 0xC000, 0x3800}));
  try {
    run_graph(g, {{"x", x}, {"like", f32({1}, {0})}});
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("input 'like': the model was compiled for f16"));
  }
}

// ONNX's reference truncates f32 to bf16 (the upper 16 bits); so does the chip's Cast.
TEST(Lowering, CastToBf16Truncates) {
  const ir::HostTensor x =
      f32({3}, {0.478515625f * (1 + 0x1p-8f), -1.00390625f * (1 + 0x1p-9f), 1});
  const std::vector<uint16_t> y = ir::host_values<uint16_t>(run_graph(R"(graph "g" opset ""=13 {
  input %x: f32[3]
  %y: bf16[3] = Cast(%x) {to = 16}
  output %y
})",
                                                                      {{"x", x}})
                                                                .at(0));
  std::vector<uint16_t> want;
  for (size_t i = 0; i < 3; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x.bytes.data() + 4 * i, 4);
    want.push_back(static_cast<uint16_t>(bits >> 16));
  }
  EXPECT_EQ(y, want);
}

// Training mode normalises with the batch's statistics (population variance) and outputs the
// running ones blended by momentum.
TEST(Lowering, BatchNormalizationTrainingMode) {
  const ir::HostTensor x = f32({2, 2, 2}, {1, 3, 10, 10, 5, 7, 20, 30});
  const std::vector<ir::HostTensor> out = run_graph(R"(graph "g" opset ""=15 {
  input %x: f32[2,2,2]
  const %s: f32[2] = [1, 2]
  const %b: f32[2] = [0, 1]
  const %m: f32[2] = [0, 10]
  const %v: f32[2] = [1, 1]
  %y: f32[2,2,2], %rm: f32[2], %rv: f32[2] = BatchNormalization(%x, %s, %b, %m, %v) {epsilon = 0.0, momentum = 0.5, training_mode = 1}
  output %y
  output %rm
  output %rv
})",
                                                    {{"x", x}});
  ASSERT_EQ(out.size(), 3u);
  // Channel 0: 1, 3, 5, 7 (mean 4, variance 5); channel 1: 10, 10, 20, 30 (mean 17.5,
  // variance 68.75).
  const std::vector<float> y = ir::host_values<float>(out[0]);
  const float s0 = 1 / std::sqrt(5.0f), s1 = 2 / std::sqrt(68.75f);
  const std::vector<float> want = {-3 * s0, -1 * s0, -7.5f * s1 + 1, -7.5f * s1 + 1,
                                   1 * s0,  3 * s0,  2.5f * s1 + 1,  12.5f * s1 + 1};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(y.at(i), want[i], 1e-5) << i;
  EXPECT_EQ(ir::host_values<float>(out[1]), (std::vector<float>{2, 13.75f}));
  EXPECT_EQ(ir::host_values<float>(out[2]), (std::vector<float>{3, 34.875f}));
}

}  // namespace
}  // namespace seedchip::runtime
