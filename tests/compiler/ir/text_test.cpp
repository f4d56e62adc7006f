#include "compiler/ir/text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "arch/error.h"

namespace seedchip::compiler::ir {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr PrintOptions kInline{std::numeric_limits<size_t>::max()};

std::string parse_error(std::string_view text, std::string_view source = "<ir>") {
  try {
    parse(text, source);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

// A graph named "g" around statement lines, which start on line 2.
std::string in_graph(std::string_view body) {
  return "graph \"g\" opset {\n" + std::string(body) + "}\n";
}

// Prints, parses and prints again; the two texts must agree.
std::string round_trip(const Graph& g) {
  const std::string text = print(g, kInline);
  EXPECT_EQ(print(parse(text), kInline), text);
  return text;
}

template <class T>
std::vector<uint8_t> bytes_of(const std::vector<T>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());  // the test host is little-endian
  return bytes;
}

HostTensorPtr tensor(ElementType element, std::vector<int64_t> dims, std::vector<uint8_t> bytes,
                     std::vector<std::string> strings = {}) {
  auto t = std::make_shared<HostTensor>();
  t->element = element;
  t->dims = std::move(dims);
  t->bytes = std::move(bytes);
  t->strings = std::move(strings);
  return t;
}

ValueId add_constant(Graph& g, const std::string& name, HostTensorPtr t) {
  return g.add_value(name, t->type(), t);
}

// The example of the format's documentation, where every name is defined.
constexpr std::string_view kExample = R"(graph "chain" opset ""=13 "com.microsoft"=1 {
  input %x: f32[2,3]
  input %n: i64[?,4]
  input %u: f32[*]
  input %k: i64[1]
  input %a: f32[2]
  input %b
  const %w: f32[3] = [1.5, -2, 0.25]
  const %s: string[2] = ["a", "b\"q"]
  %y: f32[2,3] = Relu(%x) @"relu_0"
  %q: f32[?], %idx: i64[?] = TopK(%y, %k) {axis = 1, largest = 1, sorted = 1}
  %o: f32[2] = com.microsoft::Foo(%a, _, %b) {alpha = 0.5, perm = [1, 0], mode = "constant", t = tensor f32[2] [1, 2], empty_ints = ints [], names = ["a", "b"], vals = floats [1, 2.5]}
  %p = Bar(%o)
  output %y
  output %q
}
)";

TEST(Text, ExampleParsesAndPrintsCanonically) {
  const Graph g = parse(kExample);
  EXPECT_EQ(g.name, "chain");
  EXPECT_EQ(g.opset_version(), 13);
  EXPECT_EQ(g.opset_version("com.microsoft"), 1);
  ASSERT_EQ(g.inputs.size(), 6u);
  EXPECT_EQ(g.value(g.find("n")).type,
            (TensorType{ElementType::I64, std::vector<int64_t>{kUnknownDim, 4}}));
  EXPECT_FALSE(g.value(g.find("u")).type.dims.has_value());
  EXPECT_EQ(g.value(g.find("b")).type, TensorType{});
  EXPECT_EQ(g.value(g.find("s")).constant->strings, (std::vector<std::string>{"a", "b\"q"}));
  ASSERT_EQ(g.nodes.size(), 4u);
  EXPECT_EQ(g.nodes[0].name, "relu_0");
  const Node& foo = g.nodes[2];
  EXPECT_EQ(foo.domain, "com.microsoft");
  EXPECT_EQ(foo.inputs, (std::vector<ValueId>{g.find("a"), kNoValue, g.find("b")}));
  ASSERT_NE(foo.attribute<float>("alpha"), nullptr);
  EXPECT_EQ(*foo.attribute<float>("alpha"), 0.5f);
  EXPECT_EQ(*foo.attribute<std::vector<int64_t>>("perm"), (std::vector<int64_t>{1, 0}));
  EXPECT_TRUE(foo.attribute<std::vector<int64_t>>("empty_ints")->empty());
  EXPECT_EQ(*foo.attribute<std::vector<float>>("vals"), (std::vector<float>{1, 2.5f}));
  EXPECT_EQ(*foo.attribute<std::vector<std::string>>("names"),
            (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ((*foo.attribute<HostTensorPtr>("t"))->bytes, bytes_of(std::vector<float>{1, 2}));
  EXPECT_EQ(*g.nodes[1].attribute<int64_t>("axis"), 1);
  EXPECT_EQ(g.value(g.find("p")).type, TensorType{});

  const std::string canonical = R"(graph "chain" opset ""=13 "com.microsoft"=1 {
  input %x: f32[2,3]
  input %n: i64[?,4]
  input %u: f32[*]
  input %k: i64[1]
  input %a: f32[2]
  input %b
  const %w: f32[3] = [1.5, -2, 0.25]
  const %s: string[2] = ["a", "b\"q"]
  %y: f32[2,3] = Relu(%x) @"relu_0"
  %q: f32[?], %idx: i64[?] = TopK(%y, %k) {axis = 1, largest = 1, sorted = 1}
  %o: f32[2] = com.microsoft::Foo(%a, _, %b) {alpha = 0.5, empty_ints = ints [], mode = "constant", names = ["a", "b"], perm = [1, 0], t = tensor f32[2] [1, 2], vals = [1.0, 2.5]}
  %p = Bar(%o)
  output %y
  output %q
}
)";
  EXPECT_EQ(print(g), canonical);
  EXPECT_EQ(round_trip(g), canonical);
}

TEST(Text, EveryElementTypeRoundTripsBitExactly) {
  const float f_nan = std::numeric_limits<float>::quiet_NaN();
  const float f_inf = std::numeric_limits<float>::infinity();
  const double d_nan = std::numeric_limits<double>::quiet_NaN();
  const double d_inf = std::numeric_limits<double>::infinity();
  Graph g;
  g.name = "dtypes";
  const std::vector<HostTensorPtr> constants = {
      tensor(ElementType::F32, {9},
             bytes_of(std::vector<float>{1.5f, -0.0f, 0.0f, f_nan, -f_nan, f_inf, -f_inf,
                                         std::numeric_limits<float>::denorm_min(),
                                         std::numeric_limits<float>::max()})),
      tensor(ElementType::F32, {2}, bytes_of(std::vector<float>{0.1f, -16777216.0f})),
      tensor(ElementType::F64, {2, 4},
             bytes_of(std::vector<double>{0.1, -0.0, d_nan, -d_inf, d_inf,
                                          std::numeric_limits<double>::denorm_min(),
                                          std::numeric_limits<double>::max(), 1e300})),
      // f16: 0, -0, quiet NaN, -quiet NaN, inf, -inf, smallest subnormal, largest, 1, 0.1.
      tensor(ElementType::F16, {10},
             bytes_of(std::vector<uint16_t>{0x0000, 0x8000, 0x7e00, 0xfe00, 0x7c00, 0xfc00, 0x0001,
                                            0x7bff, 0x3c00, 0x2e66})),
      tensor(ElementType::BF16, {10},
             bytes_of(std::vector<uint16_t>{0x0000, 0x8000, 0x7fc0, 0xffc0, 0x7f80, 0xff80, 0x0001,
                                            0x7f7f, 0x3f80, 0x3dcd})),
      tensor(ElementType::I8, {3}, bytes_of(std::vector<int8_t>{-128, 127, 0})),
      tensor(ElementType::I16, {2}, bytes_of(std::vector<int16_t>{-32768, 32767})),
      tensor(ElementType::I32, {2}, bytes_of(std::vector<int32_t>{INT32_MIN, INT32_MAX})),
      tensor(ElementType::I64, {3}, bytes_of(std::vector<int64_t>{INT64_MIN, INT64_MAX, -1})),
      tensor(ElementType::U8, {2}, bytes_of(std::vector<uint8_t>{0, 255})),
      tensor(ElementType::U16, {1}, bytes_of(std::vector<uint16_t>{65535})),
      tensor(ElementType::U32, {1}, bytes_of(std::vector<uint32_t>{UINT32_MAX})),
      tensor(ElementType::U64, {2}, bytes_of(std::vector<uint64_t>{0, UINT64_MAX})),
      tensor(ElementType::Bool, {2}, {0, 1}),
      tensor(ElementType::String, {2, 2}, {}, {"", "q\"\\", "\n\t\x01\x7f", "\xc3\xbc #"}),
      tensor(ElementType::C64, {2}, bytes_of(std::vector<float>{1, -2, f_nan, -f_inf})),
      tensor(ElementType::C128, {1}, bytes_of(std::vector<double>{0.1, -0.0})),
      tensor(ElementType::I32, {}, bytes_of(std::vector<int32_t>{7})),  // a scalar
      tensor(ElementType::F32, {3, 0}, {}),                             // no elements
  };
  for (size_t i = 0; i < constants.size(); ++i)
    add_constant(g, "c" + std::to_string(i), constants[i]);
  const std::string text = round_trip(g);
  EXPECT_THAT(text, HasSubstr("const %c0: f32[9] = [1.5, -0, 0, nan, -nan, inf, -inf, 1e-45, "
                              "3.4028235e+38]"));
  EXPECT_THAT(text, HasSubstr("const %c3: f16[10] = [0, -0, nan, -nan, inf, -inf, 6e-08, "
                              "65504, 1, 0.1]"));
  EXPECT_THAT(text, HasSubstr("const %c13: bool[2] = [0, 1]"));
  EXPECT_THAT(text, HasSubstr(R"(const %c14: string[2,2] = ["", "q\"\\", "\n\t\x01\x7f", "ü #"])"));
  EXPECT_THAT(text, HasSubstr("const %c15: c64[2] = [(1, -2), (nan, -inf)]"));
  EXPECT_THAT(text, HasSubstr("const %c17: i32[] = [7]"));
  EXPECT_THAT(text, HasSubstr("const %c18: f32[3,0] = []"));

  const Graph back = parse(text);
  for (size_t i = 0; i < constants.size(); ++i) {
    const HostTensor& t = *back.value(back.find("c" + std::to_string(i))).constant;
    EXPECT_EQ(t.element, constants[i]->element) << i;
    EXPECT_EQ(t.dims, constants[i]->dims) << i;
    EXPECT_EQ(t.bytes, constants[i]->bytes) << i;
    EXPECT_EQ(t.strings, constants[i]->strings) << i;
  }
}

// Every 16-bit pattern reads back as itself; NaNs as the quiet NaN of their sign.
void expect_all_16_bit_values_round_trip(ElementType element, uint16_t exponent_mask,
                                         uint16_t quiet_nan) {
  std::vector<uint16_t> all(65536);
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<uint16_t>(i);
  Graph g;
  add_constant(g, "all", tensor(element, {65536}, bytes_of(all)));
  const Graph back = parse(print(g, kInline));
  const std::vector<uint8_t>& bytes = back.value(0).constant->bytes;
  ASSERT_EQ(bytes.size(), 2 * all.size());
  for (size_t i = 0; i < all.size(); ++i) {
    const auto bits = static_cast<uint16_t>(bytes[2 * i] | bytes[2 * i + 1] << 8);
    const bool nan =
        (all[i] & exponent_mask) == exponent_mask && (all[i] & ~exponent_mask & 0x7fff);
    const uint16_t expected = nan ? static_cast<uint16_t>((all[i] & 0x8000) | quiet_nan) : all[i];
    ASSERT_EQ(bits, expected) << element_name(element) << " 0x" << std::hex << all[i];
  }
}

TEST(Text, EveryF16AndBF16ValueRoundTrips) {
  expect_all_16_bit_values_round_trip(ElementType::F16, 0x7c00, 0x7e00);
  expect_all_16_bit_values_round_trip(ElementType::BF16, 0x7f80, 0x7fc0);
}

TEST(Text, HalfPrecisionReadsRoundToNearestEven) {
  // 1 + 2^-11 lies halfway between f16 1 and its successor: it rounds to the even 1 (0x3c00);
  // 1 + 3 * 2^-11 lies halfway between 0x3c01 and 0x3c02: it rounds to the even 0x3c02. 65520
  // rounds past the largest f16 to inf.
  const Graph g =
      parse(in_graph("  const %h: f16[4] = [1.00048828125, 1.00146484375, 65520, 1e-30]\n"
                     "  const %b: bf16[2] = [1.00390625, 1.01171875]\n"));
  EXPECT_EQ(g.value(g.find("h")).constant->bytes,
            bytes_of(std::vector<uint16_t>{0x3c00, 0x3c02, 0x7c00, 0x0000}));
  EXPECT_EQ(g.value(g.find("b")).constant->bytes, bytes_of(std::vector<uint16_t>{0x3f80, 0x3f82}));
}

TEST(Text, NamesThatNeedQuotes) {
  Graph g;
  g.name = "the \"graph\"";
  g.opset = {{"", 17}, {"my domain", 2}};
  const TensorType f32{ElementType::F32, std::vector<int64_t>{2}};
  const ValueId spaced = g.add_value("a b", f32);
  const ValueId colon = g.add_value("x:", f32);
  const ValueId empty = g.add_value("", f32);
  const ValueId odd = g.add_value("q\"\\\n\t\x01", f32);
  const ValueId onnx = g.add_value("onnx::Relu_0", f32);
  const ValueId path = g.add_value("/model/layer.0/Add_output-0", f32);
  g.inputs = {spaced, colon, empty};
  Node node{"My-Op", "my domain", "n \"1\"", {spaced, colon, empty}, {odd, onnx, path}, {}};
  node.attributes["key with space"] = int64_t{1};
  node.attributes["_ok.key"] = std::string("tab\there");
  g.nodes = {node};
  g.outputs = {odd, onnx, path};
  const std::string text = round_trip(g);
  EXPECT_EQ(text, R"(graph "the \"graph\"" opset ""=17 "my domain"=2 {
  input %"a b": f32[2]
  input %"x:": f32[2]
  input %"": f32[2]
  %"q\"\\\n\t\x01": f32[2], %onnx::Relu_0: f32[2], %/model/layer.0/Add_output-0: f32[2] = "my domain"::"My-Op"(%"a b", %"x:", %"") {_ok.key = "tab\there", "key with space" = 1} @"n \"1\""
  output %"q\"\\\n\t\x01"
  output %onnx::Relu_0
  output %/model/layer.0/Add_output-0
}
)");
  const Graph back = parse(text);
  EXPECT_EQ(back.name, g.name);
  for (const Value& v : g.values) EXPECT_NE(back.find(v.name), kNoValue) << v.name;
  EXPECT_EQ(back.nodes[0].name, "n \"1\"");
  EXPECT_EQ(back.nodes[0].domain, "my domain");
  EXPECT_EQ(back.nodes[0].op, "My-Op");
}

TEST(Text, UnnamedNodesOmittedValuesAndNodesWithoutOutputs) {
  const std::string text = in_graph(
      "  input %x: f32[4]\n"
      "  input %c: f32[2] = [1, 2]\n"
      "  _, %i: i64[4] = TopK(%x, _)\n"
      "  () = Print(%x, _, %c) @\"printer\"\n"
      "  _ = Nop()\n"
      "  output %i\n");
  const Graph g = parse(text);
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[0].outputs, (std::vector<ValueId>{kNoValue, g.find("i")}));
  EXPECT_EQ(g.nodes[0].inputs, (std::vector<ValueId>{g.find("x"), kNoValue}));
  EXPECT_TRUE(g.nodes[0].name.empty());
  EXPECT_TRUE(g.nodes[1].outputs.empty());
  EXPECT_EQ(g.nodes[2].outputs, (std::vector<ValueId>{kNoValue}));
  EXPECT_TRUE(g.nodes[2].inputs.empty());
  ASSERT_NE(g.value(g.find("c")).constant, nullptr);
  EXPECT_EQ(g.inputs, (std::vector<ValueId>{g.find("x"), g.find("c")}));
  EXPECT_EQ(print(g), text);
}

TEST(Text, AttributeFloatsKeepAPointAndListsKeepTheirKind) {
  Graph g;
  const ValueId x = g.add_value("x", {});
  Node node{"Op", "", "", {x}, {}, {}};
  node.attributes = {
      {"f1", 1.0f},
      {"f2", 1e-5f},
      {"f3", std::numeric_limits<float>::infinity()},
      {"f4", -std::numeric_limits<float>::infinity()},
      {"f5", std::numeric_limits<float>::quiet_NaN()},
      {"f6", -0.0f},
      {"fs", std::vector<float>{1, 2.5f}},
      {"i", int64_t{-3}},
      {"no_floats", std::vector<float>{}},
      {"no_strings", std::vector<std::string>{}},
      {"no_tensors", std::vector<HostTensorPtr>{}},
      {"no_graphs", std::vector<GraphPtr>{}},
      {"ts", std::vector<HostTensorPtr>{tensor(ElementType::I8, {1}, {5}),
                                        tensor(ElementType::Bool, {}, {1})}},
  };
  g.nodes = {node};
  g.inputs = {x};
  const std::string text = round_trip(g);
  EXPECT_THAT(text, HasSubstr("() = Op(%x) {f1 = 1.0, f2 = 1e-05, f3 = inf, f4 = -inf, f5 = nan, "
                              "f6 = -0.0, fs = [1.0, 2.5], i = -3, no_floats = floats [], "
                              "no_graphs = graphs [], no_strings = strings [], "
                              "no_tensors = tensors [], ts = tensors [tensor i8[1] [5], "
                              "tensor bool[] [1]]}"));
  const Graph parsed = parse(text);
  const Node& back = parsed.nodes.at(0);
  for (const auto& [key, value] : node.attributes)
    EXPECT_EQ(back.attributes.at(key).index(), value.index()) << key;
  EXPECT_TRUE(std::signbit(*back.attribute<float>("f6")));
  EXPECT_TRUE(std::isnan(*back.attribute<float>("f5")));
}

TEST(Text, ListsTakeTheKindOfTheirFirstElementOrTheirPrefix) {
  const Graph g = parse(in_graph(
      "  () = Op() {a = [1.5, 2], b = floats [1, 2], c = [tensor f32[1] [1]], d = [-inf]}\n"));
  const Node& n = g.nodes[0];
  EXPECT_EQ(*n.attribute<std::vector<float>>("a"), (std::vector<float>{1.5f, 2}));
  EXPECT_EQ(*n.attribute<std::vector<float>>("b"), (std::vector<float>{1, 2}));
  EXPECT_EQ(n.attribute<std::vector<HostTensorPtr>>("c")->size(), 1u);
  EXPECT_NE(n.attribute<std::vector<float>>("d"), nullptr);
  EXPECT_EQ(parse_error(in_graph("  () = Op() {a = [1, 2.5]}\n")),
            "<ir>:2:22: expected an integer (ints), found '2.5'");
}

TEST(Text, CommentsBlankLinesAndCarriageReturnsAreIgnored) {
  const Graph g = parse(
      "# leading comment\n\ngraph \"g\" opset \"\"=13 {  # header\r\n"
      "\n"
      "  input %x: f32[2]   # an input\r\n"
      "  %y: f32[2] = Relu( %x )  @\"#not a comment\"\n"
      "\t\n"
      "  output %y\n"
      "}  # done\n\n# trailing\n");
  EXPECT_EQ(g.nodes.at(0).name, "#not a comment");
  EXPECT_EQ(g.outputs, (std::vector<ValueId>{g.find("y")}));
}

TEST(Text, LargeConstantsAreElided) {
  Graph g;
  add_constant(g, "big", tensor(ElementType::F32, {64, 64}, std::vector<uint8_t>(4 * 4096)));
  add_constant(g, "small", tensor(ElementType::F32, {16}, std::vector<uint8_t>(4 * 16)));
  const ValueId x = g.add_value("x", {});
  Node node{"Constant", "", "", {}, {x}, {}};
  node.attributes["value"] = tensor(ElementType::I8, {17}, std::vector<uint8_t>(17));
  g.nodes = {node};
  const std::string text = print(g);
  EXPECT_THAT(text, HasSubstr("const %big: f32[64,64] = <4096 elements>\n"));
  EXPECT_THAT(text, HasSubstr("const %small: f32[16] = [0, 0, 0,"));
  EXPECT_THAT(text, HasSubstr("%x = Constant() {value = tensor i8[17] <17 elements>}"));
  EXPECT_EQ(parse_error(text),
            "<ir>:2:28: constant data elided; print with a larger max_inline_elements");
  EXPECT_EQ(print(parse(print(g, kInline)), kInline), print(g, kInline));
}

TEST(Text, GraphAttributesPrintNestedAndParseBack) {
  const auto branch = [](const std::string& constant, const std::string& result, uint8_t v) {
    auto g = std::make_shared<Graph>();
    const ValueId c = add_constant(*g, constant, tensor(ElementType::U8, {}, {v}));
    const ValueId r = g->add_value(result, {ElementType::U8, std::vector<int64_t>{}});
    g->nodes = {Node{"Identity", "", "", {c}, {r}, {}}};
    g->outputs = {r};
    return g;
  };
  Graph g;
  g.name = "outer";
  g.opset = {{"", 17}};
  const ValueId cond = g.add_value("cond", {ElementType::Bool, std::vector<int64_t>{}});
  const ValueId out = g.add_value("out", {ElementType::U8, std::vector<int64_t>{}});
  Node node{"If", "", "", {cond}, {out}, {}};
  node.attributes["then_branch"] = GraphPtr(branch("one", "r1", 1));
  node.attributes["else_branch"] = GraphPtr(branch("zero", "r0", 0));
  node.attributes["cases"] = std::vector<GraphPtr>{branch("two", "r2", 2)};
  g.nodes = {node};
  g.inputs = {cond};
  g.outputs = {out};
  const std::string text = print(g);
  EXPECT_EQ(text, R"(graph "outer" opset ""=17 {
  input %cond: bool[]
  %out: u8[] = If(%cond) {cases = graphs [graph {
    const %two: u8[] = [2]
    %r2: u8[] = Identity(%two)
    output %r2
  }], else_branch = graph {
    const %zero: u8[] = [0]
    %r0: u8[] = Identity(%zero)
    output %r0
  }, then_branch = graph {
    const %one: u8[] = [1]
    %r1: u8[] = Identity(%one)
    output %r1
  }}
  output %out
}
)");
  const Graph back = parse(text);
  EXPECT_EQ(print(back), text);
  const GraphPtr* then_branch = back.nodes.at(0).attribute<GraphPtr>("then_branch");
  ASSERT_NE(then_branch, nullptr);
  EXPECT_EQ((*then_branch)->opset, g.opset);  // the top level's, which print() leaves out
  EXPECT_EQ(parse_error(in_graph("  () = If() {b = graph {\n  }}\n")), "(no error)");
}

TEST(Text, NestedGraphsReadOuterNamesOnly) {
  // %d is the outer graph's: the body holds it as a value without type or producer.
  const std::string text = R"(graph "g" opset ""=13 {
  input %d: f32[2]
  input %m: i64[]
  %y = Loop(%m, _) {body = graph {
    input %i: i64[]
    input %c: bool[]
    %c2: bool[] = Identity(%c)
    %s: f32[2] = Add(%d, %d)
    output %c2
    output %s
  }}
  output %y
}
)";
  const Graph g = parse(text);
  EXPECT_EQ(print(g), text);
  const Graph& body = **g.nodes.at(0).attribute<GraphPtr>("body");
  const ValueId d = body.find("d");
  ASSERT_NE(d, kNoValue);
  EXPECT_EQ(body.value(d).type, TensorType{});
  EXPECT_EQ(body.nodes.at(1).inputs, (std::vector<ValueId>{d, d}));
  // Names the body defines are not visible outside it.
  EXPECT_EQ(
      parse_error(in_graph("  input %x: f32[2]\n  () = If() {b = graph {\n    %z = Relu(%x)\n  "
                           "}}\n  %w = Relu(%z)\n")),
      "<ir>:6:13: undefined value %z");
  EXPECT_EQ(parse_error(in_graph("  () = If() {b = graph {\n    %z = Relu(%q)\n  }}\n")),
            "<ir>:3:15: undefined value %q");
}

TEST(Text, ErrorsNameTheSourceLineAndColumn) {
  struct Case {
    std::string body, error;
  };
  const std::vector<Case> cases = {
      {"  input %x: f31[2]\n", "<ir>:2:13: unknown element type 'f31'"},
      {"  input %x: f32[2,-3]\n",
       "<ir>:2:19: expected a dim (a non-negative integer or ?), found '-3'"},
      {"  input %x: f32[2]\n  %x = Relu(%x)\n", "<ir>:3:3: %x is defined twice (first on line 2)"},
      {"  input %x: f32[2]\n  %y, %y = Split(%x)\n",
       "<ir>:3:7: %y is defined twice (first on line 3)"},
      {"  input %x: f32[2]\n  %y = Relu(%z)\n", "<ir>:3:13: undefined value %z"},
      {"  input %x: f32[2]\n  %y = Relu(%y)\n", "<ir>:3:13: undefined value %y"},
      {"  output %\"a b\"\n", "<ir>:2:10: undefined value %\"a b\""},
      {"  const %w: f32[3] = [1, 2]\n", "<ir>:2:22: 3 elements expected, 2 given"},
      {"  const %w: f32[] = []\n", "<ir>:2:21: 1 elements expected, 0 given"},
      {"  const %c: u8[2] = [1, 300]\n", "<ir>:2:25: 300 is out of range for u8"},
      {"  const %c: i8[1] = [-129]\n", "<ir>:2:22: -129 is out of range for i8"},
      {"  const %c: u32[1] = [-1]\n", "<ir>:2:23: -1 is out of range for u32"},
      {"  const %c: i64[1] = [9223372036854775808]\n",
       "<ir>:2:23: 9223372036854775808 is out of range for i64"},
      {"  const %c: u64[1] = [18446744073709551616]\n",
       "<ir>:2:23: 18446744073709551616 is out of range for u64"},
      {"  const %c: bool[1] = [2]\n", "<ir>:2:24: expected 0 or 1 (bool), found 2"},
      {"  const %c: i32[1] = [1.5]\n", "<ir>:2:23: expected an integer (i32), found '1.5'"},
      {"  const %c: f32[1] = [1e40]\n", "<ir>:2:23: 1e40 is out of range for f32"},
      {"  const %c: f32[1] = [1e]\n", "<ir>:2:23: malformed number '1e'"},
      {"  const %c: f32[?] = [1]\n",
       "<ir>:2:22: data needs a type whose element type and every dim are known"},
      {"  const %c = [1]\n",
       "<ir>:2:14: data needs a type whose element type and every dim are "
       "known"},
      {"  input %x: f32[4611686018427387904,4]\n",
       "<ir>:2:16: the dims multiply to more than 2^63 - 1 elements"},
      {"  const %s: string[1] = [\"abc]\n", "<ir>:2:26: unterminated string"},
      {"  () = Op() @\"abc\\\n", "<ir>:2:14: unterminated string"},
      {"  () = Op() @\"a\\qb\"\n",
       "<ir>:2:16: unknown escape \\q (known: \\\" \\\\ \\n \\t \\xHH)"},
      {"  () = Op() @\"a\\x4\"\n", "<ir>:2:16: expected two hex digits after \\x"},
      {"  input %x: f32[2] extra\n", "<ir>:2:20: expected end of line, found 'extra'"},
      {"  input %x: f32[2]\n  output %x }\n", "<ir>:3:13: expected end of line, found '}'"},
      {"  input %x: f32[2]\n  %y = Relu(%x\n", "<ir>:3:15: expected ')', found end of line"},
      {"  () = Op() {a = 1, a = 2}\n", "<ir>:2:21: attribute a is given twice"},
      {"  () = Op() {a = []}\n",
       "<ir>:2:18: an empty list needs its kind: ints [], floats [], "
       "strings [], tensors [] or graphs []"},
      {"  () = Op() {a = 99999999999999999999}\n",
       "<ir>:2:18: 99999999999999999999 is out of range for int"},
      {"  () = Op() {a = %x}\n", "<ir>:2:18: expected an attribute value, found %x"},
      {"  () = \"\"()\n", "<ir>:2:8: expected an operator name, found string \"\""},
      {"  input %: f32[2]\n", "<ir>:2:9: expected a value name after %"},
      {"  input %x: f32[2]\n  $\n", "<ir>:3:3: unexpected character '$'"},
      {"  input %x: f32[2]\n  \x01\n", "<ir>:3:3: unexpected byte \"\\x01\""},
      {"  foo\n",
       "<ir>:2:3: expected a statement (input, const, a node, output or '}'), found "
       "'foo'"},
      {"  () = Op() {a = -x}\n", "<ir>:2:18: unexpected '-'"},
  };
  for (const Case& c : cases) EXPECT_EQ(parse_error(in_graph(c.body)), c.error) << c.body;
}

TEST(Text, ErrorsAroundTheGraph) {
  EXPECT_EQ(parse_error("graph \"g\" opset {\n  input %x: f32[2]\n"),
            "<ir>:3:1: expected '}' to end the graph, found end of input");
  EXPECT_EQ(parse_error("graph \"g\" opset {\n  input %x: f32[2]"),
            "<ir>:2:19: expected '}' to end the graph, found end of input");
  EXPECT_EQ(parse_error("graph \"g\" opset {"),
            "<ir>:1:18: expected '}' to end the graph, found end of input");
  EXPECT_EQ(parse_error("graph \"g\" opset {\n}\n\nextra\n"),
            "<ir>:4:1: unexpected 'extra' after the graph's closing '}'");
  EXPECT_EQ(parse_error("graph \"g\" opset {\n} }"),
            "<ir>:2:3: unexpected '}' after the graph's closing '}'");
  EXPECT_EQ(parse_error("graph \"g\" opset \"\"=1 \"\"=2 {\n}\n"),
            "<ir>:1:22: opset \"\" is given twice");
  EXPECT_EQ(parse_error("graph g opset {\n}\n"),
            "<ir>:1:7: expected the graph's name as a string, found 'g'");
  EXPECT_EQ(parse_error(""), "<ir>:1:1: expected 'graph', found end of input");
  EXPECT_EQ(parse_error("graph \"g\" {\n}\n", "model.ir"),
            "model.ir:1:11: expected 'opset', found '{'");
}

TEST(Text, ContainerTypesRoundTrip) {
  const std::string text =
      "graph \"c\" opset \"\"=16 {\n"
      "  input %o: optional(seq(f32[5]))\n"
      "  input %q: seq(undefined[*])\n"
      "  %p: optional(seq(f32[5])) = Identity(%o)\n"
      "  output %p\n"
      "}\n";
  const Graph g = parse(text);
  EXPECT_EQ(g.value(g.inputs.at(0)).type.containers,
            (std::vector<Container>{Container::Optional, Container::Sequence}));
  EXPECT_EQ(g.value(g.inputs.at(0)).type.dims, std::vector<int64_t>{5});
  EXPECT_FALSE(g.value(g.inputs.at(0)).type.fully_known());
  EXPECT_EQ(print(g), text);
  EXPECT_THAT(parse_error("graph \"c\" opset {\n  input %q: seq(f32[2]\n}\n"),
              HasSubstr("expected ')'"));
}

TEST(Text, EmptyGraphRoundTrips) {
  Graph g;
  EXPECT_EQ(round_trip(g), "graph \"\" opset {\n}\n");
}

// Truncations and single-byte mutations of a valid text parse or throw InputError; nothing else.
TEST(Text, MalformedTextOnlyEverThrowsInputError) {
  const std::string extra = in_graph(
      "  const %h: f16[1] = [0.1]\n  const %c: c128[1] = [(1, -nan)]\n"
      "  () = Op() {t = tensors [tensor bf16[2] [1, 2]], s = strings [\"\\x41\"]}\n");
  for (const std::string& base : {std::string(kExample), extra}) {
    ASSERT_NO_THROW(parse(base));
    const auto attempt = [](const std::string& mutated) {
      try {
        parse(mutated);
      } catch (const InputError&) {
      }
    };
    for (size_t n = 0; n < base.size(); ++n) ASSERT_NO_THROW(attempt(base.substr(0, n))) << n;
    for (size_t i = 0; i < base.size(); ++i) {
      for (char c : std::string_view("\"[]()%\n}{-9.#\\_:,=<?*@e\0x", 25)) {
        std::string mutated = base;
        mutated[i] = c;
        ASSERT_NO_THROW(attempt(mutated)) << i << " " << c;
      }
    }
  }
}

}  // namespace
}  // namespace seedchip::compiler::ir
