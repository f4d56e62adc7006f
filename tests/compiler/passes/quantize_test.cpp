#include "compiler/passes/quantize.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "compiler/ir/text.h"
#include "tests/input_error.h"

namespace seedchip::compiler::passes {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Column 0 of the weights spans [-2, 1], column 1 [-0.5, 0.25], column 2 is zero.
const char* kMatMul = R"(graph "g" opset ""=13 {
  input %a: f32[2,4]
  const %w: f32[4,3] = [1, 0.25, 0, -2, -0.5, 0, 0.5, 0.125, 0, 0, 0, 0]
  %y: f32[2,3] = MatMul(%a, %w)
  output %y
})";

const ir::HostTensor& constant(const ir::Graph& g, const std::string& name) {
  return *g.value(g.find(name)).constant;
}

std::vector<float> floats(const ir::HostTensor& t) {
  std::vector<float> v(t.bytes.size() / 4);
  std::memcpy(v.data(), t.bytes.data(), t.bytes.size());
  return v;
}

TEST(Quantize, Int8WeightsGetPerChannelScales) {
  ir::Graph g = ir::parse(kMatMul);
  EXPECT_EQ(quantize(g, {QuantFormat::kInt8, QuantFormat::kInt8}), 1);
  ir::verify(g);
  const std::string text = ir::print(g);
  EXPECT_THAT(text, HasSubstr("%y: f32[2,3] = seedchip::QuantizedMatMul(%a, %w.q, %w.scale)"));
  EXPECT_THAT(text, HasSubstr("activations = \"int8\""));
  EXPECT_THAT(text, HasSubstr("weights = \"int8\""));
  EXPECT_EQ(g.opset_version("seedchip"), 1);
  // scale = max |column| / 127; a zero column takes scale 1.
  EXPECT_EQ(floats(constant(g, "w.scale")), (std::vector<float>{2.0f / 127, 0.5f / 127, 1.0f}));
  const ir::HostTensor& q = constant(g, "w.q");
  ASSERT_EQ(q.element, ir::ElementType::I8);
  ASSERT_EQ(q.dims, (std::vector<int64_t>{4, 3}));
  // Row 1 holds each column's largest magnitude: -127; 0.5 / (2/127) = 31.75 rounds to 32.
  EXPECT_EQ(static_cast<int8_t>(q.bytes[3]), -127);
  EXPECT_EQ(static_cast<int8_t>(q.bytes[4]), -127);
  EXPECT_EQ(static_cast<int8_t>(q.bytes[6]), 32);
  EXPECT_EQ(static_cast<int8_t>(q.bytes[7]), 32);
  EXPECT_EQ(static_cast<int8_t>(q.bytes[2]), 0);
}

TEST(Quantize, PerTensorScaleIsOneValue) {
  ir::Graph g = ir::parse(kMatMul);
  quantize(g, {QuantFormat::kInt8, QuantFormat::kInt8, ScaleGranularity::kPerTensor});
  EXPECT_EQ(floats(constant(g, "w.scale")), (std::vector<float>{2.0f / 127}));
}

TEST(Quantize, Fp8WeightsAreE4M3BitsScaledTo448) {
  ir::Graph g = ir::parse(kMatMul);
  quantize(g, {QuantFormat::kFp8E4m3, QuantFormat::kFp8E4m3});
  ir::verify(g);
  EXPECT_THAT(ir::print(g), HasSubstr("weights = \"fp8e4m3\""));
  const ir::HostTensor& q = constant(g, "w.q");
  ASSERT_EQ(q.element, ir::ElementType::U8);
  EXPECT_EQ(q.bytes[3], 0xFE);  // -448: S.1111.110
  EXPECT_EQ(q.bytes[0], 0x76);  // 224 = 1.75 x 2^7: 0.1110.110
}

TEST(Quantize, Bf16WeightsHaveNoScale) {
  ir::Graph g = ir::parse(kMatMul);
  quantize(g, {});
  const std::string text = ir::print(g);
  EXPECT_THAT(text, HasSubstr("= seedchip::QuantizedMatMul(%a, %w.q) {"));
  EXPECT_EQ(constant(g, "w.q").element, ir::ElementType::BF16);
  EXPECT_EQ(g.find("w.scale"), ir::kNoValue);
}

TEST(Quantize, GemmWithTransposedWeightsAndBiasKeepsAnAdd) {
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %a: f32[2,2]
  const %w: f32[3,2] = [1, 2, 3, 4, 5, 6]
  const %c: f32[3] = [1, 1, 1]
  %y: f32[2,3] = Gemm(%a, %w, %c) {transB = 1}
  output %y
})");
  EXPECT_EQ(quantize(g, {QuantFormat::kInt8, QuantFormat::kBf16}), 1);
  ir::verify(g);
  const std::string text = ir::print(g);
  EXPECT_THAT(text, HasSubstr("%y.product: f32[2,3] = seedchip::QuantizedMatMul(%a, %w.q, "));
  EXPECT_THAT(text, HasSubstr("%y: f32[2,3] = Add(%y.product, %c)"));
  // Stored [K, N]: column n of the weights is row n of the transposed constant.
  EXPECT_EQ(constant(g, "w.q").dims, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(floats(constant(g, "w.scale")),
            (std::vector<float>{2.0f / 127, 4.0f / 127, 6.0f / 127}));
}

TEST(Quantize, LeavesProductsWithoutConstantWeightsAndOtherGemmForms) {
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %a: f32[2,2]
  input %b: f32[2,2]
  const %w: f32[2,2] = [1, 2, 3, 4]
  %x: f32[2,2] = MatMul(%a, %b)
  %y: f32[2,2] = Gemm(%x, %w) {alpha = 2.0}
  %z: f32[2,2] = Gemm(%y, %w) {transA = 1}
  output %z
})");
  EXPECT_EQ(quantize(g, {QuantFormat::kInt8, QuantFormat::kInt8}), 0);
  EXPECT_THAT(ir::print(g), Not(HasSubstr("QuantizedMatMul")));
}

TEST(Quantize, EightBitActivationsNeedWeightsOfTheSameFormat) {
  ir::Graph g = ir::parse(kMatMul);
  EXPECT_THAT(testing::error_of([&] {
                quantize(g, {QuantFormat::kBf16, QuantFormat::kInt8});
              }),
              HasSubstr("activations in int8 need weights in int8, not bf16"));
  EXPECT_THAT(testing::error_of([&] {
                quantize(g, {QuantFormat::kFp8E4m3, QuantFormat::kInt8});
              }),
              HasSubstr("the MXU multiplies two operands of one format"));
  EXPECT_THAT(testing::error_of([] { quant_format_from_name("fp4"); }),
              HasSubstr("expected bf16, fp8 or int8"));
}

TEST(Quantize, RunsAsANamedPassBoundToItsOptions) {
  ir::Graph g = ir::parse(kMatMul);
  const Pass pass = quantize_pass({QuantFormat::kInt8, QuantFormat::kInt8});
  std::string dumped;
  run_passes(g, {"quantize"}, {"quantize"},
             [&](std::string_view name, const ir::Graph&) { dumped = name; }, {pass});
  EXPECT_EQ(dumped, "quantize");
  EXPECT_THAT(ir::print(g), HasSubstr("QuantizedMatMul"));
}

}  // namespace
}  // namespace seedchip::compiler::passes
