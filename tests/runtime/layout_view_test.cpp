// seedchip::TransposeView (compiler/passes/choose_layout.h): a Transpose left to its readers, which
// take their operand through the permuted view, gives the bytes the stored copy gives, with one
// operator, its pass over HBM and its barrier fewer.
#include <gtest/gtest.h>

#include <random>

#include "arch/chip_loader.h"
#include "compiler/ir/text.h"
#include "compiler/passes/pass.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {
namespace {

namespace ir = compiler::ir;

ir::HostTensor tensor(std::vector<int64_t> dims, uint32_t seed) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  std::mt19937 rng(seed);
  std::normal_distribution<float> d;
  std::vector<float> v(static_cast<size_t>(n));
  for (float& e : v) e = d(rng);
  return ir::host_tensor(ir::ElementType::F32, std::move(dims), v);
}

// Compiles `text` with and without choose-layout; both must give the same bytes, the views
// `views` operators (and their code) fewer. Returns the operators with views.
std::vector<std::string> expect_views_equal_copies(
    const std::string& text, const std::map<std::string, ir::HostTensor>& inputs, size_t views) {
  const ir::Graph g = ir::parse(text);
  const LoadedChip chip = load_chip("seedchip-v1");
  compiler::CompileOptions copies;
  for (const std::string& pass : compiler::passes::default_pipeline())
    if (pass != "choose-layout") copies.passes.push_back(pass);
  const compiler::CompiledModel viewed = compiler::compile_graph(g, chip);
  const compiler::CompiledModel copied = compiler::compile_graph(g, chip, copies);
  size_t aliases = 0, copies_with_code = 0;
  for (const compiler::OpRecord& op : viewed.ops) aliases += op.op == "TransposeView";
  for (const compiler::OpRecord& op : copied.ops)
    copies_with_code += op.op == "Transpose" && op.barriers > 0;
  EXPECT_EQ(aliases, views);
  EXPECT_EQ(copies_with_code, views);
  for (const compiler::OpRecord& op : viewed.ops) {
    if (op.op == "TransposeView") {
      EXPECT_EQ(op.barriers, 0) << op.label;
    }
  }
  const RunResult a = run_model(viewed, chip, inputs);
  const RunResult b = run_model(copied, chip, inputs);
  EXPECT_EQ(a.outputs.size(), b.outputs.size());
  for (size_t o = 0; o < a.outputs.size(); ++o)
    EXPECT_EQ(a.outputs[o].bytes, b.outputs[o].bytes) << a.output_names[o];
  EXPECT_LT(a.sim.core_cycles, b.sim.core_cycles);
  std::vector<std::string> ops;
  for (const compiler::OpRecord& op : viewed.ops) ops.push_back(op.op);
  return ops;
}

// Heads moved in front of the sequence, read by a product (A through the view) and by an
// addition (broadcast against a row).
TEST(LayoutView, ProductAndAdditionReadTheTransposeInPlace) {
  expect_views_equal_copies(
      R"(graph "g" opset ""=13 {
  input %x: f32[48,4,32]
  input %w: f32[32,40]
  input %r: f32[1,1,32]
  %t: f32[4,48,32] = Transpose(%x) {perm = [1, 0, 2]}
  %p: f32[4,48,40] = MatMul(%t, %w)
  %y: f32[4,48,32] = Add(%t, %r)
  output %p
  output %y
})",
      {{"x", tensor({48, 4, 32}, 1)}, {"w", tensor({32, 40}, 2)}, {"r", tensor({1, 1, 32}, 3)}}, 1);
}

// Both operands of a batched product through views, one of them a view of a view.
TEST(LayoutView, BothProductOperandsAndAViewOfAView) {
  expect_views_equal_copies(R"(graph "g" opset ""=13 {
  input %q: f32[2,16,3,24]
  input %k: f32[3,2,24,16]
  %a: f32[2,3,16,24] = Transpose(%q) {perm = [0, 2, 1, 3]}
  %b1: f32[2,3,24,16] = Transpose(%k) {perm = [1, 0, 2, 3]}
  %b: f32[3,2,24,16] = Transpose(%b1) {perm = [1, 0, 2, 3]}
  %c: f32[2,3,24,16] = Transpose(%b) {perm = [1, 0, 2, 3]}
  %p: f32[2,3,16,16] = MatMul(%a, %c)
  output %p
})",
                            {{"q", tensor({2, 16, 3, 24}, 4)}, {"k", tensor({3, 2, 24, 16}, 5)}},
                            4);
}

// Heads moved in front of the queries' positions, read by the fused attention kernel as its Q.
TEST(LayoutView, AttentionReadsItsQueriesThroughTheView) {
  const std::vector<std::string> ops = expect_views_equal_copies(
      R"(graph "g" opset ""=13 {
  input %q: f32[24,2,16]
  input %k: f32[2,16,40]
  input %v: f32[2,40,16]
  const %scale: f32[] = [0.25]
  %qt: f32[2,24,16] = Transpose(%q) {perm = [1, 0, 2]}
  %qk: f32[2,24,40] = MatMul(%qt, %k)
  %scores: f32[2,24,40] = Mul(%qk, %scale)
  %p: f32[2,24,40] = Softmax(%scores) {axis = -1}
  %o: f32[2,24,16] = MatMul(%p, %v)
  output %o
})",
      {{"q", tensor({24, 2, 16}, 6)}, {"k", tensor({2, 16, 40}, 7)}, {"v", tensor({2, 40, 16}, 8)}},
      1);
  EXPECT_EQ(ops, (std::vector<std::string>{"TransposeView", "Attention"}));
}

}  // namespace
}  // namespace seedchip::runtime
