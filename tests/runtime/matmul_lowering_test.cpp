// A constant B (weights) is split into BF16 parts at compile time instead of on the VPU at run
// time: the results must be bit-identical to the run-time split, and the program smaller.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "arch/chip_loader.h"
#include "compiler/ir/text.h"
#include "compiler/kernels/gemm.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {
namespace {

namespace ir = compiler::ir;

TEST(MatmulLowering, ConstantWeightsSplitAtCompileTimeGiveIdenticalResults) {
  std::mt19937 rng(7);
  std::normal_distribution<float> d;
  std::vector<float> a(3 * 5), w(4 * 5);
  for (float& x : a) x = d(rng);
  for (float& x : w) x = d(rng);
  auto list = [](const std::vector<float>& v) {
    std::string s;
    for (float x : v) s += (s.empty() ? "" : ", ") + std::to_string(x);
    return s;
  };
  auto tensor = [](std::vector<int64_t> dims, const std::vector<float>& v) {
    ir::HostTensor t;
    t.element = ir::ElementType::F32;
    t.dims = std::move(dims);
    t.bytes.resize(v.size() * 4);
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    return t;
  };
  // The constant is written in the text form with std::to_string's 6 decimals: both runs use the
  // values it parses to.
  const std::string constant_graph = R"(graph "g" opset ""=13 {
  input %a: f32[3,5]
  const %w: f32[4,5] = [)" + list(w) +
                                     R"(]
  %y: f32[3,4] = Gemm(%a, %w) {transB = 1}
  output %y
})";
  const ir::Graph with_constant = ir::parse(constant_graph);
  const ir::HostTensor w_values = *with_constant.value(with_constant.find("w")).constant;
  const ir::Graph with_input = ir::parse(R"(graph "g" opset ""=13 {
  input %a: f32[3,5]
  input %w: f32[4,5]
  %y: f32[3,4] = Gemm(%a, %w) {transB = 1}
  output %y
})");
  const LoadedChip chip = load_chip("seedchip-v1");
  compiler::CompileOptions options;
  options.matmul_precision = compiler::MatmulPrecision::kBf16x6;
  const compiler::CompiledModel constant = compiler::compile_graph(with_constant, chip, options);
  const compiler::CompiledModel input = compiler::compile_graph(with_input, chip, options);
  const RunResult r1 = run_model(constant, chip, {{"a", tensor({3, 5}, a)}});
  const RunResult r2 = run_model(input, chip, {{"a", tensor({3, 5}, a)}, {"w", w_values}});
  EXPECT_EQ(r1.outputs.at(0).bytes, r2.outputs.at(0).bytes);
  size_t code_constant = 0, code_input = 0;
  for (const auto& section : constant.program.sections) code_constant += section.code.size();
  for (const auto& section : input.program.sections) code_input += section.code.size();
  EXPECT_LT(code_constant, code_input);  // no split kernel for the weights
  EXPECT_LT(r1.sim.core_cycles, r2.sim.core_cycles);
}

}  // namespace
}  // namespace seedchip::runtime

namespace seedchip::runtime {
namespace {

ir::HostTensor random_tensor(ir::ElementType element, std::vector<int64_t> dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  ir::HostTensor t;
  t.element = element;
  t.dims = std::move(dims);
  const auto n = static_cast<size_t>(t.element_count());
  t.bytes.resize(n * ir::element_bytes(element));
  for (size_t i = 0; i < n; ++i) {
    const float x = d(rng);
    if (element == ir::ElementType::F32) {
      std::memcpy(t.bytes.data() + i * 4, &x, 4);
    } else {  // bf16: the high half of the f32
      uint32_t bits;
      std::memcpy(&bits, &x, 4);
      const auto high = static_cast<uint16_t>(bits >> 16);
      std::memcpy(t.bytes.data() + i * 2, &high, 2);
    }
  }
  return t;
}

float element_of(const ir::HostTensor& t, size_t i) {
  if (t.element == ir::ElementType::F32) {
    float x;
    std::memcpy(&x, t.bytes.data() + i * 4, 4);
    return x;
  }
  uint16_t high;
  std::memcpy(&high, t.bytes.data() + i * 2, 2);
  const uint32_t bits = static_cast<uint32_t>(high) << 16;
  float x;
  std::memcpy(&x, &bits, 4);
  return x;
}

// 20 products (more than the 16 cores, so each core takes whole products) of f32 activations with
// bf16 weights stored dense: the bf16 product of A's rounding with B, summed in f32.
TEST(MatmulLowering, BatchedProductsWithBf16WeightsRunOnePerCore) {
  const int64_t batches = 20, m = 3, k = 37, n = 5;
  const ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %a: f32[20,3,37]
  input %b: bf16[20,37,5]
  %y: f32[20,3,5] = MatMul(%a, %b)
  output %y
})");
  const LoadedChip chip = load_chip("seedchip-v1");
  compiler::CompileOptions options;
  options.matmul_precision = compiler::MatmulPrecision::kBf16;
  const compiler::CompiledModel model = compiler::compile_graph(g, chip, options);
  EXPECT_NE(model.ops.front().mapping.find("one product per core"), std::string::npos)
      << model.ops.front().mapping;
  const ir::HostTensor a = random_tensor(ir::ElementType::F32, {batches, m, k}, 1);
  const ir::HostTensor b = random_tensor(ir::ElementType::BF16, {batches, k, n}, 2);
  const RunResult r = run_model(model, chip, {{"a", a}, {"b", b}});
  const ir::HostTensor& y = r.outputs.at(0);
  double error = 0, norm = 0;
  for (int64_t q = 0; q < batches; ++q)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double expected = 0;
        for (int64_t l = 0; l < k; ++l) {
          // A rounds to bf16 (to nearest even) on the chip; products and sums are exact in f64.
          const float x = element_of(a, static_cast<size_t>((q * m + i) * k + l));
          uint32_t bits;
          std::memcpy(&bits, &x, 4);
          bits = (bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff0000u;
          float rounded;
          std::memcpy(&rounded, &bits, 4);
          expected += static_cast<double>(rounded) *
                      element_of(b, static_cast<size_t>((q * k + l) * n + j));
        }
        const double got = element_of(y, static_cast<size_t>((q * m + i) * n + j));
        error += (got - expected) * (got - expected);
        norm += expected * expected;
      }
  EXPECT_LT(error / norm, 1e-12);  // only the order of the f32 sums differs
}

// A narrow product split over K (plan_k_splits), with B row-major and in MXU tiles (packed by the
// caller as pack_gemm_weights lays it out): the sum of the slices' partial results is the product,
// up to the order of the f32 sums, against the same product computed without the split.
TEST(MatmulLowering, NarrowProductsSplitKGiveTheProduct) {
  const int64_t m = 2, k = 2048, n = 256;
  const LoadedChip chip = load_chip("seedchip-v1");
  const compiler::GemmShape shape{m, n, k, DataType::BF16};
  ASSERT_GT(compiler::plan_k_splits(chip.config, shape), 1);
  const ir::HostTensor a = random_tensor(ir::ElementType::F32, {m, k}, 3);
  const ir::HostTensor b = random_tensor(ir::ElementType::BF16, {k, n}, 4);
  ir::HostTensor packed = b;
  packed.bytes =
      compiler::pack_gemm_weights(shape, compiler::plan_gemm(chip.config, shape), b.bytes.data());
  std::vector<double> expected(static_cast<size_t>(m * n), 0);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t l = 0; l < k; ++l) {
      // A rounds to bf16 (to nearest even) on the chip; products and sums are exact in f64.
      const float x = element_of(a, static_cast<size_t>(i * k + l));
      uint32_t bits;
      std::memcpy(&bits, &x, 4);
      bits = (bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff0000u;
      float rounded;
      std::memcpy(&rounded, &bits, 4);
      for (int64_t j = 0; j < n; ++j)
        expected[static_cast<size_t>(i * n + j)] +=
            static_cast<double>(rounded) * element_of(b, static_cast<size_t>(l * n + j));
    }
  compiler::CompileOptions options;
  options.matmul_precision = compiler::MatmulPrecision::kBf16;
  for (const bool tiles : {false, true}) {
    const ir::Graph g = ir::parse(std::string(R"(graph "g" opset ""=13 {
  input %a: f32[2,2048]
  input %b: bf16[2048,256]
  %y: f32[2,256] = MatMul(%a, %b))") +
                                  (tiles ? R"( {b_layout = "mxu_tiles"})" : "") + R"(
  output %y
})");
    const compiler::CompiledModel model = compiler::compile_graph(g, chip, options);
    EXPECT_NE(model.ops.front().mapping.find("split-K"), std::string::npos)
        << model.ops.front().mapping;
    EXPECT_NE(model.ops.front().mapping.find("A converted in SRAM"), std::string::npos)
        << model.ops.front().mapping;
    const RunResult r = run_model(model, chip, {{"a", a}, {"b", tiles ? packed : b}});
    double error = 0, norm = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      const double got = element_of(r.outputs.at(0), i);
      error += (got - expected[i]) * (got - expected[i]);
      norm += expected[i] * expected[i];
    }
    EXPECT_LT(error / norm, 1e-12) << (tiles ? "B in MXU tiles" : "B row-major");
  }
}

// A product that streams weights (one row, 64 weight tiles per core) reads its FP32 A in place and
// several weight tiles per DMA (the mapping search picks how many); the result is the product of A
// rounded to bf16, as in the split.
TEST(MatmulLowering, StreamedWeightsInPairsOfTilesGiveTheProduct) {
  const int64_t m = 1, k = 8192, n = 2048;
  const LoadedChip chip = load_chip("seedchip-v1");
  const compiler::GemmShape shape{m, n, k, DataType::BF16};
  const compiler::GemmPlan plan = compiler::plan_gemm(chip.config, shape);
  ASSERT_GE(plan.tiles_per_slot, 2);
  const ir::HostTensor a = random_tensor(ir::ElementType::F32, {m, k}, 5);
  const ir::HostTensor b = random_tensor(ir::ElementType::BF16, {k, n}, 6);
  ir::HostTensor packed = b;
  packed.bytes = compiler::pack_gemm_weights(shape, plan, b.bytes.data());
  std::vector<double> expected(static_cast<size_t>(n), 0);
  for (int64_t l = 0; l < k; ++l) {
    const float x = element_of(a, static_cast<size_t>(l));
    uint32_t bits;
    std::memcpy(&bits, &x, 4);
    bits = (bits + 0x7fff + ((bits >> 16) & 1)) & 0xffff0000u;
    float rounded;
    std::memcpy(&rounded, &bits, 4);
    for (int64_t j = 0; j < n; ++j)
      expected[static_cast<size_t>(j)] +=
          static_cast<double>(rounded) * element_of(b, static_cast<size_t>(l * n + j));
  }
  compiler::CompileOptions options;
  options.matmul_precision = compiler::MatmulPrecision::kBf16;
  const ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %a: f32[1,8192]
  input %b: bf16[8192,2048]
  %y: f32[1,2048] = MatMul(%a, %b) {b_layout = "mxu_tiles"}
  output %y
})");
  const compiler::CompiledModel model = compiler::compile_graph(g, chip, options);
  EXPECT_NE(model.ops.front().mapping.find("A converted in SRAM"), std::string::npos)
      << model.ops.front().mapping;
  EXPECT_NE(model.ops.front().mapping.find("of " + std::to_string(plan.tiles_per_slot) + " tiles"),
            std::string::npos)
      << model.ops.front().mapping;
  const RunResult r = run_model(model, chip, {{"a", a}, {"b", packed}});
  double error = 0, norm = 0;
  for (size_t i = 0; i < expected.size(); ++i) {
    const double got = element_of(r.outputs.at(0), i);
    error += (got - expected[i]) * (got - expected[i]);
    norm += expected[i] * expected[i];
  }
  EXPECT_LT(error / norm, 1e-12);
}

// A bf16 B needs the bf16 precision, whose one pair is the whole product.
TEST(MatmulLowering, Bf16WeightsNeedTheBf16Precision) {
  const ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %a: f32[2,4]
  input %b: bf16[4,3]
  %y: f32[2,3] = MatMul(%a, %b)
  output %y
})");
  compiler::CompileOptions options;
  options.matmul_precision = compiler::MatmulPrecision::kBf16x3;
  EXPECT_THROW(compiler::compile_graph(g, load_chip("seedchip-v1"), options),
               compiler::UnsupportedError);
}

}  // namespace
}  // namespace seedchip::runtime
