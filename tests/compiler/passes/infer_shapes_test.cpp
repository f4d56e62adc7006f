#include "compiler/passes/infer_shapes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <map>

#include "arch/error.h"
#include "compiler/ir/text.h"
#include "tests/input_error.h"

namespace seedchip::compiler::passes {
namespace {

using ir::ElementType;
using ir::ValueId;
using ::testing::HasSubstr;
using Dims = std::vector<int64_t>;
using Attrs = std::map<std::string, ir::AttributeValue>;
constexpr int64_t U = ir::kUnknownDim;
constexpr ElementType F32 = ElementType::F32;
constexpr ElementType I64 = ElementType::I64;

using seedchip::testing::error_of;

std::string text(const ir::TensorType& t) {
  std::string s(ir::element_name(t.element));
  if (!t.dims) return s + "[*]";
  s += "[";
  for (size_t i = 0; i < t.dims->size(); ++i)
    s += (i ? "," : "") + ((*t.dims)[i] == U ? std::string("?") : std::to_string((*t.dims)[i]));
  return s + "]";
}

// Builds graphs in code: inputs, integer constants and nodes whose outputs start untyped.
class Builder {
 public:
  explicit Builder(int64_t opset = 17) {
    g.name = "test";
    g.opset[""] = opset;
  }

  ValueId input(ElementType e, std::optional<Dims> dims) {
    const ValueId id = g.add_value(g.unique_name("x"), {e, std::move(dims)});
    g.inputs.push_back(id);
    return id;
  }
  ValueId ints(const Dims& values, ElementType e = I64) {
    auto t = std::make_shared<ir::HostTensor>();
    t->element = e;
    t->dims = {static_cast<int64_t>(values.size())};
    const size_t width = ir::element_bytes(e);
    for (int64_t v : values)
      for (size_t b = 0; b < width; ++b)
        t->bytes.push_back(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * b)));
    return g.add_value(g.unique_name("c"), t->type(), t);
  }
  ValueId scalar(int64_t v) {
    const ValueId id = ints({v});
    auto t = std::make_shared<ir::HostTensor>(*g.value(id).constant);
    t->dims = {};
    g.value(id).constant = t;
    g.value(id).type = t->type();
    return id;
  }
  std::vector<ValueId> node(const std::string& op, const std::vector<ValueId>& inputs,
                            const Attrs& attrs, size_t outputs, const std::string& name = "") {
    ir::Node n{op, "", name, inputs, {}, attrs};
    for (size_t i = 0; i < outputs; ++i) n.outputs.push_back(g.add_value(g.unique_name("y"), {}));
    g.nodes.push_back(n);
    return n.outputs;
  }
  ValueId op(const std::string& op, const std::vector<ValueId>& inputs, const Attrs& attrs = {}) {
    return node(op, inputs, attrs, 1)[0];
  }
  std::string type(ValueId id) const { return text(g.value(id).type); }
  std::string infer(ValueId id) {
    infer_shapes(g);
    return type(id);
  }
  std::string error() {
    return error_of([&] { infer_shapes(g); });
  }

  ir::Graph g;
};

// One node of `op` over inputs of the given dims, its output's inferred type.
std::string infer_op(const std::string& op, const std::vector<std::optional<Dims>>& inputs,
                     const Attrs& attrs = {}, int64_t opset = 17) {
  Builder b(opset);
  std::vector<ValueId> ids;
  for (const auto& d : inputs) ids.push_back(b.input(F32, d));
  return b.infer(b.op(op, ids, attrs));
}

std::string error_op(const std::string& op, const std::vector<std::optional<Dims>>& inputs,
                     const Attrs& attrs = {}) {
  Builder b;
  std::vector<ValueId> ids;
  for (const auto& d : inputs) ids.push_back(b.input(F32, d));
  b.node(op, ids, attrs, 1, "n");
  return b.error();
}

TEST(InferShapesBroadcast, NumpyRules) {
  EXPECT_EQ(infer_op("Add", {Dims{2, 3}, Dims{3}}), "f32[2,3]");
  EXPECT_EQ(infer_op("Mul", {Dims{2, 1, 4}, Dims{3, 1}}), "f32[2,3,4]");
  EXPECT_EQ(infer_op("Sub", {Dims{}, Dims{5}}), "f32[5]");
  EXPECT_EQ(infer_op("Max", {Dims{2, 1}, Dims{1, 3}, Dims{4, 1, 1}}), "f32[4,2,3]");
  EXPECT_EQ(infer_op("Div", {Dims{0, 3}, Dims{1, 3}}), "f32[0,3]");
  EXPECT_EQ(infer_op("Add", {Dims{2}, std::nullopt}), "f32[*]");
}

TEST(InferShapesBroadcast, UnknownDims) {
  EXPECT_EQ(infer_op("Add", {Dims{U, 3}, Dims{1, 3}}), "f32[?,3]");
  EXPECT_EQ(infer_op("Add", {Dims{U}, Dims{5}}), "f32[5]");
  EXPECT_EQ(infer_op("Add", {Dims{U}, Dims{1}}), "f32[?]");
  EXPECT_EQ(infer_op("Add", {Dims{U, 1}, Dims{U}}), "f32[?,?]");
  EXPECT_EQ(infer_op("Add", {Dims{U, 4}, Dims{3, U}}), "f32[3,4]");
}

TEST(InferShapesBroadcast, ElementTypes) {
  Builder b;
  const ValueId x = b.input(F32, Dims{2, 3}), y = b.input(F32, Dims{3});
  const ValueId c = b.input(ElementType::Bool, Dims{2, 1});
  const ValueId less = b.op("Less", {x, y}), where = b.op("Where", {c, x, y});
  const ValueId pow = b.op("Pow", {x, b.scalar(2)});
  infer_shapes(b.g);
  EXPECT_EQ(b.type(less), "bool[2,3]");
  EXPECT_EQ(b.type(where), "f32[2,3]");
  EXPECT_EQ(b.type(pow), "f32[2,3]");
}

TEST(InferShapesBroadcast, MismatchNamesNodeTensorsAndDims) {
  const std::string e = error_op("Add", {Dims{2, 3}, Dims{4}});
  EXPECT_THAT(e, HasSubstr("node 'n' (Add)"));
  EXPECT_THAT(e, HasSubstr("cannot broadcast 'x' [2,3] with 'x_1' [4]"));
  EXPECT_THAT(error_op("Add", {Dims{2, 3}, Dims{U, 2}}), HasSubstr("[2,3] with 'x_1' [?,2]"));
  Builder b;
  b.node("Add", {b.input(F32, Dims{2}), b.input(I64, Dims{2})}, {}, 1, "n");
  EXPECT_THAT(b.error(), HasSubstr("must have the same element type"));
}

TEST(InferShapesBroadcast, LegacyOpsetBroadcastsToTheFirstOperand) {
  EXPECT_EQ(infer_op("Add", {Dims{2, 3, 4}, Dims{3}},
                     {{"broadcast", int64_t{1}}, {"axis", int64_t{1}}}, 6),
            "f32[2,3,4]");
}

TEST(InferShapesMatMul, VectorsAndBatches) {
  EXPECT_EQ(infer_op("MatMul", {Dims{3}, Dims{3}}), "f32[]");
  EXPECT_EQ(infer_op("MatMul", {Dims{2, 3}, Dims{3}}), "f32[2]");
  EXPECT_EQ(infer_op("MatMul", {Dims{3}, Dims{3, 4}}), "f32[4]");
  EXPECT_EQ(infer_op("MatMul", {Dims{3}, Dims{5, 3, 4}}), "f32[5,4]");
  EXPECT_EQ(infer_op("MatMul", {Dims{5, 1, 2, 3}, Dims{4, 3, 6}}), "f32[5,4,2,6]");
  EXPECT_EQ(infer_op("MatMul", {Dims{U, 2, 3}, Dims{3, U}}), "f32[?,2,?]");
}

TEST(InferShapesMatMul, InnerDimMismatch) {
  const std::string e = error_op("MatMul", {Dims{2, 3}, Dims{4, 5}});
  EXPECT_THAT(e, HasSubstr("node 'n' (MatMul): inner dims 3 vs 4"));
  EXPECT_THAT(e, HasSubstr("'x' f32[2,3] times 'x_1' f32[4,5]"));
  EXPECT_THAT(error_op("MatMul", {Dims{2, 2, 3}, Dims{3, 3, 4}}), HasSubstr("cannot broadcast"));
  EXPECT_THAT(error_op("MatMul", {Dims{}, Dims{3}}), HasSubstr("rank >= 1"));
}

TEST(InferShapesMatMul, IntegerAndGemm) {
  Builder b;
  const ValueId a = b.input(ElementType::U8, Dims{2, 3}), w = b.input(ElementType::U8, Dims{3, 5});
  EXPECT_EQ(b.infer(b.op("MatMulInteger", {a, w})), "i32[2,5]");
  EXPECT_EQ(infer_op("Gemm", {Dims{3, 2}, Dims{4, 3}, Dims{4}},
                     {{"transA", int64_t{1}}, {"transB", int64_t{1}}}),
            "f32[2,4]");
  EXPECT_EQ(infer_op("Gemm", {Dims{2, 3}, Dims{3, 4}}), "f32[2,4]");
  EXPECT_THAT(error_op("Gemm", {Dims{2, 3}, Dims{3, 4}}, {{"transB", int64_t{1}}}),
              HasSubstr("inner dims 3 vs 4"));
}

TEST(InferShapesEinsum, ExplicitImplicitAndEllipsis) {
  const auto eq = [](const char* e) { return Attrs{{"equation", std::string(e)}}; };
  EXPECT_EQ(infer_op("Einsum", {Dims{2, 3}, Dims{3, 4}}, eq("ij,jk->ik")), "f32[2,4]");
  EXPECT_EQ(infer_op("Einsum", {Dims{2, 3}, Dims{3, 4}}, eq("ij,jk")), "f32[2,4]");
  EXPECT_EQ(infer_op("Einsum", {Dims{5, 2, 3}, Dims{5, 3, 4}}, eq("bij, bjk -> bik")),
            "f32[5,2,4]");
  EXPECT_EQ(infer_op("Einsum", {Dims{3, 3}}, eq("ii->i")), "f32[3]");
  EXPECT_EQ(infer_op("Einsum", {Dims{3, 3}}, eq("ii")), "f32[]");
  EXPECT_EQ(infer_op("Einsum", {Dims{2, 3}}, eq("ij->ji")), "f32[3,2]");
  EXPECT_EQ(infer_op("Einsum", {Dims{7, 1, 2, 3}, Dims{4, 3, 5}}, eq("...ij,...jk->...ik")),
            "f32[7,4,2,5]");
  EXPECT_EQ(infer_op("Einsum", {Dims{7, 2, 3}}, eq("...ij")), "f32[7,2,3]");
  EXPECT_EQ(infer_op("Einsum", {Dims{2, 3}, Dims{3}}, eq("ij,j")), "f32[2]");
  EXPECT_THAT(error_op("Einsum", {Dims{2, 3}, Dims{4, 5}}, eq("ij,jk->ik")),
              HasSubstr("'j' is 3 in one place and 4"));
  EXPECT_THAT(error_op("Einsum", {Dims{2, 3}}, eq("ijk->i")), HasSubstr("does not have the rank"));
  EXPECT_THAT(error_op("Einsum", {Dims{2, 3}}, eq("ij->iz")), HasSubstr("'z' is in no operand"));
}

TEST(InferShapesConv, PadsStridesDilations) {
  const Dims x{1, 3, 32, 32}, w{8, 3, 3, 3};
  EXPECT_EQ(infer_op("Conv", {x, w}), "f32[1,8,30,30]");
  EXPECT_EQ(infer_op("Conv", {x, w}, {{"pads", Dims{1, 1, 1, 1}}, {"strides", Dims{2, 2}}}),
            "f32[1,8,16,16]");
  EXPECT_EQ(infer_op("Conv", {x, w}, {{"dilations", Dims{2, 3}}}), "f32[1,8,28,26]");
  EXPECT_EQ(infer_op("Conv", {x, w}, {{"pads", Dims{0, 1, 2, 3}}}), "f32[1,8,32,34]");
  EXPECT_EQ(infer_op("Conv", {Dims{U, 3, U, 32}, w}), "f32[?,8,?,30]");
}

TEST(InferShapesConv, AutoPad) {
  const Dims x{1, 3, 31, 31}, w{8, 3, 3, 3};
  const Attrs stride2{{"strides", Dims{2, 2}}};
  for (const char* mode : {"SAME_UPPER", "SAME_LOWER"}) {
    Attrs a = stride2;
    a["auto_pad"] = std::string(mode);
    EXPECT_EQ(infer_op("Conv", {x, w}, a), "f32[1,8,16,16]") << mode;
  }
  Attrs valid = stride2;
  valid["auto_pad"] = std::string("VALID");
  EXPECT_EQ(infer_op("Conv", {x, w}, valid), "f32[1,8,15,15]");
  EXPECT_THAT(error_op("Conv", {x, w}, {{"auto_pad", std::string("SOMETIMES")}}),
              HasSubstr("auto_pad"));
}

TEST(InferShapesConv, GroupsAndChannelChecks) {
  EXPECT_EQ(infer_op("Conv", {Dims{1, 4, 10, 10}, Dims{8, 2, 3, 3}}, {{"group", int64_t{2}}}),
            "f32[1,8,8,8]");
  EXPECT_EQ(infer_op("Conv", {Dims{1, 4, 10}, Dims{4, 1, 3}}, {{"group", int64_t{4}}}),
            "f32[1,4,8]");
  const std::string e = error_op("Conv", {Dims{1, 3, 10, 10}, Dims{8, 4, 3, 3}});
  EXPECT_THAT(e, HasSubstr("node 'n' (Conv): input 'x' f32[1,3,10,10] has 3 channels"));
  EXPECT_THAT(e, HasSubstr("take 4 x group 1"));
  EXPECT_THAT(error_op("Conv", {Dims{1, 3, 2, 2}, Dims{8, 3, 3, 3}}),
              HasSubstr("smaller than the kernel"));
  EXPECT_THAT(error_op("Conv", {Dims{1, 3, 8, 8}, Dims{8, 3, 3, 3}}, {{"strides", Dims{1}}}),
              HasSubstr("attribute 'strides' has 1 values; expected 2"));
}

TEST(InferShapesConv, Transpose) {
  const Dims x{1, 1, 3, 3}, w{1, 2, 3, 3};
  EXPECT_EQ(infer_op("ConvTranspose", {x, w}), "f32[1,2,5,5]");
  EXPECT_EQ(
      infer_op("ConvTranspose", {x, w}, {{"strides", Dims{3, 2}}, {"output_padding", Dims{1, 1}}}),
      "f32[1,2,10,8]");
  EXPECT_EQ(
      infer_op("ConvTranspose", {x, w}, {{"strides", Dims{3, 2}}, {"pads", Dims{1, 2, 1, 2}}}),
      "f32[1,2,7,3]");
  EXPECT_EQ(infer_op("ConvTranspose", {x, w}, {{"output_shape", Dims{10, 8}}}), "f32[1,2,10,8]");
  EXPECT_EQ(infer_op("ConvTranspose", {x, w},
                     {{"strides", Dims{2, 2}}, {"auto_pad", std::string("SAME_UPPER")}}),
            "f32[1,2,6,6]");
  EXPECT_EQ(infer_op("ConvTranspose", {Dims{1, 4, 3}, Dims{4, 3, 2}}, {{"group", int64_t{2}}}),
            "f32[1,6,4]");
}

TEST(InferShapesPool, CeilModeAndIndices) {
  const Dims x{1, 1, 5, 5};
  const Attrs k2s2{{"kernel_shape", Dims{2, 2}}, {"strides", Dims{2, 2}}};
  EXPECT_EQ(infer_op("MaxPool", {x}, k2s2), "f32[1,1,2,2]");
  Attrs ceil = k2s2;
  ceil["ceil_mode"] = int64_t{1};
  EXPECT_EQ(infer_op("AveragePool", {x}, ceil), "f32[1,1,3,3]");
  // With padding, a last window that would start in the end padding is dropped.
  ceil["pads"] = Dims{1, 1, 1, 1};
  EXPECT_EQ(infer_op("MaxPool", {x}, ceil), "f32[1,1,3,3]");
  Builder b;
  const auto outs =
      b.node("MaxPool", {b.input(F32, Dims{2, 3, 8, 8})},
             {{"kernel_shape", Dims{3, 3}}, {"auto_pad", std::string("SAME_UPPER")}}, 2);
  infer_shapes(b.g);
  EXPECT_EQ(b.type(outs[0]), "f32[2,3,8,8]");
  EXPECT_EQ(b.type(outs[1]), "i64[2,3,8,8]");
  EXPECT_EQ(infer_op("GlobalAveragePool", {Dims{2, 3, 8, 9}}), "f32[2,3,1,1]");
  EXPECT_EQ(infer_op("LpPool", {Dims{1, 2, 9}}, {{"kernel_shape", Dims{3}}, {"strides", Dims{3}}}),
            "f32[1,2,3]");
  EXPECT_THAT(error_op("MaxPool", {x}), HasSubstr("has no 'kernel_shape' attribute"));
}

TEST(InferShapesNormalization, OutputsBeyondTheFirst) {
  Builder b;
  const ValueId x = b.input(F32, Dims{2, 3, 4, 5});
  const ValueId c = b.input(F32, Dims{3});
  const auto bn = b.node("BatchNormalization", {x, c, c, c, c}, {{"training_mode", int64_t{1}}}, 3);
  const auto ln =
      b.node("LayerNormalization", {x, b.input(F32, Dims{4, 5})}, {{"axis", int64_t{2}}}, 3);
  const auto drop = b.node("Dropout", {x}, {}, 2);
  infer_shapes(b.g);
  EXPECT_EQ(b.type(bn[0]), "f32[2,3,4,5]");
  EXPECT_EQ(b.type(bn[2]), "f32[3]");
  EXPECT_EQ(b.type(ln[0]), "f32[2,3,4,5]");
  EXPECT_EQ(b.type(ln[1]), "f32[2,3,1,1]");
  EXPECT_EQ(b.type(drop[1]), "bool[2,3,4,5]");
  EXPECT_EQ(infer_op("Softmax", {Dims{2, 3}}, {{"axis", int64_t{1}}}), "f32[2,3]");
  EXPECT_THAT(error_op("Softmax", {Dims{2, 3}}, {{"axis", int64_t{2}}}),
              HasSubstr("node 'n' (Softmax): axis 2 is out of range for rank 2"));
}

TEST(InferShapesReduce, KeepdimsAndAxesForms) {
  const Dims x{2, 3, 4};
  EXPECT_EQ(infer_op("ReduceMean", {x}, {{"axes", Dims{1}}}, 11), "f32[2,1,4]");
  EXPECT_EQ(infer_op("ReduceMax", {x}, {{"axes", Dims{-1, 0}}, {"keepdims", int64_t{0}}}, 11),
            "f32[3]");
  EXPECT_EQ(infer_op("ReduceL2", {x}, {{"keepdims", int64_t{0}}}), "f32[]");
  EXPECT_EQ(infer_op("ReduceProd", {x}), "f32[1,1,1]");
  Builder b(13);
  const ValueId in = b.input(F32, x);
  const ValueId sum = b.op("ReduceSum", {in, b.ints({1})}, {{"keepdims", int64_t{0}}});
  const ValueId noop = b.op("ReduceSum", {in, b.ints({})}, {{"noop_with_empty_axes", int64_t{1}}});
  const ValueId all = b.op("ReduceSum", {in});
  const ValueId dyn = b.op("ReduceSum", {in, b.input(I64, Dims{1})});
  const ValueId arg = b.op("ArgMax", {in}, {{"axis", int64_t{-1}}, {"keepdims", int64_t{0}}});
  infer_shapes(b.g);
  EXPECT_EQ(b.type(sum), "f32[2,4]");
  EXPECT_EQ(b.type(noop), "f32[2,3,4]");
  EXPECT_EQ(b.type(all), "f32[1,1,1]");
  EXPECT_EQ(b.type(dyn), "f32[?,?,?]");
  EXPECT_EQ(b.type(arg), "i64[2,3]");
  EXPECT_THAT(error_op("ReduceSum", {x}, {{"axes", Dims{3}}}),
              HasSubstr("reduction axis 3 is out of range for rank 3"));
}

TEST(InferShapesReshape, ZeroMinusOneAndAllowzero) {
  const auto reshape = [](Dims in, Dims shape, int64_t allowzero = 0) {
    Builder b;
    return b.infer(b.op("Reshape", {b.input(F32, in), b.ints(shape)}, {{"allowzero", allowzero}}));
  };
  EXPECT_EQ(reshape({2, 3, 4}, {0, -1}), "f32[2,12]");
  EXPECT_EQ(reshape({2, 3, 4}, {-1, 4}), "f32[6,4]");
  EXPECT_EQ(reshape({2, 3, 4}, {4, 0, 2}), "f32[4,3,2]");
  EXPECT_EQ(reshape({0, 3}, {3, 0}, 1), "f32[3,0]");
  EXPECT_EQ(reshape({0, 3}, {3, -1}), "f32[3,0]");
  EXPECT_EQ(reshape({U, 3, 4}, {0, 12}), "f32[?,12]");
  EXPECT_EQ(reshape({U, 3, 4}, {-1, 12}), "f32[?,12]");
  EXPECT_EQ(reshape({U, 3, 4}, {0, -1}), "f32[?,12]");
  EXPECT_EQ(reshape({U, 3, 4}, {0, 2, -1}), "f32[?,2,6]");
  Builder b;
  b.node("Reshape", {b.input(F32, Dims{2, 3}), b.ints({-1, -1})}, {}, 1, "r");
  EXPECT_THAT(b.error(), HasSubstr("node 'r' (Reshape): shape [-1,-1] has more than one -1"));
  Builder c;
  c.node("Reshape", {c.input(F32, Dims{2, 3}), c.ints({4, -1})}, {}, 1, "r");
  EXPECT_THAT(c.error(), HasSubstr("cannot reshape 'x' f32[2,3] (6 elements) to [4,-1]"));
  Builder d;
  d.node("Reshape", {d.input(F32, Dims{2, 3}), d.ints({0, -1})}, {{"allowzero", int64_t{1}}}, 1);
  EXPECT_THAT(d.error(), HasSubstr("both 0 and -1"));
  Builder f;
  f.node("Reshape", {f.input(F32, Dims{U, 3, 4}), f.ints({0, 5})}, {}, 1);
  EXPECT_THAT(f.error(), HasSubstr("cannot reshape 'x' f32[?,3,4] to [?,5]"));
  // The attribute form of opset 1-4; a shape computed at run time gives the rank.
  EXPECT_EQ(infer_op("Reshape", {Dims{2, 3}}, {{"shape", Dims{3, 2}}}, 4), "f32[3,2]");
  Builder e;
  EXPECT_EQ(e.infer(e.op("Reshape", {e.input(F32, Dims{6}), e.input(I64, Dims{3})})), "f32[?,?,?]");
}

TEST(InferShapesReshape, FollowsShapeArithmetic) {
  // Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) flattens x [?,3,4] to [?,12].
  Builder b;
  const ValueId x = b.input(F32, Dims{U, 3, 4});
  const ValueId shape = b.op("Shape", {x});
  const ValueId batch = b.op("Gather", {shape, b.scalar(0)});
  const ValueId rest = b.op("Slice", {shape, b.ints({1}), b.ints({3})});
  const ValueId prod =
      b.op("Mul", {b.op("Gather", {rest, b.scalar(0)}), b.op("Gather", {rest, b.scalar(1)})});
  const ValueId target = b.op(
      "Concat", {b.op("Unsqueeze", {batch, b.ints({0})}), b.op("Unsqueeze", {prod, b.ints({0})})},
      {{"axis", int64_t{0}}});
  const ValueId y = b.op("Reshape", {x, target});
  const ValueId tail =
      b.op("Reshape", {x, b.op("Concat", {b.ints({-1}), rest}, {{"axis", int64_t{0}}})});
  infer_shapes(b.g);
  EXPECT_EQ(b.type(shape), "i64[3]");
  EXPECT_EQ(b.type(batch), "i64[]");
  EXPECT_EQ(b.type(target), "i64[2]");
  EXPECT_EQ(b.type(y), "f32[?,12]");
  EXPECT_EQ(b.type(tail), "f32[?,3,4]");
}

TEST(InferShapesShapeOps, FlattenTransposeConcatGather) {
  EXPECT_EQ(infer_op("Flatten", {Dims{2, 3, 4}}), "f32[2,12]");
  EXPECT_EQ(infer_op("Flatten", {Dims{2, 3, 4}}, {{"axis", int64_t{0}}}), "f32[1,24]");
  EXPECT_EQ(infer_op("Flatten", {Dims{2, U, 4}}, {{"axis", int64_t{-1}}}), "f32[?,4]");
  EXPECT_EQ(infer_op("Transpose", {Dims{2, 3, 4}}), "f32[4,3,2]");
  EXPECT_EQ(infer_op("Transpose", {Dims{2, 3, 4}}, {{"perm", Dims{1, 0, 2}}}), "f32[3,2,4]");
  EXPECT_THAT(error_op("Transpose", {Dims{2, 3}}, {{"perm", Dims{0, 0}}}),
              HasSubstr("not a permutation"));
  EXPECT_EQ(infer_op("Concat", {Dims{2, 3}, Dims{2, 5}, Dims{U, U}}, {{"axis", int64_t{-1}}}),
            "f32[2,?]");
  EXPECT_EQ(infer_op("Concat", {Dims{2, 3}, Dims{4, 3}}, {{"axis", int64_t{0}}}), "f32[6,3]");
  EXPECT_THAT(error_op("Concat", {Dims{2, 3}, Dims{4, 5}}, {{"axis", int64_t{0}}}),
              HasSubstr("differ in dim 1, which is not the concat axis"));
  Builder b;
  const ValueId data = b.input(F32, Dims{5, 6, 7});
  const ValueId idx = b.input(I64, Dims{2, 3});
  const ValueId g = b.op("Gather", {data, idx}, {{"axis", int64_t{1}}});
  const ValueId ge = b.op("GatherElements", {data, b.input(I64, Dims{5, 1, 7})});
  const ValueId nd = b.op("GatherND", {data, b.input(I64, Dims{4, 2})});
  infer_shapes(b.g);
  EXPECT_EQ(b.type(g), "f32[5,2,3,7]");
  EXPECT_EQ(b.type(ge), "f32[5,1,7]");
  EXPECT_EQ(b.type(nd), "f32[4,7]");
}

TEST(InferShapesSlice, NegativeStepsAndClamping) {
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  const auto slice = [](Dims starts, Dims ends, Dims axes, Dims steps) {
    Builder b;
    return b.infer(b.op("Slice", {b.input(F32, Dims{10, 20}), b.ints(starts), b.ints(ends),
                                  b.ints(axes), b.ints(steps)}));
  };
  EXPECT_EQ(slice({-1}, {kMin}, {1}, {-1}), "f32[10,20]");
  EXPECT_EQ(slice({8}, {1}, {0}, {-3}), "f32[3,20]");
  EXPECT_EQ(slice({kMax}, {0}, {0}, {kMin}), "f32[1,20]");
  EXPECT_EQ(slice({0, 5}, {kMax, -2}, {0, 1}, {4, 1}), "f32[3,13]");
  EXPECT_EQ(slice({100}, {200}, {-1}, {1}), "f32[10,0]");
  EXPECT_EQ(slice({-100}, {3}, {0}, {1}), "f32[3,20]");
  Builder b;
  b.node("Slice", {b.input(F32, Dims{4}), b.ints({0}), b.ints({4}), b.ints({0}), b.ints({0})}, {},
         1, "s");
  EXPECT_THAT(b.error(), HasSubstr("node 's' (Slice): step 0 on axis 0"));
  // Opset 9's attributes; run-time starts leave the sliced axes unknown.
  EXPECT_EQ(infer_op("Slice", {Dims{5, 6}},
                     {{"starts", Dims{1}}, {"ends", Dims{-1}}, {"axes", Dims{1}}}, 9),
            "f32[5,4]");
  Builder c;
  const ValueId x = c.input(F32, Dims{5, 6});
  EXPECT_EQ(c.infer(c.op("Slice", {x, c.input(I64, Dims{1}), c.ints({3}), c.ints({1})})),
            "f32[5,?]");
}

TEST(InferShapesSplit, InputAttributeAndEqualForms) {
  Builder b(13);
  const ValueId x = b.input(F32, Dims{6, 3});
  const auto parts = b.node("Split", {x, b.ints({2, 4})}, {}, 2);
  const auto equal = b.node("Split", {x}, {{"axis", int64_t{1}}}, 3);
  infer_shapes(b.g);
  EXPECT_EQ(b.type(parts[0]), "f32[2,3]");
  EXPECT_EQ(b.type(parts[1]), "f32[4,3]");
  EXPECT_EQ(b.type(equal[2]), "f32[6,1]");
  Builder old(11);
  const auto attr = old.node("Split", {old.input(F32, Dims{6, 3})}, {{"split", Dims{1, 5}}}, 2);
  infer_shapes(old.g);
  EXPECT_EQ(old.type(attr[1]), "f32[5,3]");
  Builder v18(18);
  const auto uneven =
      v18.node("Split", {v18.input(F32, Dims{7})}, {{"num_outputs", int64_t{3}}}, 3);
  infer_shapes(v18.g);
  EXPECT_EQ(v18.type(uneven[0]), "f32[3]");
  EXPECT_EQ(v18.type(uneven[2]), "f32[1]");
  Builder bad(13);
  bad.node("Split", {bad.input(F32, Dims{6}), bad.ints({2, 3})}, {}, 2, "sp");
  EXPECT_THAT(bad.error(), HasSubstr("node 'sp' (Split): split [2,3] adds up to 5 but dim 0 of "
                                     "'x' f32[6] is 6"));
  Builder odd(13);
  odd.node("Split", {odd.input(F32, Dims{7})}, {}, 2);
  EXPECT_THAT(odd.error(), HasSubstr("does not split into 2 equal parts"));
}

TEST(InferShapesSqueeze, AttributeAndInputForms) {
  EXPECT_EQ(infer_op("Squeeze", {Dims{1, 3, 1, 2}}, {{"axes", Dims{0, -2}}}, 11), "f32[3,2]");
  EXPECT_EQ(infer_op("Squeeze", {Dims{1, 3, 1, 2}}, {}, 11), "f32[3,2]");
  EXPECT_EQ(infer_op("Squeeze", {Dims{1, U}}, {}, 11), "f32[*]");
  EXPECT_EQ(infer_op("Unsqueeze", {Dims{3, 4}}, {{"axes", Dims{0, -1}}}, 11), "f32[1,3,4,1]");
  Builder b(13);
  const ValueId x = b.input(F32, Dims{1, 3, U});
  const ValueId sq = b.op("Squeeze", {x, b.ints({0, 2})});
  const ValueId un = b.op("Unsqueeze", {x, b.ints({1, 4})});
  infer_shapes(b.g);
  EXPECT_EQ(b.type(sq), "f32[3]");
  EXPECT_EQ(b.type(un), "f32[1,1,3,?,1]");
  Builder c(13);
  c.node("Squeeze", {c.input(F32, Dims{2, 3}), c.ints({1})}, {}, 1, "sq");
  EXPECT_THAT(c.error(), HasSubstr("node 'sq' (Squeeze): cannot squeeze axis 1 of 'x' f32[2,3]: "
                                   "its size is 3"));
  Builder d(13);
  d.node("Unsqueeze", {d.input(F32, Dims{2}), d.ints({0, 0})}, {}, 1);
  EXPECT_THAT(d.error(), HasSubstr("axis 0 is given twice"));
}

TEST(InferShapesShapeOps, ExpandTilePadShapeSize) {
  Builder b;
  const ValueId x = b.input(F32, Dims{3, 1});
  const ValueId ex = b.op("Expand", {x, b.ints({2, 1, 4})});
  const ValueId tile = b.op("Tile", {x, b.ints({2, 5})});
  const ValueId pad = b.op("Pad", {x, b.ints({1, 0, 2, 3})});
  const ValueId shape = b.op("Shape", {b.input(F32, Dims{2, U, 4, 5})}, {{"start", int64_t{-3}}});
  const ValueId size = b.op("Size", {x});
  const ValueId fill = b.op("ConstantOfShape", {b.ints({2, 3})});
  infer_shapes(b.g);
  EXPECT_EQ(b.type(ex), "f32[2,3,4]");
  EXPECT_EQ(b.type(tile), "f32[6,5]");
  EXPECT_EQ(b.type(pad), "f32[6,4]");
  EXPECT_EQ(b.type(shape), "i64[3]");
  EXPECT_EQ(b.type(size), "i64[]");
  EXPECT_EQ(b.type(fill), "f32[2,3]");
  EXPECT_EQ(infer_op("Pad", {Dims{3, 4}}, {{"pads", Dims{1, 1, 1, 1}}}, 2), "f32[5,6]");
  Builder c;
  c.node("Expand", {c.input(F32, Dims{3}), c.ints({4})}, {}, 1, "e");
  EXPECT_THAT(c.error(), HasSubstr("node 'e' (Expand): cannot broadcast 'x' [3] with shape [4]"));
}

TEST(InferShapesShapeOps, ConstantNodesAndConstantConditions) {
  Builder b;
  const ValueId x = b.input(F32, Dims{4, 6});
  const ValueId shape = b.op("Constant", {}, {{"value_ints", Dims{3, -1}}});
  const ValueId reshaped = b.op("Reshape", {x, shape});
  auto flags = std::make_shared<ir::HostTensor>();
  flags->element = ElementType::Bool;
  flags->dims = {5};
  flags->bytes = {1, 0, 1, 1, 1};  // the fifth entry is past the axis and selects nothing
  const ValueId condition = b.g.add_value("condition", flags->type(), flags);
  const ValueId kept = b.op("Compress", {x, condition}, {{"axis", int64_t{0}}});
  const ValueId flat = b.op("Compress", {x, b.input(ElementType::Bool, Dims{U})});
  infer_shapes(b.g);
  EXPECT_EQ(b.type(shape), "i64[2]");
  EXPECT_EQ(b.type(reshaped), "f32[3,8]");
  EXPECT_EQ(b.type(kept), "f32[3,6]");
  EXPECT_EQ(b.type(flat), "f32[?]");
}

TEST(InferShapesShapeOps, DimProductsMustNotOverflow) {
  Builder b;
  b.node("Tile", {b.input(F32, Dims{int64_t{1} << 40}), b.ints({int64_t{1} << 40})}, {}, 1, "t");
  EXPECT_THAT(b.error(), HasSubstr("node 't' (Tile): dims multiply beyond 2^63"));
  EXPECT_THAT(
      error_op("Flatten", {Dims{int64_t{1} << 40, int64_t{1} << 40, 1}}, {{"axis", int64_t{2}}}),
      HasSubstr("dims multiply beyond 2^63"));
}

TEST(InferShapesMisc, TopKCastRangeOneHotAndMore) {
  Builder b;
  const ValueId x = b.input(F32, Dims{3, 4});
  const auto topk = b.node("TopK", {x, b.ints({2})}, {{"axis", int64_t{1}}}, 2);
  const ValueId cast = b.op("Cast", {x}, {{"to", int64_t{10}}});
  const ValueId like = b.op("CastLike", {x, b.input(ElementType::I8, Dims{1})});
  const ValueId range = b.op("Range", {b.scalar(1), b.scalar(10), b.scalar(3)});
  const ValueId onehot =
      b.op("OneHot", {b.input(I64, Dims{2, 3}), b.scalar(5), b.input(F32, Dims{2})},
           {{"axis", int64_t{1}}});
  const ValueId nz = b.op("NonZero", {x});
  const ValueId d2s =
      b.op("DepthToSpace", {b.input(F32, Dims{1, 8, 2, 3})}, {{"blocksize", int64_t{2}}});
  const ValueId det = b.op("Det", {b.input(F32, Dims{5, 3, 3})});
  infer_shapes(b.g);
  EXPECT_EQ(b.type(topk[0]), "f32[3,2]");
  EXPECT_EQ(b.type(topk[1]), "i64[3,2]");
  EXPECT_EQ(b.type(cast), "f16[3,4]");
  EXPECT_EQ(b.type(like), "i8[3,4]");
  EXPECT_EQ(b.type(range), "i64[3]");
  EXPECT_EQ(b.type(onehot), "f32[2,5,3]");
  EXPECT_EQ(b.type(nz), "i64[2,?]");
  EXPECT_EQ(b.type(d2s), "f32[1,2,4,6]");
  EXPECT_EQ(b.type(det), "f32[5]");
  EXPECT_EQ(infer_op("TopK", {Dims{3, 4}}, {{"k", int64_t{3}}}, 9), "f32[3,3]");
  Builder big;
  big.node("TopK", {big.input(F32, Dims{3, 4}), big.ints({5})}, {}, 2, "k");
  EXPECT_THAT(big.error(), HasSubstr("node 'k' (TopK): k 5 is not within axis 1"));
  EXPECT_THAT(error_op("Cast", {Dims{2}}, {{"to", int64_t{0}}}),
              HasSubstr("attribute 'to' is 0, which is not an ONNX data type"));
  for (const auto& [code, name] : std::vector<std::pair<int64_t, std::string>>{
           {1, "f32"}, {2, "u8"}, {7, "i64"}, {9, "bool"}, {11, "f64"}, {16, "bf16"}}) {
    EXPECT_EQ(infer_op("Cast", {Dims{2}}, {{"to", code}}), name + "[2]");
  }
}

TEST(InferShapesMisc, ResizeByScalesAndSizes) {
  Builder b(13);
  const ValueId x = b.input(F32, Dims{1, 3, 4, 5});
  auto scales = std::make_shared<ir::HostTensor>();
  scales->element = F32;
  scales->dims = {4};
  for (float f : {1.0f, 1.0f, 2.0f, 0.5f}) {
    uint32_t bits = 0;
    std::memcpy(&bits, &f, 4);
    for (int i = 0; i < 4; ++i) scales->bytes.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  }
  const ValueId s = b.g.add_value("scales", scales->type(), scales);
  const ValueId by_scale = b.op("Resize", {x, ir::kNoValue, s});
  const ValueId by_size = b.op("Resize", {x, ir::kNoValue, ir::kNoValue, b.ints({1, 3, 7, 9})});
  infer_shapes(b.g);
  EXPECT_EQ(b.type(by_scale), "f32[1,3,8,2]");
  EXPECT_EQ(b.type(by_size), "f32[1,3,7,9]");
}

TEST(InferShapesRefine, DeclaredTypesAreRefinedNotOverwritten) {
  Builder b;
  const ValueId y = b.op("MatMul", {b.input(F32, Dims{U, 3}), b.input(F32, Dims{3, U})});
  b.g.value(y).type = {ElementType::Undefined, Dims{2, U}};
  const ValueId z = b.op("FancyOp", {y});
  b.g.value(z).type = {F32, Dims{7}};
  infer_shapes(b.g);
  EXPECT_EQ(b.type(y), "f32[2,?]");
  EXPECT_EQ(b.type(z), "f32[7]");
}

TEST(InferShapesRefine, ContradictionsNameNodeTensorAndDims) {
  Builder b;
  const ValueId y =
      b.node("MatMul", {b.input(F32, Dims{2, 3}), b.input(F32, Dims{3, 4})}, {}, 1, "mm")[0];
  b.g.value(y).name = "y";
  b.g.reindex();
  b.g.value(y).type = {F32, Dims{2, 3}};
  EXPECT_THAT(b.error(), HasSubstr("node 'mm' (MatMul): output 'y' is declared f32[2,3] but the "
                                   "inputs give f32[2,4]"));
  Builder c;
  const ValueId r = c.op("Relu", {c.input(F32, Dims{2})});
  c.g.value(r).type = {I64, std::nullopt};
  EXPECT_THAT(c.error(), HasSubstr("node #0 (Relu): output 'y' is declared i64[*] but the inputs "
                                   "give f32[2]"));
  Builder d;
  const ValueId t = d.op("Transpose", {d.input(F32, Dims{2, 3})});
  d.g.value(t).type = {F32, Dims{3, 2, 1}};
  EXPECT_THAT(d.error(), HasSubstr("is declared f32[3,2,1] but the inputs give f32[3,2]"));
}

TEST(InferShapesRefine, UnknownOpsAndDomainsAreLeftAlone) {
  Builder b;
  const ValueId x = b.input(F32, Dims{2});
  const ValueId u = b.op("NoSuchOp", {x});
  ir::Node custom{"Relu", "com.example", "", {x}, {b.g.add_value("custom", {})}, {}};
  b.g.nodes.push_back(custom);
  const ValueId after = b.op("Relu", {u});
  infer_shapes(b.g);
  EXPECT_EQ(b.type(u), "undefined[*]");
  EXPECT_EQ(b.type(custom.outputs[0]), "undefined[*]");
  EXPECT_EQ(b.type(after), "undefined[*]");
  EXPECT_FALSE(shape_inference_ops().empty());
  EXPECT_TRUE(std::is_sorted(shape_inference_ops().begin(), shape_inference_ops().end()));
  for (const char* op : {"Conv", "Einsum", "Reshape", "Resize", "TopK"})
    EXPECT_NE(std::find(shape_inference_ops().begin(), shape_inference_ops().end(), op),
              shape_inference_ops().end())
        << op;
}

TEST(InferShapesRefine, GraphInputDefaultsAreNotConstants) {
  // An initializer listed as a graph input may be overridden, so its value cannot shape the output.
  Builder b;
  const ValueId shape = b.ints({3, 2});
  b.g.inputs.push_back(shape);
  EXPECT_EQ(b.infer(b.op("Reshape", {b.input(F32, Dims{2, 3}), shape})), "f32[?,?]");
}

TEST(InferShapesText, TextInTextOut) {
  ir::Graph g = ir::parse(R"(graph "t" opset ""=13 {
    input %x: f32[?,3,8,8]
    input %w: f32[4,3,3,3]
    const %shape: i64[2] = [0, -1]
    %c = Conv(%x, %w) {pads = [1, 1, 1, 1]}
    %r = Relu(%c)
    %f = Reshape(%r, %shape)
    output %f
  })");
  infer_shapes(g);
  EXPECT_EQ(ir::print(g), R"(graph "t" opset ""=13 {
  input %x: f32[?,3,8,8]
  input %w: f32[4,3,3,3]
  const %shape: i64[2] = [0, -1]
  %c: f32[?,4,8,8] = Conv(%x, %w) {pads = [1, 1, 1, 1]}
  %r: f32[?,4,8,8] = Relu(%c)
  %f: f32[?,256] = Reshape(%r, %shape)
  output %f
}
)");
}

}  // namespace
}  // namespace seedchip::compiler::passes
