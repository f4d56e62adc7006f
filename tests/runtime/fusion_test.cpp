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

namespace seedchip::runtime {
namespace {

ir::HostTensor random_f32(std::vector<int64_t> dims, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  ir::HostTensor t;
  t.element = ir::ElementType::F32;
  t.dims = std::move(dims);
  t.bytes.resize(static_cast<size_t>(t.element_count()) * 4);
  for (size_t i = 0; i < t.bytes.size(); i += 4) {
    const float x = d(rng);
    std::memcpy(t.bytes.data() + i, &x, 4);
  }
  return t;
}

// The LLM step graphs' fused operators (llm/llama_step_graph.cpp) against the standard operators
// they stand for: RoPE in the rotate-half layout on columns 8..23 of x (2 heads of 8), and SwiGLU
// over the two halves of x. Bit-identical: the same operations in the same order.
TEST(Fusion, RotaryEmbeddingAndSwigluMatchTheirStandardForms) {
  const ir::Graph fused = ir::parse(R"(graph "g" opset ""=13 "seedchip"=1 {
  input %x: f32[3,32]
  input %cos: f32[3,1,8]
  input %sin: f32[3,1,8]
  %r: f32[3,16] = seedchip::RotaryEmbedding(%x, %cos, %sin) {column = 8, heads = 2, head_dim = 8}
  %g: f32[3,16] = seedchip::SwiGLU(%x)
  output %r
  output %g
})");
  const ir::Graph standard = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[3,32]
  input %cos: f32[3,1,8]
  input %sin: f32[3,1,8]
  const %s8: i64[1] = [8]
  const %s12: i64[1] = [12]
  const %s16: i64[1] = [16]
  const %s24: i64[1] = [24]
  const %s32: i64[1] = [32]
  const %one: i64[1] = [1]
  const %two: i64[1] = [2]
  const %zero: i64[1] = [0]
  const %four: i64[1] = [4]
  const %heads: i64[3] = [3, 2, 8]
  const %flat: i64[2] = [3, 16]
  %part: f32[3,16] = Slice(%x, %s8, %s24, %one)
  %h: f32[3,2,8] = Reshape(%part, %heads)
  %second: f32[3,2,4] = Slice(%h, %four, %s8, %two)
  %first: f32[3,2,4] = Slice(%h, %zero, %four, %two)
  %swapped: f32[3,2,8] = Concat(%second, %first) {axis = 2}
  %a: f32[3,2,8] = Mul(%h, %cos)
  %b: f32[3,2,8] = Mul(%swapped, %sin)
  %c: f32[3,2,8] = Add(%a, %b)
  %r: f32[3,16] = Reshape(%c, %flat)
  %gate: f32[3,16] = Slice(%x, %zero, %s16, %one)
  %up: f32[3,16] = Slice(%x, %s16, %s32, %one)
  %sg: f32[3,16] = Sigmoid(%gate)
  %silu: f32[3,16] = Mul(%gate, %sg)
  %g: f32[3,16] = Mul(%silu, %up)
  output %r
  output %g
})");
  const std::map<std::string, ir::HostTensor> inputs = {{"x", random_f32({3, 32}, 1)},
                                                        {"cos", random_f32({3, 1, 8}, 2)},
                                                        {"sin", random_f32({3, 1, 8}, 3)}};
  const LoadedChip chip = load_chip("seedchip-v1");
  compiler::CompileOptions unfused;  // the standard form stays as it is written
  for (const std::string& pass : compiler::passes::default_pipeline())
    if (pass != "fuse") unfused.passes.push_back(pass);
  const RunResult a = run_model(compiler::compile_graph(fused, chip), chip, inputs);
  const RunResult b = run_model(compiler::compile_graph(standard, chip, unfused), chip, inputs);
  ASSERT_EQ(a.outputs.size(), 2u);
  EXPECT_EQ(a.outputs[0].bytes, b.outputs[0].bytes);
  EXPECT_EQ(a.outputs[1].bytes, b.outputs[1].bytes);
  EXPECT_LT(a.sim.core_cycles, b.sim.core_cycles);
}

}  // namespace
}  // namespace seedchip::runtime
