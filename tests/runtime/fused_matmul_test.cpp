// seedchip::FusedMatMul (compiler/passes/fuse.h): the bias and activation run on C in SRAM before
// it is stored, as the instructions the separate operators would run, so a graph compiled with
// and without the fuse pass gives bit-identical outputs, in one operator instead of two or three,
// on every path of the product (chip-wide GEMM, one product per core, split-K).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <sstream>

#include "arch/chip_loader.h"
#include "compiler/ir/text.h"
#include "compiler/passes/pass.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {
namespace {

namespace ir = compiler::ir;
using ::testing::HasSubstr;

std::vector<float> random_values(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(n);
  for (float& e : v) e = d(rng);
  return v;
}

ir::HostTensor tensor(std::vector<int64_t> dims, uint32_t seed) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return ir::host_tensor(ir::ElementType::F32, std::move(dims),
                         random_values(static_cast<size_t>(n), seed));
}

// "const %name: f32[dims] = [...]" with random values: weights the compiler splits on the host.
std::string constant_line(const std::string& name, const std::vector<int64_t>& dims,
                          uint32_t seed) {
  std::ostringstream s;
  s << "  const %" << name << ": f32[";
  int64_t n = 1;
  for (size_t i = 0; i < dims.size(); ++i) {
    s << (i ? "," : "") << dims[i];
    n *= dims[i];
  }
  s << "] = [";
  const std::vector<float> v = random_values(static_cast<size_t>(n), seed);
  char buffer[32];
  for (size_t i = 0; i < v.size(); ++i) {
    std::snprintf(buffer, sizeof buffer, "%.9g", static_cast<double>(v[i]));
    s << (i ? ", " : "") << buffer;
  }
  s << "]\n";
  return s.str();
}

struct Case {
  std::string text;
  std::map<std::string, ir::HostTensor> inputs;
  size_t unfused_ops = 0;
  std::vector<std::string> mapping;  // what the fused operator's mapping must say
};

void expect_fused_equals_unfused(const Case& c) {
  const ir::Graph g = ir::parse(c.text);
  const LoadedChip chip = load_chip("seedchip-v1");
  compiler::CompileOptions unfused;
  for (const std::string& pass : compiler::passes::default_pipeline())
    if (pass != "fuse") unfused.passes.push_back(pass);
  const compiler::CompiledModel fused_model = compiler::compile_graph(g, chip);
  const compiler::CompiledModel plain_model = compiler::compile_graph(g, chip, unfused);
  ASSERT_EQ(fused_model.ops.size(), 1u);
  EXPECT_EQ(plain_model.ops.size(), c.unfused_ops);
  for (const std::string& part : c.mapping)
    EXPECT_THAT(fused_model.ops[0].mapping, HasSubstr(part));
  const RunResult a = run_model(fused_model, chip, c.inputs);
  const RunResult b = run_model(plain_model, chip, c.inputs);
  ASSERT_EQ(a.outputs.size(), 1u);
  EXPECT_EQ(a.outputs[0].bytes, b.outputs[0].bytes);
  EXPECT_LT(a.sim.core_cycles, b.sim.core_cycles);
}

TEST(FusedMatMul, ConstantWeightsBiasAndReluOnEveryCore) {
  expect_fused_equals_unfused({R"(graph "g" opset ""=13 {
  input %a: f32[40,96]
  input %bias: f32[300]
)" + constant_line("w", {96, 300}, 7) +
                                   R"(  %p: f32[40,300] = MatMul(%a, %w)
  %s: f32[40,300] = Add(%p, %bias)
  %y: f32[40,300] = Relu(%s)
  output %y
})",
                               {{"a", tensor({40, 96}, 1)}, {"bias", tensor({300}, 2)}},
                               3,
                               {"epilogue in SRAM", "bias and activation on C in SRAM"}});
}

TEST(FusedMatMul, GemmWithBiasRowAndSigmoid) {
  expect_fused_equals_unfused(
      {R"(graph "g" opset ""=13 {
  input %a: f32[3,64]
  input %w: f32[48,64]
  input %c: f32[1,48]
  %p: f32[3,48] = Gemm(%a, %w, %c) {transB = 1}
  %y: f32[3,48] = Sigmoid(%p)
  output %y
})",
       {{"a", tensor({3, 64}, 3)}, {"w", tensor({48, 64}, 4)}, {"c", tensor({1, 48}, 5)}},
       2,
       {"GEMM", "bias and activation on C in SRAM"}});
}

TEST(FusedMatMul, OneProductPerCoreWithTanh) {
  expect_fused_equals_unfused(
      {R"(graph "g" opset ""=13 {
  input %a: f32[20,3,32]
  input %b: f32[20,32,24]
  input %bias: f32[24]
  %p: f32[20,3,24] = MatMul(%a, %b)
  %s: f32[20,3,24] = Add(%bias, %p)
  %y: f32[20,3,24] = Tanh(%s)
  output %y
})",
       {{"a", tensor({20, 3, 32}, 6)}, {"b", tensor({20, 32, 24}, 7)}, {"bias", tensor({24}, 8)}},
       3,
       {"one product per core", "bias and activation on C in SRAM"}});
}

TEST(FusedMatMul, SplitKSumsThenAddsTheBias) {
  expect_fused_equals_unfused({R"(graph "g" opset ""=13 {
  input %a: f32[2,4096]
  input %bias: f32[64]
)" + constant_line("w", {4096, 64}, 9) +
                                   R"(  %p: f32[2,64] = MatMul(%a, %w)
  %s: f32[2,64] = Add(%p, %bias)
  %y: f32[2,64] = Relu(%s)
  output %y
})",
                               {{"a", tensor({2, 4096}, 10)}, {"bias", tensor({64}, 11)}},
                               3,
                               {"split-K", "bias and activation on C in SRAM"}});
}

TEST(FusedMatMul, ConvWithBiasAndRelu) {
  expect_fused_equals_unfused(
      {R"(graph "g" opset ""=13 {
  input %x: f32[2,3,9,9]
  input %w: f32[8,3,3,3]
  input %b: f32[8]
  %c: f32[2,8,7,7] = Conv(%x, %w, %b) {kernel_shape = [3, 3]}
  %y: f32[2,8,7,7] = Relu(%c)
  output %y
})",
       {{"x", tensor({2, 3, 9, 9}, 12)}, {"w", tensor({8, 3, 3, 3}, 13)}, {"b", tensor({8}, 14)}},
       2,
       {"bias, activation and layout on the VPU"}});
}

}  // namespace
}  // namespace seedchip::runtime
