// Work the runtime does on the host at a graph's boundary, for values the chip does not hold:
// strings parsed into f32 and formatted from it (ONNX's Cast), and sequences and optionals passed
// through an Identity.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "compiler/frontend/onnx/onnx_loader.h"
#include "compiler/ir/text.h"
#include "runtime/conformance.h"
#include "runtime/model_file.h"
#include "runtime/runtime.h"
#include "tests/input_error.h"

namespace seedchip::runtime {
namespace {

using seedchip::testing::error_of;
using ::testing::HasSubstr;
namespace ir = compiler::ir;

const LoadedChip& chip() {
  static const LoadedChip loaded = load_chip("seedchip-v1");
  return loaded;
}

compiler::CompiledModel compile_text(const std::string& text) {
  return compiler::compile_graph(ir::parse(text), chip());
}

ir::HostTensor strings(std::vector<std::string> values) {
  ir::HostTensor t;
  t.element = ir::ElementType::String;
  t.dims = {static_cast<int64_t>(values.size())};
  t.strings = std::move(values);
  return t;
}

const std::string kParse = R"(graph "parse" opset ""=13 {
  input %s: string[9]
  %y: f32[9] = Cast(%s) {to = 1}
  output %y
})";

const std::string kFormat = R"(graph "format" opset ""=13 {
  input %x: f32[11]
  %s: string[11] = Cast(%x) {to = 8}
  output %s
})";

const std::string kPassThrough = R"(graph "pass" opset ""=16 {
  input %q: seq(f32[?])
  input %o: optional(f32[2])
  %q_out: seq(f32[?]) = Identity(%q)
  %o_out: optional(f32[2]) = Identity(%o)
  output %o_out
  output %q_out
})";

ir::HostTensor sequence(std::vector<ir::HostTensor> items) {
  ir::HostTensor t;
  t.container = ir::Container::Sequence;
  t.items = std::move(items);
  return t;
}

ir::HostTensor optional(std::vector<ir::HostTensor> value) {
  ir::HostTensor t;
  t.container = ir::Container::Optional;
  t.items = std::move(value);
  return t;
}

void expect_same_value(const ir::HostTensor& got, const ir::HostTensor& want) {
  EXPECT_EQ(got.container, want.container);
  EXPECT_EQ(got.element, want.element);
  EXPECT_EQ(got.dims, want.dims);
  EXPECT_EQ(got.bytes, want.bytes);
  ASSERT_EQ(got.items.size(), want.items.size());
  for (size_t i = 0; i < want.items.size(); ++i) expect_same_value(got.items[i], want.items[i]);
}

TEST(HostBoundary, StringInputsParseAsOnnxCastDoes) {
  const compiler::CompiledModel model = compile_text(kParse);
  const compiler::TensorSlot& s = model.tensors[model.inputs[0]];
  EXPECT_EQ(s.host_element, ir::ElementType::String);
  EXPECT_EQ(s.type.element, ir::ElementType::F32);
  const RunResult r = run_model(
      model, chip(),
      {{"s", strings({"NaN", "INF", "+INF", "-INF", "1e-05", "-0", " 2.5 ", "inFinity", ".5"})}});
  const std::vector<float> y = ir::host_values<float>(r.outputs.at(0));
  ASSERT_EQ(y.size(), 9u);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(y[2], std::numeric_limits<float>::infinity());
  EXPECT_EQ(y[3], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(y[4], 1e-05f);
  EXPECT_EQ(y[5], 0.0f);
  EXPECT_TRUE(std::signbit(y[5]));
  EXPECT_EQ(y[6], 2.5f);
  EXPECT_EQ(y[7], std::numeric_limits<float>::infinity());
  EXPECT_EQ(y[8], 0.5f);
}

TEST(HostBoundary, AStringThatIsNoNumberNamesTheInputElementAndText) {
  const compiler::CompiledModel model = compile_text(kParse);
  for (const std::string bad : {"abc", "", "1.5x", "+-1", "0x10"}) {
    std::vector<std::string> values(9, "1");
    values[3] = bad;
    EXPECT_THAT(error_of([&] {
                  run_model(model, chip(), {{"s", strings(values)}});
                }),
                HasSubstr("input 's': element 3 (\"" + bad + "\") is not a number"))
        << bad;
  }
  ir::HostTensor short_of_strings = strings(std::vector<std::string>(8, "1"));
  short_of_strings.dims = {9};
  EXPECT_THAT(error_of([&] {
                run_model(model, chip(), {{"s", short_of_strings}});
              }),
              HasSubstr("need 9 strings, the tensor holds 8"));
  EXPECT_THAT(
      error_of([&] {
        run_model(model, chip(),
                  {{"s", ir::host_tensor(ir::ElementType::F32, {9}, std::vector<float>(9, 1.0f))}});
      }),
      HasSubstr("compiled for string[9], the data is f32[9]"));
}

TEST(HostBoundary, StringOutputsFormatAsNumpyWritesAnF32) {
  const compiler::CompiledModel model = compile_text(kFormat);
  const compiler::TensorSlot& s = model.tensors[model.outputs[0]];
  EXPECT_EQ(s.host_element, ir::ElementType::String);
  EXPECT_EQ(s.type.element, ir::ElementType::F32);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> x = {0.9767611f, 1e-05f,  std::nanf(""), inf,       -inf,  -0.0f,
                                100.0f,     1.5e16f, 0.0001f,       123456.7f, 0.001f};
  const RunResult r =
      run_model(model, chip(), {{"x", ir::host_tensor(ir::ElementType::F32, {11}, x)}});
  ASSERT_EQ(r.outputs.at(0).element, ir::ElementType::String);
  EXPECT_EQ(r.outputs[0].strings,
            (std::vector<std::string>{"0.9767611", "1e-05", "nan", "inf", "-inf", "-0.0", "100.0",
                                      "1.5e+16", "1e-04", "123456.7", "0.001"}));
}

TEST(HostBoundary, OtherUsesOfStringsAreUnsupportedNamingTheTensor) {
  const auto unsupported = [](const std::string& text) -> std::string {
    try {
      compile_text(text);
    } catch (const compiler::UnsupportedError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_THAT(unsupported(R"(graph "mid" opset ""=13 {
    input %x: f32[2]
    %s: string[2] = Cast(%x) {to = 8}
    %y: f32[2] = Cast(%s) {to = 1}
    output %y
  })"),
              HasSubstr("string tensor 's': the chip holds no strings"));
  EXPECT_THAT(unsupported(R"(graph "to_int" opset ""=13 {
    input %s: string[2]
    %y: i32[2] = Cast(%s) {to = 6}
    output %y
  })"),
              HasSubstr("string tensor 's' is cast to i32"));
  EXPECT_THAT(unsupported(R"(graph "through" opset ""=13 {
    input %s: string[2]
    %y: string[2] = Identity(%s)
    output %y
  })"),
              HasSubstr("string tensor 's' is read by"));
}

TEST(HostBoundary, SequencesAndOptionalsPassThroughAnIdentity) {
  const compiler::CompiledModel model = compile_text(kPassThrough);
  EXPECT_EQ(model.passed_through,
            (std::map<std::string, std::string>{{"q_out", "q"}, {"o_out", "o"}}));
  ASSERT_EQ(model.inputs.size(), 2u);
  EXPECT_EQ(model.tensors[model.inputs[0]].name, "q");
  EXPECT_EQ(model.tensors[model.outputs[0]].name, "o_out");
  const ir::HostTensor q =
      sequence({ir::host_tensor(ir::ElementType::F32, {1}, std::vector{1.0f}),
                ir::host_tensor(ir::ElementType::F32, {3}, std::vector{2.0f, 3.0f, 4.0f})});
  const ir::HostTensor o =
      optional({ir::host_tensor(ir::ElementType::F32, {2}, std::vector{5.0f, 6.0f})});
  const RunResult r = run_model(model, chip(), {{"q", q}, {"o", o}});
  ASSERT_EQ(r.outputs.size(), 2u);
  EXPECT_EQ(r.output_names, (std::vector<std::string>{"o_out", "q_out"}));
  expect_same_value(r.outputs[0], o);
  expect_same_value(r.outputs[1], q);
  const RunResult empty = run_model(model, chip(), {{"q", sequence({})}, {"o", optional({})}});
  expect_same_value(empty.outputs.at(0), optional({}));
  expect_same_value(empty.outputs.at(1), sequence({}));
}

TEST(HostBoundary, AValueOfAnotherTypeIsAnInputErrorNamingTheInput) {
  const compiler::CompiledModel model = compile_text(kPassThrough);
  const ir::HostTensor tensor = ir::host_tensor(ir::ElementType::F32, {2}, std::vector{5.0f, 6.0f});
  const ir::HostTensor o = optional({tensor});
  EXPECT_THAT(error_of([&] {
                run_model(model, chip(), {{"q", tensor}, {"o", o}});
              }),
              HasSubstr("input 'q': expected seq(f32[?]), the value is not a seq"));
  EXPECT_THAT(error_of([&] {
                run_model(model, chip(), {{"q", o}, {"o", o}});
              }),
              HasSubstr("input 'q': expected seq(f32[?]), the value is not a seq"));
  const ir::HostTensor ints = ir::host_tensor(ir::ElementType::I32, {1}, std::vector<int32_t>{1});
  EXPECT_THAT(error_of([&] {
                run_model(model, chip(), {{"q", sequence({tensor, ints})}, {"o", o}});
              }),
              HasSubstr("input 'q': seq item 1: expected f32[?], the value is i32[1]"));
  EXPECT_THAT(error_of([&] {
                run_model(model, chip(), {{"q", sequence({})}, {"o", optional({tensor, tensor})}});
              }),
              HasSubstr("input 'o': an optional holds at most one value, this one 2"));
  EXPECT_THAT(error_of([&] {
                run_model(model, chip(), {{"q", sequence({})}});
              }),
              HasSubstr("input 'o' (optional(f32[2])) is not given"));
  const compiler::CompiledModel numeric = compile_text(kFormat);
  EXPECT_THAT(error_of([&] {
                run_model(numeric, chip(), {{"x", sequence({})}});
              }),
              HasSubstr("input 'x': expected f32[11], the value is a seq"));
}

TEST(HostBoundary, OtherUsesOfSequencesAreUnsupportedNamingTheValue) {
  try {
    compile_text(R"(graph "len" opset ""=16 {
      input %q: seq(f32[?])
      %y: f32[?] = Relu(%q)
      output %y
    })");
    FAIL() << "compiled a Relu of a sequence";
  } catch (const compiler::UnsupportedError& e) {
    EXPECT_THAT(e.what(), HasSubstr("'q' is a seq(f32[?]), which the chip does not hold"));
  }
}

TEST(HostBoundary, ModelFilesKeepTheBoundary) {
  for (const std::string& text : {kParse, kFormat, kPassThrough}) {
    const compiler::CompiledModel model = compile_text(text);
    const std::vector<uint8_t> bytes = serialize_model(model);
    const compiler::CompiledModel back = deserialize_model(bytes, "b.scp");
    EXPECT_EQ(serialize_model(back), bytes);
    EXPECT_EQ(back.passed_through, model.passed_through);
    ASSERT_EQ(back.tensors.size(), model.tensors.size());
    for (size_t i = 0; i < model.tensors.size(); ++i) {
      EXPECT_EQ(back.tensors[i].type, model.tensors[i].type);
      EXPECT_EQ(back.tensors[i].host_element, model.tensors[i].host_element);
    }
  }
  const compiler::CompiledModel back =
      deserialize_model(serialize_model(compile_text(kParse)), "b.scp");
  const RunResult r =
      run_model(back, chip(), {{"s", strings(std::vector<std::string>(9, "-2.5"))}});
  EXPECT_EQ(ir::host_values<float>(r.outputs.at(0)), std::vector<float>(9, -2.5f));
}

TEST(HostBoundary, TheConformanceCasesOfStringsSequencesAndOptionalsPass) {
  for (const char* name :
       {"test_cast_FLOAT_to_STRING", "test_cast_STRING_to_FLOAT", "test_castlike_FLOAT_to_STRING",
        "test_castlike_STRING_to_FLOAT_expanded", "test_identity_opt", "test_identity_sequence"}) {
    const CaseResult r = run_conformance_case(std::string(kOnnxTestData) + "/node/" + name, chip(),
                                              ConformanceOptions::fp32_grade());
    EXPECT_EQ(r.status, CaseStatus::kPass) << name << ": " << r.detail;
  }
}

}  // namespace
}  // namespace seedchip::runtime
