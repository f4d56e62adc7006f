// A constant B (weights) is split into BF16 parts at compile time instead of on the VPU at run
// time: the results must be bit-identical to the run-time split, and the program smaller.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "arch/chip_loader.h"
#include "compiler/ir/text.h"
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
