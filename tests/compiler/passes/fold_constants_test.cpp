#include "compiler/passes/fold_constants.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "arch/error.h"
#include "compiler/ir/text.h"
#include "compiler/passes/host_eval.h"
#include "compiler/passes/pass.h"
#include "tests/input_error.h"

namespace seedchip::compiler::passes {
namespace {

using ir::ElementType;
using ir::HostTensor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Dims = std::vector<int64_t>;

template <class T>
constexpr ElementType element_of() {
  if constexpr (std::is_same_v<T, int64_t>) return ElementType::I64;
  if constexpr (std::is_same_v<T, int32_t>) return ElementType::I32;
  if constexpr (std::is_same_v<T, float>) return ElementType::F32;
  if constexpr (std::is_same_v<T, double>) return ElementType::F64;
  if constexpr (std::is_same_v<T, uint16_t>) return ElementType::F16;  // raw bits
}

template <class T>
HostTensor tensor(Dims dims, const std::vector<T>& values, ElementType element = element_of<T>()) {
  return host_tensor(element, std::move(dims), values);
}
HostTensor i64(Dims dims, const std::vector<int64_t>& v) { return tensor(std::move(dims), v); }
HostTensor f32(Dims dims, const std::vector<float>& v) { return tensor(std::move(dims), v); }
HostTensor boolean(Dims dims, const std::vector<uint8_t>& v) {
  return tensor(std::move(dims), v, ElementType::Bool);
}

template <class T>
std::vector<T> values(const HostTensor& t) {
  std::vector<T> out(t.bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), t.bytes.data(), t.bytes.size());
  return out;
}

using Attributes = std::map<std::string, ir::AttributeValue>;

struct Call {
  std::string op;
  std::vector<const HostTensor*> inputs;
  Attributes attributes = {};
  int64_t opset = 13;
  size_t outputs = 1;
};

// Evaluates one node named "n" of a graph importing `opset`.
std::optional<std::vector<HostTensor>> evaluate(const Call& call) {
  ir::Graph g;
  g.name = "host";
  g.opset[""] = call.opset;
  ir::Node node{call.op, "", "n", {}, {}, call.attributes};
  for (size_t i = 0; i < call.inputs.size(); ++i)
    node.inputs.push_back(call.inputs[i] ? g.add_value("in" + std::to_string(i), {})
                                         : ir::kNoValue);
  for (size_t i = 0; i < call.outputs; ++i)
    node.outputs.push_back(g.add_value("out" + std::to_string(i), {}));
  g.nodes.push_back(node);
  return evaluate_on_host(g, 0, call.inputs);
}

HostTensor eval(const Call& call) {
  auto out = evaluate(call);
  if (!out) throw std::runtime_error(call.op + " was not evaluated");
  if (out->size() != 1) throw std::runtime_error(call.op + " gave several outputs");
  return std::move(out->front());
}

using seedchip::testing::error_of;

std::string error_in(const Call& call) {
  return error_of([&] { evaluate(call); });
}

// ---- HostEval ------------------------------------------------------------------------------

TEST(HostEval, BroadcastsArithmetic) {
  const HostTensor a = f32({2, 3}, {1, 2, 3, 4, 5, 6}), b = f32({3}, {10, 20, 30});
  HostTensor sum = eval({"Add", {&a, &b}});
  EXPECT_EQ(sum.dims, (Dims{2, 3}));
  EXPECT_THAT(values<float>(sum), ElementsAre(11, 22, 33, 14, 25, 36));

  const HostTensor col = i64({2, 1}, {1, 2}), row = i64({1, 3}, {10, 20, 30});
  const HostTensor product = eval({"Mul", {&col, &row}});
  EXPECT_EQ(product.dims, (Dims{2, 3}));
  EXPECT_THAT(values<int64_t>(product), ElementsAre(10, 20, 30, 20, 40, 60));
  EXPECT_THAT(values<int64_t>(eval({"Sub", {&row, &col}})), ElementsAre(9, 19, 29, 8, 18, 28));

  const HostTensor scalar = f32({}, {2}), empty = f32({0, 3}, {});
  const HostTensor square = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(eval({"Div", {&empty, &scalar}}).dims, (Dims{0, 3}));
  EXPECT_THAT(error_in({"Add", {&a, &square}}),
              HasSubstr("node 'n' (Add): cannot broadcast [2,3] and [2,2]"));
  const HostTensor ints = i64({3}, {1, 2, 3});
  EXPECT_THAT(error_in({"Add", {&a, &ints}}), HasSubstr("different element types (f32 and i64)"));
}

TEST(HostEval, IntegerDivisionTruncatesAndModFollowsFmod) {
  const HostTensor a = i64({4}, {7, -7, 7, -7}), b = i64({4}, {2, 2, -2, -2});
  EXPECT_THAT(values<int64_t>(eval({"Div", {&a, &b}})), ElementsAre(3, -3, -3, 3));
  const HostTensor c = i64({4}, {3, 3, -3, -3});
  // fmod = 0: the sign of the divisor, as in Python; fmod = 1: the sign of the dividend, as in C.
  EXPECT_THAT(values<int64_t>(eval({"Mod", {&a, &c}})), ElementsAre(1, 2, -2, -1));
  EXPECT_THAT(values<int64_t>(eval({"Mod", {&a, &c}, {{"fmod", int64_t{1}}}})),
              ElementsAre(1, -1, 1, -1));
  const HostTensor x = f32({2}, {5.5f, -5.5f}), y = f32({}, {2});
  EXPECT_THAT(values<float>(eval({"Mod", {&x, &y}, {{"fmod", int64_t{1}}}})),
              ElementsAre(1.5f, -1.5f));
  EXPECT_THAT(error_in({"Mod", {&x, &y}}), HasSubstr("needs fmod = 1"));

  const HostTensor zero = i64({}, {0});
  EXPECT_THAT(error_in({"Div", {&a, &zero}}),
              HasSubstr("node 'n' (Div): integer division by zero"));
  // Overflow wraps around instead of being undefined.
  const HostTensor lowest = i64({}, {std::numeric_limits<int64_t>::min()}), minus = i64({}, {-1});
  EXPECT_THAT(values<int64_t>(eval({"Div", {&lowest, &minus}})),
              ElementsAre(std::numeric_limits<int64_t>::min()));
  const HostTensor big = tensor<int32_t>({}, {std::numeric_limits<int32_t>::max()}),
                   one = tensor<int32_t>({}, {1});
  EXPECT_THAT(values<int32_t>(eval({"Add", {&big, &one}})),
              ElementsAre(std::numeric_limits<int32_t>::min()));
}

TEST(HostEval, CastRoundsToNearestEvenButTruncatesF32ToBF16) {
  const auto to_f16 = [](std::vector<float> v) {
    const HostTensor x = f32({static_cast<int64_t>(v.size())}, v);
    const HostTensor y = eval({"Cast", {&x}, {{"to", int64_t{10}}}});
    EXPECT_EQ(y.element, ElementType::F16);
    return values<uint16_t>(y);
  };
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_THAT(to_f16({1.0f, 1.0f + 0x1p-11f, 1.0f + 0x3p-11f, 65504.0f, 65519.0f, 65520.0f, -inf}),
              ElementsAre(0x3C00, 0x3C00, 0x3C02, 0x7BFF, 0x7BFF, 0x7C00, 0xFC00));
  // Subnormals: 2^-24 is the smallest; half of it is a tie that goes to even (zero).
  EXPECT_THAT(to_f16({0x1p-24f, 0x1p-25f, 0x3p-26f, 0x1.ffcp-15f, -0.0f}),
              ElementsAre(0x0001, 0x0000, 0x0001, 0x0400, 0x8000));
  EXPECT_EQ(to_f16({std::nanf("")})[0] & 0x7E00, 0x7E00);

  const HostTensor x =
      f32({4}, {1.0f, 1.0f + 0x1p-8f, 1.0f + 0x3p-8f, std::numeric_limits<float>::max()});
  // f32 to bf16 truncates, as ONNX 1.12's reference (the backend test data) and the chip's Cast do:
  // 1 + 3 x 2^-8 would round to 0x3F82 and the largest float to infinity.
  EXPECT_THAT(values<uint16_t>(eval({"Cast", {&x}, {{"to", int64_t{16}}}})),
              ElementsAre(0x3F80, 0x3F80, 0x3F81, 0x7F7F));
  // 2^62 + 2^54 + 1 lies just above a bf16 midpoint; through a plain double it would look like
  // the midpoint itself and round down to even.
  const HostTensor wide = i64({1}, {(int64_t{1} << 62) + (int64_t{1} << 54) + 1});
  EXPECT_THAT(values<uint16_t>(eval({"Cast", {&wide}, {{"to", int64_t{16}}}})),
              ElementsAre(0x5E81));

  // Back from f16 and bf16, and float to integer: truncation, saturation, NaN as 0.
  const HostTensor half = tensor<uint16_t>({2}, {0x3C01, 0xC500});
  EXPECT_THAT(values<float>(eval({"Cast", {&half}, {{"to", int64_t{1}}}})),
              ElementsAre(1.0f + 0x1p-10f, -5.0f));
  const HostTensor bf = tensor<uint16_t>({1}, {0x4049}, ElementType::BF16);
  EXPECT_THAT(values<int32_t>(eval({"Cast", {&bf}, {{"to", int64_t{6}}}})), ElementsAre(3));
  const HostTensor f = f32({4}, {-2.7f, 1e10f, std::nanf(""), -1e10f});
  EXPECT_THAT(
      values<int32_t>(eval({"Cast", {&f}, {{"to", int64_t{6}}}})),
      ElementsAre(-2, std::numeric_limits<int32_t>::max(), 0, std::numeric_limits<int32_t>::min()));
  const HostTensor d = tensor<double>({1}, {1e300});
  EXPECT_THAT(values<float>(eval({"Cast", {&d}, {{"to", int64_t{1}}}})), ElementsAre(inf));
  const HostTensor mixed = f32({3}, {0.5f, 0, -0.0f});
  const HostTensor truth = eval({"Cast", {&mixed}, {{"to", int64_t{9}}}});
  EXPECT_EQ(truth.element, ElementType::Bool);
  EXPECT_THAT(values<uint8_t>(truth), ElementsAre(1, 0, 0));
  EXPECT_THAT(values<float>(eval({"Cast", {&truth}, {{"to", int64_t{1}}}})), ElementsAre(1, 0, 0));
  EXPECT_THAT(values<int32_t>(eval({"Cast", {&wide}, {{"to", int64_t{6}}}})), ElementsAre(1));

  EXPECT_FALSE(evaluate({"Cast", {&f}, {{"to", int64_t{8}}}}));  // to string
  EXPECT_THAT(error_in({"Cast", {&f}}), HasSubstr("no 'to' attribute"));
}

TEST(HostEval, SliceClampsAndStepsBackwards) {
  const HostTensor x = i64({10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  const HostTensor starts = i64({1}, {-1}), ends = i64({1}, {-100}), steps = i64({1}, {-2});
  const HostTensor axes = i64({1}, {0});
  EXPECT_THAT(values<int64_t>(eval({"Slice", {&x, &starts, &ends, &axes, &steps}})),
              ElementsAre(9, 7, 5, 3, 1));
  // Omitted axes (kNoValue) and an end past the dim.
  const HostTensor from = i64({1}, {7}), to = i64({1}, {std::numeric_limits<int64_t>::max()});
  EXPECT_THAT(values<int64_t>(eval({"Slice", {&x, &from, &to}})), ElementsAre(7, 8, 9));
  const HostTensor lowest = i64({1}, {std::numeric_limits<int64_t>::min()});
  EXPECT_THAT(values<int64_t>(eval({"Slice", {&x, &to, &from, nullptr, &lowest}})), ElementsAre(9));

  const HostTensor m = i64({3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  const HostTensor cols = i64({1}, {1}), back = i64({1}, {-1}), zero = i64({1}, {0});
  const HostTensor y = eval({"Slice", {&m, &to, &zero, &cols, &back}});
  EXPECT_EQ(y.dims, (Dims{3, 3}));
  EXPECT_THAT(values<int64_t>(y), ElementsAre(3, 2, 1, 7, 6, 5, 11, 10, 9));

  // Opset 9: starts, ends and axes are attributes.
  const HostTensor z = eval({"Slice", {&m}, {{"starts", Dims{1}}, {"ends", Dims{-1}}}, 9});
  EXPECT_EQ(z.dims, (Dims{1, 4}));
  EXPECT_THAT(values<int64_t>(z), ElementsAre(4, 5, 6, 7));

  EXPECT_THAT(error_in({"Slice", {&x, &from, &to, &axes, &zero}}),
              HasSubstr("step for axis 0 is 0"));
  const HostTensor two = i64({2}, {0, 1});
  EXPECT_THAT(error_in({"Slice", {&x, &from, &to, &two}}), HasSubstr("different lengths"));
}

TEST(HostEval, RangeCountsLikeTheSpec) {
  const auto range = [](HostTensor a, HostTensor b, HostTensor c) {
    return eval({"Range", {&a, &b, &c}});
  };
  EXPECT_THAT(values<int64_t>(range(i64({}, {1}), i64({}, {10}), i64({}, {3}))),
              ElementsAre(1, 4, 7));
  EXPECT_THAT(values<int64_t>(range(i64({}, {10}), i64({}, {4}), i64({}, {-2}))),
              ElementsAre(10, 8, 6));
  EXPECT_THAT(values<float>(range(f32({}, {0}), f32({}, {1}), f32({}, {0.25f}))),
              ElementsAre(0, 0.25f, 0.5f, 0.75f));
  const HostTensor empty = range(i64({}, {5}), i64({}, {1}), i64({}, {1}));
  EXPECT_EQ(empty.dims, (Dims{0}));
  const HostTensor a = i64({}, {0}), b = i64({}, {std::numeric_limits<int64_t>::max()});
  const HostTensor zero = i64({}, {0});
  EXPECT_THAT(error_in({"Range", {&a, &b, &zero}}), HasSubstr("delta is 0"));
  const HostTensor one = i64({}, {1});
  EXPECT_FALSE(evaluate({"Range", {&a, &b, &one}}));  // more than kMaxFoldedElements
}

TEST(HostEval, WhereBroadcastsItsThreeInputs) {
  const HostTensor cond = boolean({2, 1}, {1, 0}), x = i64({3}, {1, 2, 3}), y = i64({}, {-1});
  const HostTensor out = eval({"Where", {&cond, &x, &y}});
  EXPECT_EQ(out.dims, (Dims{2, 3}));
  EXPECT_THAT(values<int64_t>(out), ElementsAre(1, 2, 3, -1, -1, -1));
  HostTensor words{ElementType::String, {2}, {}, {"yes", "no"}};
  HostTensor other{ElementType::String, {}, {}, {"-"}};
  const HostTensor picked = eval({"Where", {&cond, &words, &other}});
  EXPECT_THAT(picked.strings, ElementsAre("yes", "no", "-", "-"));
  EXPECT_THAT(error_in({"Where", {&x, &x, &y}}), HasSubstr("condition must be bool"));
}

TEST(HostEval, GatherTakesNegativeIndicesAndRejectsOutOfRangeOnes) {
  const HostTensor data = i64({3, 2}, {1, 2, 3, 4, 5, 6});
  const HostTensor rows = i64({2}, {-1, 0});
  const HostTensor picked = eval({"Gather", {&data, &rows}});
  EXPECT_EQ(picked.dims, (Dims{2, 2}));
  EXPECT_THAT(values<int64_t>(picked), ElementsAre(5, 6, 1, 2));
  const HostTensor column = tensor<int32_t>({}, {1});
  const HostTensor second = eval({"Gather", {&data, &column}, {{"axis", int64_t{-1}}}});
  EXPECT_EQ(second.dims, (Dims{3}));
  EXPECT_THAT(values<int64_t>(second), ElementsAre(2, 4, 6));
  const HostTensor bad = i64({1}, {3});
  EXPECT_THAT(error_in({"Gather", {&data, &bad}}),
              HasSubstr("node 'n' (Gather): index 3 is out of range for axis 0 of size 3"));
  EXPECT_THAT(error_in({"Gather", {&data, &rows}, {{"axis", int64_t{2}}}}),
              HasSubstr("axis 2 is out of range for rank 2"));
}

TEST(HostEval, ReshapeCopiesZerosAndInfersMinusOne) {
  const HostTensor x = f32({2, 3, 4}, std::vector<float>(24, 1));
  const HostTensor shape = i64({2}, {0, -1});
  EXPECT_EQ(eval({"Reshape", {&x, &shape}}).dims, (Dims{2, 12}));
  const HostTensor empty = f32({0, 3}, {}), zeros = i64({2}, {3, 0});
  EXPECT_EQ(eval({"Reshape", {&empty, &zeros}, {{"allowzero", int64_t{1}}}, 14}).dims,
            (Dims{3, 0}));
  const HostTensor wrong = i64({2}, {5, -1});
  EXPECT_THAT(error_in({"Reshape", {&x, &wrong}}),
              HasSubstr("cannot reshape data [2,3,4] to [5,-1]"));
  const HostTensor two = i64({2}, {-1, -1});
  EXPECT_THAT(error_in({"Reshape", {&x, &two}}), HasSubstr("more than one -1"));
  EXPECT_EQ(eval({"Flatten", {&x}, {{"axis", int64_t{-1}}}}).dims, (Dims{6, 4}));
}

TEST(HostEval, SqueezeAndUnsqueezeInBothOpsetForms) {
  const HostTensor x = i64({3}, {1, 2, 3}), axes = i64({2}, {0, -1});
  const HostTensor u13 = eval({"Unsqueeze", {&x, &axes}});
  EXPECT_EQ(u13.dims, (Dims{1, 3, 1}));
  EXPECT_EQ(eval({"Unsqueeze", {&x}, {{"axes", Dims{0, -1}}}, 11}).dims, (Dims{1, 3, 1}));
  EXPECT_EQ(eval({"Squeeze", {&u13, &axes}}).dims, (Dims{3}));
  EXPECT_EQ(eval({"Squeeze", {&u13}, {{"axes", Dims{0}}}, 11}).dims, (Dims{3, 1}));
  EXPECT_EQ(eval({"Squeeze", {&u13}}).dims, (Dims{3}));
  const HostTensor middle = i64({1}, {1});
  EXPECT_THAT(error_in({"Squeeze", {&u13, &middle}}),
              HasSubstr("cannot squeeze axis 1 of data [1,3,1]"));
  const HostTensor far = i64({1}, {2});
  EXPECT_THAT(error_in({"Unsqueeze", {&x, &far}}), HasSubstr("axis 2 is out of range for rank 2"));
}

TEST(HostEval, ReductionsHonourAxesAndKeepdims) {
  const HostTensor x = i64({2, 3}, {1, 2, 3, 4, 5, 6});
  const HostTensor axis1 = i64({1}, {1});
  const HostTensor sum = eval({"ReduceSum", {&x, &axis1}, {{"keepdims", int64_t{0}}}});
  EXPECT_EQ(sum.dims, (Dims{2}));
  EXPECT_THAT(values<int64_t>(sum), ElementsAre(6, 15));
  const HostTensor max = eval({"ReduceMax", {&x}, {{"axes", Dims{0}}}});
  EXPECT_EQ(max.dims, (Dims{1, 3}));
  EXPECT_THAT(values<int64_t>(max), ElementsAre(4, 5, 6));
  const HostTensor prod = eval({"ReduceProd", {&x}});
  EXPECT_EQ(prod.dims, (Dims{1, 1}));
  EXPECT_THAT(values<int64_t>(prod), ElementsAre(720));
  const HostTensor empty = f32({0, 2}, {});
  const HostTensor min = eval({"ReduceMin", {&empty}, {{"axes", Dims{0}}}, 13});
  EXPECT_THAT(values<float>(min), ElementsAre(INFINITY, INFINITY));
  const HostTensor none = i64({0}, {});
  EXPECT_EQ(eval({"ReduceSum", {&x, &none}, {{"noop_with_empty_axes", int64_t{1}}}}).dims,
            (Dims{2, 3}));
  EXPECT_THAT(error_in({"ReduceMax", {&x}, {{"axes", Dims{1, -1}}}}), HasSubstr("repeat an axis"));
}

TEST(HostEval, MovesDataLikeNumPy) {
  const HostTensor a = i64({2, 2}, {1, 2, 3, 4}), b = i64({2, 1}, {9, 8});
  const HostTensor cat = eval({"Concat", {&a, &b}, {{"axis", int64_t{-1}}}});
  EXPECT_EQ(cat.dims, (Dims{2, 3}));
  EXPECT_THAT(values<int64_t>(cat), ElementsAre(1, 2, 9, 3, 4, 8));
  EXPECT_THAT(error_in({"Concat", {&a, &b}, {{"axis", int64_t{0}}}}),
              HasSubstr("cannot concatenate [2,2] and [2,1] on axis 0"));

  const HostTensor t = eval({"Transpose", {&cat}});
  EXPECT_EQ(t.dims, (Dims{3, 2}));
  EXPECT_THAT(values<int64_t>(t), ElementsAre(1, 3, 2, 4, 9, 8));
  EXPECT_THAT(error_in({"Transpose", {&a}, {{"perm", Dims{0, 0}}}}),
              HasSubstr("not a permutation"));

  const HostTensor shape = i64({3}, {2, 1, 2});
  const HostTensor e = eval({"Expand", {&b, &shape}});
  EXPECT_EQ(e.dims, (Dims{2, 2, 2}));
  EXPECT_THAT(values<int64_t>(e), ElementsAre(9, 9, 8, 8, 9, 9, 8, 8));
  const HostTensor bad = i64({1}, {3});
  EXPECT_THAT(error_in({"Expand", {&a, &bad}}), HasSubstr("cannot broadcast [2,2] and [3]"));

  const HostTensor reps = i64({2}, {2, 1});
  const HostTensor tiled = eval({"Tile", {&b, &reps}});
  EXPECT_EQ(tiled.dims, (Dims{4, 1}));
  EXPECT_THAT(values<int64_t>(tiled), ElementsAre(9, 8, 9, 8));
  const HostTensor reps2 = i64({2}, {1, 2});
  EXPECT_THAT(values<int64_t>(eval({"Tile", {&a, &reps2}})), ElementsAre(1, 2, 1, 2, 3, 4, 3, 4));

  const HostTensor mask = f32({2, 3}, {0, 1, 0, 2, 0, NAN});
  const HostTensor nz = eval({"NonZero", {&mask}});
  EXPECT_EQ(nz.dims, (Dims{2, 3}));
  EXPECT_THAT(values<int64_t>(nz), ElementsAre(0, 1, 1, 1, 0, 2));
}

TEST(HostEval, SplitsEvenlyBySizesOrIntoNumOutputs) {
  const HostTensor x = i64({5}, {1, 2, 3, 4, 5});
  const HostTensor sizes = i64({2}, {2, 3});
  auto parts = evaluate({"Split", {&x, &sizes}, {}, 13, 2});
  ASSERT_TRUE(parts);
  EXPECT_THAT(values<int64_t>((*parts)[0]), ElementsAre(1, 2));
  EXPECT_THAT(values<int64_t>((*parts)[1]), ElementsAre(3, 4, 5));
  parts = evaluate({"Split", {&x}, {{"split", Dims{4, 1}}}, 11, 2});
  ASSERT_TRUE(parts);
  EXPECT_THAT(values<int64_t>((*parts)[1]), ElementsAre(5));
  parts = evaluate({"Split", {&x}, {{"num_outputs", int64_t{3}}}, 18, 3});
  ASSERT_TRUE(parts);
  EXPECT_THAT(values<int64_t>((*parts)[2]), ElementsAre(5));
  const HostTensor m = i64({2, 2}, {1, 2, 3, 4});
  parts = evaluate({"Split", {&m}, {{"axis", int64_t{1}}}, 13, 2});
  ASSERT_TRUE(parts);
  EXPECT_THAT(values<int64_t>((*parts)[0]), ElementsAre(1, 3));
  EXPECT_THAT(error_in({"Split", {&x}, {}, 13, 2}),
              HasSubstr("cannot split axis 0 of size 5 into 2 equal parts"));
}

TEST(HostEval, PadsAndClipsInBothOpsetForms) {
  const HostTensor x = i64({3}, {1, 2, 3}), pads = i64({2}, {2, 1}), value = i64({}, {-1});
  EXPECT_THAT(values<int64_t>(eval({"Pad", {&x, &pads, &value}})),
              ElementsAre(-1, -1, 1, 2, 3, -1));
  EXPECT_THAT(values<int64_t>(eval({"Pad", {&x, &pads}, {{"mode", std::string("reflect")}}})),
              ElementsAre(3, 2, 1, 2, 3, 2));
  EXPECT_THAT(values<int64_t>(eval({"Pad", {&x, &pads}, {{"mode", std::string("edge")}}})),
              ElementsAre(1, 1, 1, 2, 3, 3));
  EXPECT_THAT(values<int64_t>(eval({"Pad", {&x, &pads}, {{"mode", std::string("wrap")}}, 19})),
              ElementsAre(2, 3, 1, 2, 3, 1));
  const HostTensor crop = i64({2}, {-1, 0});
  EXPECT_THAT(values<int64_t>(eval({"Pad", {&x, &crop}})), ElementsAre(2, 3));
  const HostTensor f = f32({2}, {1, 2});
  EXPECT_THAT(values<float>(eval({"Pad", {&f}, {{"pads", Dims{1, 0}}, {"value", 0.5f}}, 2})),
              ElementsAre(0.5f, 1, 2));

  const HostTensor lo = i64({}, {2});
  EXPECT_THAT(values<int64_t>(eval({"Clip", {&x, &lo}})), ElementsAre(2, 2, 3));
  EXPECT_THAT(values<int64_t>(eval({"Clip", {&x, nullptr, &lo}})), ElementsAre(1, 2, 2));
  EXPECT_THAT(values<float>(eval({"Clip", {&f}, {{"max", 1.5f}}, 6})), ElementsAre(1, 1.5f));
}

TEST(HostEval, ComparesAndComputesElementwise) {
  const HostTensor a = i64({3}, {1, 2, 3}), b = i64({}, {2});
  EXPECT_THAT(values<uint8_t>(eval({"Equal", {&a, &b}})), ElementsAre(0, 1, 0));
  EXPECT_THAT(values<uint8_t>(eval({"Less", {&a, &b}})), ElementsAre(1, 0, 0));
  EXPECT_THAT(values<uint8_t>(eval({"Greater", {&a, &b}})), ElementsAre(0, 0, 1));
  EXPECT_THAT(values<uint8_t>(eval({"LessOrEqual", {&a, &b}})), ElementsAre(1, 1, 0));
  EXPECT_THAT(values<uint8_t>(eval({"GreaterOrEqual", {&a, &b}})), ElementsAre(0, 1, 1));
  const HostTensor p = boolean({2}, {1, 0}), q = boolean({2}, {1, 1});
  EXPECT_THAT(values<uint8_t>(eval({"And", {&p, &q}})), ElementsAre(1, 0));
  EXPECT_THAT(values<uint8_t>(eval({"Or", {&p, &q}})), ElementsAre(1, 1));
  EXPECT_THAT(values<uint8_t>(eval({"Not", {&p}})), ElementsAre(0, 1));
  EXPECT_FALSE(evaluate({"And", {&a, &a}}));  // And on integers: not ONNX, not evaluated

  const HostTensor f = f32({4}, {-1.5f, 2.25f, 4, -0.5f});
  EXPECT_THAT(values<float>(eval({"Floor", {&f}})), ElementsAre(-2, 2, 4, -1));
  EXPECT_THAT(values<float>(eval({"Ceil", {&f}})), ElementsAre(-1, 3, 4, -0.0f));
  EXPECT_THAT(values<float>(eval({"Abs", {&f}})), ElementsAre(1.5f, 2.25f, 4, 0.5f));
  EXPECT_THAT(values<float>(eval({"Neg", {&f}})), ElementsAre(1.5f, -2.25f, -4, 0.5f));
  EXPECT_THAT(values<float>(eval({"Reciprocal", {&f}})),
              ElementsAre(-1 / 1.5f, 1 / 2.25f, 0.25f, -2));
  const HostTensor sq = f32({2}, {4, 2.25f});
  EXPECT_THAT(values<float>(eval({"Sqrt", {&sq}})), ElementsAre(2, 1.5f));
  const HostTensor g = f32({}, {0}), n = f32({4}, {NAN, 1, 1, 1});
  const std::vector<float> lowest = values<float>(eval({"Min", {&f, &g, &n}}));
  ASSERT_EQ(lowest.size(), 4u);
  EXPECT_TRUE(std::isnan(lowest[0]));
  EXPECT_THAT(std::vector<float>(lowest.begin() + 1, lowest.end()), ElementsAre(0, 0, -0.5f));
  EXPECT_THAT(values<float>(eval({"Max", {&f, &g}})), ElementsAre(0, 2.25f, 4, 0));
  const HostTensor ints = i64({2}, {std::numeric_limits<int64_t>::min(), -3});
  EXPECT_THAT(values<int64_t>(eval({"Abs", {&ints}})),
              ElementsAre(std::numeric_limits<int64_t>::min(), 3));
}

TEST(HostEval, MakesConstantsAndShapes) {
  EXPECT_THAT(values<float>(eval({"Constant", {}, {{"value_float", 1.5f}}})), ElementsAre(1.5f));
  const HostTensor ints = eval({"Constant", {}, {{"value_ints", Dims{3, 4}}}});
  EXPECT_EQ(ints.dims, (Dims{2}));
  EXPECT_THAT(values<int64_t>(ints), ElementsAre(3, 4));
  const HostTensor word = eval({"Constant", {}, {{"value_string", std::string("hi")}}});
  EXPECT_TRUE(word.dims.empty());
  EXPECT_THAT(word.strings, ElementsAre("hi"));
  const auto stored = std::make_shared<const HostTensor>(i64({2}, {7, 8}));
  EXPECT_THAT(values<int64_t>(eval({"Constant", {}, {{"value", stored}}})), ElementsAre(7, 8));
  EXPECT_THAT(error_in({"Constant", {}}), HasSubstr("needs exactly one"));

  // Shape and Size read only dims: a tensor without data stands for a non-constant input.
  const HostTensor dims_only{ElementType::F32, {2, 3, 5}, {}, {}};
  EXPECT_THAT(values<int64_t>(eval({"Shape", {&dims_only}})), ElementsAre(2, 3, 5));
  EXPECT_THAT(values<int64_t>(eval({"Shape", {&dims_only}, {{"start", int64_t{-2}}}, 15})),
              ElementsAre(3, 5));
  EXPECT_EQ(eval({"Shape", {&dims_only}, {{"start", int64_t{2}}, {"end", int64_t{1}}}}).dims,
            (Dims{0}));
  const HostTensor size = eval({"Size", {&dims_only}});
  EXPECT_TRUE(size.dims.empty());
  EXPECT_THAT(values<int64_t>(size), ElementsAre(30));
  EXPECT_THAT(error_in({"Add", {&dims_only, &dims_only}}),
              HasSubstr("input 0 holds 0 bytes of f32 data for dims [2,3,5]"));

  const HostTensor shape = i64({2}, {2, 2});
  const HostTensor zeros = eval({"ConstantOfShape", {&shape}});
  EXPECT_EQ(zeros.element, ElementType::F32);
  EXPECT_THAT(values<float>(zeros), ElementsAre(0, 0, 0, 0));
  const auto seven = std::make_shared<const HostTensor>(i64({1}, {7}));
  EXPECT_THAT(values<int64_t>(eval({"ConstantOfShape", {&shape}, {{"value", seven}}})),
              ElementsAre(7, 7, 7, 7));
  EXPECT_THAT(values<int64_t>(eval({"Identity", {&shape}})), ElementsAre(2, 2));
}

TEST(HostEval, LeavesWhatItDoesNotImplementOrWouldBeTooLarge) {
  const HostTensor x = f32({2}, {1, 2});
  EXPECT_FALSE(evaluate({"Sigmoid", {&x}}));
  const HostTensor half = tensor<uint16_t>({1}, {0x3C00});
  EXPECT_FALSE(evaluate({"Add", {&half, &half}}));
  // Absurd shapes are refused before anything is allocated.
  const HostTensor huge = i64({2}, {int64_t{1} << 40, int64_t{1} << 40});
  EXPECT_FALSE(evaluate({"ConstantOfShape", {&huge}}));
  const HostTensor one = f32({1}, {1});
  EXPECT_FALSE(evaluate({"Expand", {&one, &huge}}));
  const HostTensor reps = i64({1}, {std::numeric_limits<int64_t>::max()});
  EXPECT_FALSE(evaluate({"Tile", {&one, &reps}}));
  const HostTensor just_over = i64({1}, {kMaxFoldedElements + 1});
  EXPECT_FALSE(evaluate({"ConstantOfShape", {&just_over}}));
  const HostTensor pads = i64({2}, {0, std::numeric_limits<int64_t>::max()});
  EXPECT_FALSE(evaluate({"Pad", {&x, &pads}}));
}

TEST(HostEval, RejectsMalformedInputsNamingTheNode) {
  const HostTensor short_data = i64({3}, {1, 2});
  EXPECT_THAT(error_in({"Identity", {&short_data}}),
              HasSubstr("node 'n' (Identity): input 0 holds 16 bytes of i64 data for dims [3]"));
  const HostTensor x = i64({2}, {1, 2});
  EXPECT_THAT(error_in({"Add", {&x}}), HasSubstr("has 1 inputs; expected 2"));
  EXPECT_THAT(error_in({"Add", {&x, &x}, {}, 13, 2}), HasSubstr("has 2 outputs; Add computes 1"));
  EXPECT_THAT(error_in({"Gather", {&x, &x}, {{"axis", 1.5f}}}),
              HasSubstr("attribute 'axis' is of kind float, expected int"));
}

TEST(HostEval, ListsItsOperators) {
  const std::vector<std::string>& ops = host_eval_ops();
  EXPECT_TRUE(std::is_sorted(ops.begin(), ops.end()));
  for (const char* op : {"Shape", "Gather", "Unsqueeze", "Concat", "Reshape", "Cast", "Range",
                         "Where", "NonZero", "Split", "ReduceProd", "Pad", "Clip"})
    EXPECT_THAT(ops, ::testing::Contains(op));
}

// ---- FoldConstants -------------------------------------------------------------------------

// Folds the graph in `text` and returns the result as text.
std::string folded(std::string_view text, bool expect_change = true) {
  ir::Graph g = ir::parse(text, "test");
  EXPECT_EQ(fold_constants(g), expect_change);
  ir::verify(g);
  return ir::print(g);
}

TEST(FoldConstants, ShapeArithmeticBecomesTheReshapeTarget) {
  // What pytorch exports for x.view(x.size(0), -1).
  const std::string in = R"(graph "export" opset ""=13 {
  input %x: f32[2,3,4]
  %shape: i64[3] = Shape(%x)
  %zero: i64[] = Constant() {value = tensor i64[] [0]}
  %batch: i64[] = Gather(%shape, %zero) {axis = 0}
  %axes: i64[1] = Constant() {value_ints = [0]}
  %b1: i64[1] = Unsqueeze(%batch, %axes)
  %rest: i64[1] = Constant() {value = tensor i64[1] [-1]}
  %target: i64[2] = Concat(%b1, %rest) {axis = 0}
  %y: f32[2,12] = Reshape(%x, %target)
  output %y
}
)";
  EXPECT_EQ(folded(in), R"(graph "export" opset ""=13 {
  input %x: f32[2,3,4]
  const %target: i64[2] = [2, -1]
  %y: f32[2,12] = Reshape(%x, %target)
  output %y
}
)");
}

TEST(FoldConstants, WindowFunctionsOfAKnownSize) {
  ir::Graph g = ir::parse(R"(graph "w" opset ""=17 {
  const %n: i64[] = [5]
  %y: f32[5] = HannWindow(%n) {periodic = 0}
  %z: f32[5] = BlackmanWindow(%n)
  output %y
})",
                          "test");
  EXPECT_TRUE(fold_constants(g));
  const ir::HostTensor& y = *g.value(g.outputs[0]).constant;
  std::vector<float> values(5);
  std::memcpy(values.data(), y.bytes.data(), 20);
  // Symmetric Hann over 5 points: 0.5 - 0.5 cos(2 pi n / 4).
  const std::vector<float> expected = {0, 0.5f, 1, 0.5f, 0};
  for (size_t i = 0; i < 5; ++i) EXPECT_NEAR(values[i], expected[i], 1e-6f) << i;
}

TEST(FoldConstants, ReshapeOfAConstantFoldsToo) {
  EXPECT_EQ(folded(R"(graph "g" opset ""=13 {
  const %w: f32[2,2] = [1, 2, 3, 4]
  const %s: i64[1] = [4]
  %t = Transpose(%w) {perm = [1, 0]}
  %y = Reshape(%t, %s)
  output %y
}
)"),
            R"(graph "g" opset ""=13 {
  const %y: f32[4] = [1, 3, 2, 4]
  output %y
}
)");
}

TEST(FoldConstants, LeavesWhatDependsOnInputsOrIsNotImplemented) {
  // Sigmoid is not evaluated on the host, a custom domain is not ONNX, the Shape of a tensor of
  // unknown batch is not known, and a graph input's default value may be overridden.
  const std::string in = R"(graph "g" opset ""=13 "com.example"=1 {
  input %x: f32[?,4]
  input %k: i64[1] = [2]
  const %c: f32[4] = [1, -2, 3, -4]
  const %one: i64[1] = [1]
  %r: f32[4] = Sigmoid(%c)
  %e: f32[4] = com.example::Twice(%c)
  %s: i64[2] = Shape(%x)
  %m: i64[1] = Add(%k, %one)
  %a: f32[?,4] = Add(%x, %r)
  output %a
  output %e
  output %s
  output %m
}
)";
  EXPECT_EQ(folded(in, false), in);
}

TEST(FoldConstants, GraphOutputsThatBecomeConstantStayOutputs) {
  EXPECT_EQ(folded(R"(graph "g" opset ""=13 {
  input %x: f32[3,5]
  %n = Size(%x)
  %d: f32[] = Cast(%n) {to = 1}
  output %x
  output %d
}
)"),
            R"(graph "g" opset ""=13 {
  input %x: f32[3,5]
  const %d: f32[] = [15]
  output %x
  output %d
}
)");
}

TEST(FoldConstants, RemovesDeadConstantsButKeepsGraphInputs) {
  const std::string out = folded(R"(graph "g" opset ""=13 {
  input %x: f32[2]
  input %bias: f32[2] = [0.5, 0.5]
  const %unused: f32[2] = [7, 8]
  const %used: f32[2] = [1, 2]
  %y = Add(%x, %used)
  %z = Add(%y, %bias)
  output %z
}
)");
  EXPECT_EQ(out, R"(graph "g" opset ""=13 {
  input %x: f32[2]
  input %bias: f32[2] = [0.5, 0.5]
  const %used: f32[2] = [1, 2]
  %y = Add(%x, %used)
  %z = Add(%y, %bias)
  output %z
}
)");
}

TEST(FoldConstants, KeepsConstantsThatNestedGraphsRead) {
  ir::Graph g;
  g.name = "outer";
  g.opset[""] = 13;
  const ir::TensorType scalar{ElementType::Bool, Dims{}};
  const ir::ValueId cond = g.add_value("cond", scalar);
  g.add_value("w", {ElementType::F32, Dims{1}}, std::make_shared<const HostTensor>(f32({1}, {3})));
  g.add_value("dead", {ElementType::F32, Dims{1}},
              std::make_shared<const HostTensor>(f32({1}, {4})));
  const ir::ValueId out = g.add_value("out", {});
  auto branch = std::make_shared<ir::Graph>();
  branch->name = "then";
  const ir::ValueId outer_w = branch->add_value("w", {});  // read from the enclosing graph
  const ir::ValueId copy = branch->add_value("copy", {});
  branch->nodes.push_back({"Identity", "", "", {outer_w}, {copy}, {}});
  branch->outputs = {copy};
  g.nodes.push_back({"If", "", "if", {cond}, {out}, {{"then_branch", ir::GraphPtr(branch)}}});
  g.inputs = {cond};
  g.outputs = {out};
  EXPECT_TRUE(fold_constants(g));
  ir::verify(g);
  EXPECT_EQ(g.values.size(), 3u);
  EXPECT_NE(g.find("w"), ir::kNoValue);
  EXPECT_EQ(g.find("dead"), ir::kNoValue);
  EXPECT_EQ(g.nodes[0].outputs[0], g.find("out"));
  EXPECT_EQ(g.outputs[0], g.find("out"));
}

TEST(FoldConstants, ErrorsNameTheNode) {
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  const %data: i64[3] = [1, 2, 3]
  const %index: i64[1] = [5]
  %y = Gather(%data, %index) @"pick"
  output %y
}
)");
  EXPECT_THAT(error_of([&] { fold_constants(g); }),
              HasSubstr("node 'pick' (Gather): index 5 is out of range for axis 0 of size 3"));
}

TEST(FoldConstants, LeavesResultsAboveTheCapToTheChip) {
  const std::string in = R"(graph "g" opset ""=13 {
  const %shape: i64[2] = [4096, 8192]
  %big: f32[4096,8192] = ConstantOfShape(%shape)
  output %big
}
)";
  EXPECT_EQ(folded(in, false), in);
}

TEST(FoldConstants, FoldsWhatShapeInferenceMakesKnown) {
  // The first sweep folds the Reshape target; shape inference then knows %y's dims, and the
  // second sweep folds Shape(%y).
  ir::Graph g = ir::parse(R"(graph "g" opset ""=13 {
  input %x: f32[2,3]
  const %minus: i64[1] = [-1]
  %s = Shape(%x)
  %n = ReduceProd(%s) {keepdims = 1}
  %target = Concat(%n, %minus) {axis = 0}
  %y = Reshape(%x, %target)
  %t = Shape(%y)
  output %y
  output %t
}
)");
  run_passes(g, {"fold-constants"});
  EXPECT_EQ(ir::print(g), R"(graph "g" opset ""=13 {
  input %x: f32[2,3]
  const %target: i64[2] = [6, -1]
  const %t: i64[2] = [6, 1]
  %y: f32[6,1] = Reshape(%x, %target)
  output %y
  output %t
}
)");
}

}  // namespace
}  // namespace seedchip::compiler::passes
