#include "compiler/codegen/compile.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <utility>

#include "compiler/ir/text.h"
#include "tests/input_error.h"

namespace seedchip::compiler {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

using seedchip::testing::error_of;

const TensorSlot& slot(const CompiledModel& m, const std::string& name) {
  for (const TensorSlot& t : m.tensors)
    if (t.name == name) return t;
  throw std::logic_error("no tensor " + name);
}

TEST(Compile, IntermediatesReuseFreedSpace) {
  const ir::Graph g = ir::parse(R"(graph "chain" opset ""=13 {
  input %x: f32[1024]
  %a: f32[1024] = Relu(%x)
  %b: f32[1024] = Exp(%a)
  %c: f32[1024] = Neg(%b)
  %d: f32[1024] = Tanh(%c)
  output %d
})");
  const CompiledModel m = compile_graph(g, load_chip("seedchip-v1"));
  ASSERT_EQ(m.ops.size(), 4u);
  // %a is dead once %b exists, so %c takes its place.
  EXPECT_EQ(slot(m, "c").hbm, slot(m, "a").hbm);
  EXPECT_NE(slot(m, "b").hbm, slot(m, "a").hbm);
  EXPECT_NE(slot(m, "x").hbm, slot(m, "d").hbm);
  for (const OpRecord& op : m.ops) EXPECT_EQ(op.barriers, 1);
}

// Each operator's instruction counts add up to the program's (less each core's final halt), and
// the unit counts are the MXU, VPU and DMA instructions.
TEST(Compile, CountsEachOperatorsInstructions) {
  const ir::Graph g = ir::parse(R"(graph "chain" opset ""=13 {
  input %x: f32[4096]
  const %shape: i64[2] = [64, 64]
  %a: f32[4096] = Relu(%x)
  %b: f32[64,64] = Reshape(%a, %shape)
  %c: f32[64,64] = Softmax(%b) {axis = 1}
  output %c
})");
  const CompiledModel m = compile_graph(g, load_chip("seedchip-v1"));
  uint64_t all = 0, units = 0;
  for (const isa::Section& section : m.program.sections) {
    all += section.code.size() - 1;
    for (const isa::Instruction& inst : section.code) {
      const isa::Unit unit = isa::info(inst.op).unit;
      units += unit == isa::Unit::MXU || unit == isa::Unit::VPU || unit == isa::Unit::DMA;
    }
  }
  InstructionCounts sum;
  for (const OpRecord& op : m.ops) {
    sum.all += op.instructions.all;
    sum.units += op.instructions.units;
    if (op.barriers == 0) {
      EXPECT_EQ(op.instructions.all, 0u) << op.label;
    } else {
      EXPECT_GT(op.instructions.units, 0u) << op.label;
    }
  }
  EXPECT_EQ(sum.all, all);
  EXPECT_EQ(sum.units, units);
}

// A stream gives each core at least one VPU pass (vpu.lanes elements) and no smaller chunks: 100
// elements run on one core in one chunk, 4096 on every core.
TEST(Compile, SmallStreamsKeepOneVpuPassPerCore) {
  const auto cores_with_vpu_work = [](int64_t n) {
    const std::string size = std::to_string(n);
    const CompiledModel m =
        compile_graph(ir::parse("graph \"relu\" opset \"\"=13 {\n  input %x: f32[" + size +
                                "]\n  %y: f32[" + size + "] = Relu(%x)\n  output %y\n}"),
                      load_chip("seedchip-v1"));
    int cores = 0;
    int64_t vpu = 0;
    for (const isa::Section& section : m.program.sections) {
      const auto n_vpu = std::count_if(
          section.code.begin(), section.code.end(),
          [](const isa::Instruction& i) { return isa::info(i.op).unit == isa::Unit::VPU; });
      cores += n_vpu > 0;
      vpu += n_vpu;
    }
    return std::pair{cores, vpu};
  };
  EXPECT_EQ(cores_with_vpu_work(100), (std::pair{1, int64_t{1}}));
  EXPECT_EQ(cores_with_vpu_work(4096).first, 16);
}

TEST(Compile, ReshapesOfIntermediatesAreAliasesWithoutCode) {
  const ir::Graph g = ir::parse(R"(graph "alias" opset ""=13 {
  input %x: f32[4,6]
  const %shape: i64[2] = [6, 4]
  %a: f32[4,6] = Relu(%x)
  %b: f32[6,4] = Reshape(%a, %shape)
  %c: f32[6,4] = Exp(%b)
  %d: f32[4,6] = Tanh(%x)
  %e: f32[6,4] = Reshape(%d, %shape)
  output %c
  output %e
})");
  const CompiledModel m = compile_graph(g, load_chip("seedchip-v1"));
  ASSERT_EQ(m.ops.size(), 5u);
  EXPECT_EQ(m.ops[1].barriers, 0);  // %b is %a's bytes
  EXPECT_EQ(slot(m, "b").hbm, slot(m, "a").hbm);
  EXPECT_EQ(m.ops[4].barriers, 1);  // %e is a graph output: a real copy
  // %a must outlive its alias's reader: %c, written while %b is read, may not take its space.
  EXPECT_NE(slot(m, "c").hbm, slot(m, "a").hbm);
}

TEST(Compile, ReduceProdHalvesRowsInLogDepth) {
  const ir::Graph g = ir::parse(R"(graph "prod" opset ""=13 {
  input %x: f32[3,1000]
  %y: f32[3] = ReduceProd(%x) {axes = [1], keepdims = 0}
  output %y
})");
  const CompiledModel m = compile_graph(g, load_chip("seedchip-v1"));
  ASSERT_EQ(m.ops.size(), 1u);
  // The copy to scratch, then 10 halvings (1000, 500, 250, 125, 63, 32, 16, 8, 4, 2), each
  // after a barrier, and the operator's own closing barrier.
  EXPECT_EQ(m.ops[0].barriers, 11);
}

TEST(Compile, NamesEveryMissingLowering) {
  const ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[4]
  %a: f32[4] = LRN(%x) {size = 3}
  %b: f32[4] = Gelu(%a)
  output %b
})");
  try {
    compile_graph(g, load_chip("seedchip-v1"));
    FAIL() << "compiled";
  } catch (const UnsupportedError& e) {
    EXPECT_EQ(e.op(), "LRN");  // the first in node order
    EXPECT_THAT(e.what(), HasSubstr("no lowering for Gelu, LRN"));
  }
}

TEST(Compile, UnknownShapesAreUnsupported) {
  const ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[?]
  %y: f32[?] = Relu(%x)
  output %y
})");
  EXPECT_THAT(error_of([&] { compile_graph(g, load_chip("seedchip-v1")); }),
              HasSubstr("tensor 'x' has no fully known"));
}

TEST(Compile, ReportsHbmOverflowWithTheNumbers) {
  const ir::Graph g = ir::parse(R"(graph "big" opset ""=13 {
  input %x: f32[65536,65536,16]
  %y: f32[65536,65536,16] = Relu(%x)
  output %y
})");
  EXPECT_THAT(error_of([&] { compile_graph(g, load_chip("seedchip-v1")); }),
              HasSubstr("needs 549755813888 bytes of HBM (tensors 549755813888, scratch 0) "
                        "but chip 'seedchip-v1' has 154618822656"));
}

// CompileOptions::in_place: the output takes the input's HBM bytes, and the ScatterND that writes
// it skips the copy of its data.
CompiledModel compile_in_place(const std::string& body, const std::string& out = "next",
                               const std::string& in = "pool") {
  CompileOptions options;
  options.in_place = {{out, in}};
  return compile_graph(ir::parse("graph \"state\" opset \"\"=18 {\n" + body + "}"),
                       load_chip("seedchip-v1"), options);
}

const char* kPoolInputs = R"(  input %pool: f32[16,8]
  input %slot: i64[1,1]
  input %row: f32[1,8]
)";

TEST(InPlace, OutputIsStoredOverTheInput) {
  const CompiledModel m = compile_in_place(std::string(kPoolInputs) + R"(
  %next: f32[16,8] = ScatterND(%pool, %slot, %row)
  output %next
)");
  EXPECT_EQ(slot(m, "next").hbm, slot(m, "pool").hbm);
  EXPECT_EQ(m.in_place.at("next"), "pool");
  EXPECT_THAT(m.ops.at(0).mapping, HasSubstr("in place, dma.scatter of 1 rows of 8"));
  // Without in_place the output has its own bytes and the data is copied first.
  const CompiledModel copied =
      compile_graph(ir::parse(std::string("graph \"s\" opset \"\"=18 {\n") + kPoolInputs + R"(
  %next: f32[16,8] = ScatterND(%pool, %slot, %row)
  output %next
})"),
                    load_chip("seedchip-v1"));
  EXPECT_NE(slot(copied, "next").hbm, slot(copied, "pool").hbm);
  EXPECT_THAT(copied.ops.at(0).mapping, HasSubstr("copy, dma.scatter"));
  EXPECT_TRUE(copied.in_place.empty());
}

TEST(InPlace, AnyProducerAfterTheLastReaderMayWriteOverTheInput) {
  const CompiledModel m = compile_in_place(R"(  input %pool: f32[4]
  input %x: f32[4]
  %a: f32[4] = Relu(%pool)
  %next: f32[4] = Add(%a, %x)
  output %next
)");
  EXPECT_EQ(slot(m, "next").hbm, slot(m, "pool").hbm);
}

TEST(InPlace, UnsafeOrMismatchedAliasingIsRefused) {
  // A reader of the input after the producer, also through a Reshape (an alias of its bytes).
  EXPECT_THAT(error_of([] {
                compile_in_place(std::string(kPoolInputs) + R"(
  %next: f32[16,8] = ScatterND(%pool, %slot, %row)
  %old: f32[16,8] = Relu(%pool)
  output %next
  output %old
)");
              }),
              AllOf(HasSubstr("in-place output 'next' over input 'pool'"),
                    HasSubstr("node #1 (Relu) reads 'pool' after node #0 (ScatterND) has written "
                              "'next' over it")));
  EXPECT_THAT(error_of([] {
                compile_in_place(std::string(kPoolInputs) + R"(
  const %shape: i64[1] = [128]
  %next: f32[16,8] = ScatterND(%pool, %slot, %row)
  %flat: f32[128] = Reshape(%pool, %shape)
  %old: f32[128] = Relu(%flat)
  output %next
  output %old
)");
              }),
              HasSubstr("(Relu) reads 'pool' after"));
  // The producer reads the input other than as ScatterND's data.
  EXPECT_THAT(error_of([] {
                compile_in_place(R"(  input %pool: f32[4]
  %next: f32[4] = Relu(%pool)
  output %next
)");
              }),
              HasSubstr("node #0 (Relu) reads 'pool' (operand 0) while writing 'next' over it; "
                        "only ScatterND's data operand may be the input"));
  EXPECT_THAT(error_of([] {
                compile_in_place(R"(  input %pool: f32[4,1]
  input %slot: i64[1,1]
  %next: f32[4,1] = ScatterND(%pool, %slot, %pool)
  output %next
)");
              }),
              HasSubstr("(operand 2) while writing 'next'"));
  // Types, names and roles.
  EXPECT_THAT(error_of([] {
                compile_in_place(R"(  input %pool: f32[16,8]
  input %x: f32[8,16]
  %next: f32[8,16] = Relu(%x)
  output %next
)");
              }),
              HasSubstr("the output is f32[8,16], the input f32[16,8]; they must have the same "
                        "type"));
  EXPECT_THAT(error_of([] {
                compile_in_place(std::string(kPoolInputs) + R"(
  %next: f32[16,8] = ScatterND(%pool, %slot, %row)
  output %next
)",
                                 "nxt");
              }),
              HasSubstr("'nxt' is not a graph output"));
  EXPECT_THAT(error_of([] {
                compile_in_place(std::string(kPoolInputs) + R"(
  %next: f32[16,8] = ScatterND(%pool, %slot, %row)
  output %next
)",
                                 "next", "row");
              }),
              HasSubstr("the output is f32[16,8], the input f32[1,8]"));
  EXPECT_THAT(error_of([] {
                compile_in_place(R"(  input %pool: f32[4]
  output %pool
)",
                                 "pool", "pool");
              }),
              HasSubstr("'pool' is also a graph output"));
}

TEST(Compile, PrecisionNames) {
  EXPECT_EQ(precision_from_name("bf16x6"), MatmulPrecision::kBf16x6);
  EXPECT_THAT(error_of([] { precision_from_name("fp32"); }), HasSubstr("bf16, bf16x3, bf16x6"));
}

}  // namespace
}  // namespace seedchip::compiler
