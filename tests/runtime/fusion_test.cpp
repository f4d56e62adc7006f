// The fuse pass changes how many kernels run, not the numbers: a graph compiled with and without
// it gives bit-identical outputs, in fewer operators.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "arch/chip_loader.h"
#include "compiler/ir/text.h"
#include "compiler/passes/pass.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {
namespace {

namespace ir = compiler::ir;

TEST(Fusion, FusedRmsNormAndSiluGiveIdenticalResults) {
  const ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[3,64]
  input %w: f32[64]
  const %eps: f32[] = [0.00001]
  %sq: f32[3,64] = Mul(%x, %x)
  %mean: f32[3,1] = ReduceMean(%sq) {axes = [-1]}
  %plus: f32[3,1] = Add(%mean, %eps)
  %root: f32[3,1] = Sqrt(%plus)
  %inv: f32[3,1] = Reciprocal(%root)
  %normed: f32[3,64] = Mul(%x, %inv)
  %y: f32[3,64] = Mul(%normed, %w)
  %s: f32[3,64] = Sigmoid(%y)
  %z: f32[3,64] = Mul(%y, %s)
  output %z
})");
  std::mt19937 rng(3);
  std::normal_distribution<float> d;
  auto tensor = [&](std::vector<int64_t> dims, size_t n) {
    ir::HostTensor t;
    t.element = ir::ElementType::F32;
    t.dims = std::move(dims);
    std::vector<float> v(n);
    for (float& e : v) e = d(rng);
    t.bytes.resize(n * 4);
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    return t;
  };
  const std::map<std::string, ir::HostTensor> inputs = {{"x", tensor({3, 64}, 192)},
                                                        {"w", tensor({64}, 64)}};
  const LoadedChip chip = load_chip("seedchip-v1");
  compiler::CompileOptions unfused;
  for (const std::string& pass : compiler::passes::default_pipeline())
    if (pass != "fuse") unfused.passes.push_back(pass);
  const compiler::CompiledModel a = compiler::compile_graph(g, chip);
  const compiler::CompiledModel b = compiler::compile_graph(g, chip, unfused);
  EXPECT_EQ(a.ops.size(), 2u);
  EXPECT_EQ(b.ops.size(), 9u);
  const RunResult ra = run_model(a, chip, inputs), rb = run_model(b, chip, inputs);
  EXPECT_EQ(ra.outputs.at(0).bytes, rb.outputs.at(0).bytes);
  EXPECT_LT(ra.sim.core_cycles, rb.sim.core_cycles);
}

}  // namespace
}  // namespace seedchip::runtime
