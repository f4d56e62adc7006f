#include "runtime/runtime.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <functional>

#include "compiler/frontend/onnx/onnx_loader.h"
#include "runtime/conformance.h"
#include "runtime/model_file.h"
#include "tests/input_error.h"

namespace seedchip::runtime {
namespace {

using ::testing::HasSubstr;
namespace ir = compiler::ir;

const std::string kCase = std::string(kOnnxTestData) + "/node/test_matmul_2d/";

using seedchip::testing::error_of;

compiler::CompiledModel compile_case(const LoadedChip& chip) {
  return compiler::compile_graph(compiler::frontend::load_onnx_model(kCase + "model.onnx"), chip);
}

std::map<std::string, ir::HostTensor> case_inputs(const compiler::CompiledModel& m) {
  std::map<std::string, ir::HostTensor> in;
  for (int i = 0; i < 2; ++i)
    in[m.tensors[m.inputs[static_cast<size_t>(i)]].name] = compiler::frontend::load_onnx_tensor(
        kCase + "test_data_set_0/input_" + std::to_string(i) + ".pb");
  return in;
}

TEST(Runtime, ModelFileRoundTripsAndRuns) {
  const LoadedChip chip = load_chip("seedchip-v1");
  const compiler::CompiledModel model = compile_case(chip);
  const std::vector<uint8_t> bytes = serialize_model(model);
  const compiler::CompiledModel back = deserialize_model(bytes, "m.scp");
  EXPECT_EQ(serialize_model(back), bytes);
  const RunResult r = run_model(back, chip, case_inputs(back));
  ASSERT_EQ(r.outputs.size(), 1u);
  const ir::HostTensor expected =
      compiler::frontend::load_onnx_tensor(kCase + "test_data_set_0/output_0.pb");
  ASSERT_EQ(r.outputs[0].bytes.size(), expected.bytes.size());
  for (size_t i = 0; i < expected.bytes.size(); i += 4) {
    float got, want;
    std::memcpy(&got, r.outputs[0].bytes.data() + i, 4);
    std::memcpy(&want, expected.bytes.data() + i, 4);
    EXPECT_NEAR(got, want, 1e-4 * std::max(1.0f, std::fabs(want)));
  }
  // One operator, ending at the program's only barrier, owns every cycle.
  ASSERT_EQ(r.ops.size(), 1u);
  EXPECT_GT(r.ops[0].cycles, 0u);
  EXPECT_GT(r.ops[0].mxu_utilization, 0.0);
}

TEST(Runtime, RefusesAnotherChip) {
  const compiler::CompiledModel model = compile_case(load_chip("seedchip-v1"));
  const LoadedChip other = load_chip("seedchip-v1", {"sram.bytes=4194304"});
  EXPECT_THAT(error_of([&] { run_model(model, other, case_inputs(model)); }),
              HasSubstr("compiled for chip 'seedchip-v1'"));
}

TEST(Runtime, NamesMissingAndMistypedInputs) {
  const LoadedChip chip = load_chip("seedchip-v1");
  const compiler::CompiledModel model = compile_case(chip);
  auto inputs = case_inputs(model);
  const std::string first = model.tensors[model.inputs[0]].name;
  auto missing = inputs;
  missing.erase(first);
  EXPECT_THAT(error_of([&] { run_model(model, chip, missing); }),
              HasSubstr("input '" + first + "'"));
  auto wrong = inputs;
  wrong[first].dims = {static_cast<int64_t>(wrong[first].bytes.size() / 4)};
  EXPECT_THAT(error_of([&] { run_model(model, chip, wrong); }), HasSubstr("compiled for f32["));
  auto extra = inputs;
  extra["nope"] = inputs[first];
  EXPECT_THAT(error_of([&] { run_model(model, chip, extra); }),
              HasSubstr("'nope' is not an input"));
}

TEST(Runtime, CorruptModelFilesAreClearErrors) {
  const std::vector<uint8_t> bytes = serialize_model(compile_case(load_chip("seedchip-v1")));
  for (size_t cut : {size_t{4}, size_t{20}, bytes.size() / 2, bytes.size() - 1}) {
    const std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<long>(cut));
    EXPECT_THAT(error_of([&] { deserialize_model(part, "cut.scp"); }), HasSubstr("cut.scp: "));
  }
  std::vector<uint8_t> version = bytes;
  version[8] = 99;
  EXPECT_THAT(error_of([&] { deserialize_model(version, "v.scp"); }),
              HasSubstr("format version 99"));
}

// A sample of conformance cases, one per kernel family, small enough for the sanitizer build.
TEST(Runtime, RepresentativeConformanceCasesPass) {
  const LoadedChip chip = load_chip("seedchip-v1");
  for (const char* c :
       {"node/test_matmul_4d", "node/test_gemm_all_attributes",
        "node/test_conv_with_strides_padding", "node/test_maxpool_2d_pads",
        "node/test_averagepool_2d_pads", "node/test_softmax_axis_1",
        "node/test_layer_normalization_3d_axis1_epsilon", "node/test_split_equal_parts_1d",
        "node/test_transpose_all_permutations_3", "node/test_add_bcast", "node/test_sigmoid",
        "node/test_tril_square", "node/test_convtranspose_pads", "node/test_argmax_keepdims_random",
        "pytorch-converted/test_Conv2d_groups"}) {
    const CaseResult r = run_conformance_case(std::string(kOnnxTestData) + "/" + c, chip,
                                              ConformanceOptions::fp32_grade());
    EXPECT_EQ(r.status, CaseStatus::kPass) << c << ": " << r.detail;
  }
}

TEST(Runtime, TimingOnlyNeedsNoInputs) {
  const LoadedChip chip = load_chip("seedchip-v1");
  RunOptions o;
  o.functional = false;
  const RunResult r = run_model(compile_case(chip), chip, {}, o);
  EXPECT_TRUE(r.sim.completed);
  EXPECT_TRUE(r.outputs.empty());
}

TEST(Runtime, FunctionalOnlyGivesTheTimedOutputsToTheBit) {
  const LoadedChip chip = load_chip("seedchip-v1");
  for (const char* c : {"node/test_gemm_all_attributes", "node/test_conv_with_strides_padding",
                        "node/test_softmax_axis_1", "node/test_matmul_4d"}) {
    const std::string dir = std::string(kOnnxTestData) + "/" + c + "/";
    const compiler::CompiledModel model =
        compiler::compile_graph(compiler::frontend::load_onnx_model(dir + "model.onnx"), chip);
    std::map<std::string, ir::HostTensor> inputs;
    for (size_t i = 0; i < model.inputs.size(); ++i) {
      const std::string file = dir + "test_data_set_0/input_" + std::to_string(i) + ".pb";
      if (!std::ifstream(file)) break;
      inputs[model.tensors[model.inputs[i]].name] = compiler::frontend::load_onnx_tensor(file);
    }
    RunOptions untimed;
    untimed.timing = false;
    const RunResult timed = run_model(model, chip, inputs);
    const RunResult fast = run_model(model, chip, inputs, untimed);
    ASSERT_EQ(fast.outputs.size(), timed.outputs.size()) << c;
    for (size_t o = 0; o < timed.outputs.size(); ++o)
      EXPECT_EQ(fast.outputs[o].bytes, timed.outputs[o].bytes) << c << " output " << o;
    EXPECT_EQ(fast.sim.core_cycles, 0u);
    EXPECT_TRUE(fast.ops.empty());
  }
}

// Doubling both factors of the product quadruples it: the second run must see its own inputs.
TEST(Runtime, AFunctionalOnlyModelRunsAgainWithNewInputs) {
  const LoadedChip chip = load_chip("seedchip-v1");
  const compiler::CompiledModel model = compile_case(chip);
  RunOptions untimed;
  untimed.timing = false;
  LoadedModel resident(model, chip, untimed);
  std::map<std::string, ir::HostTensor> inputs = case_inputs(model);
  const RunResult first = resident.run(inputs);
  for (auto& [name, tensor] : inputs)
    for (size_t i = 0; i < tensor.bytes.size(); i += 4) {
      float x;
      std::memcpy(&x, tensor.bytes.data() + i, 4);
      x *= 2;
      std::memcpy(tensor.bytes.data() + i, &x, 4);
    }
  const RunResult second = resident.run(inputs);
  EXPECT_EQ(second.outputs[0].bytes, run_model(model, chip, inputs).outputs[0].bytes);
  float a, b;
  std::memcpy(&a, first.outputs[0].bytes.data(), 4);
  std::memcpy(&b, second.outputs[0].bytes.data(), 4);
  EXPECT_FLOAT_EQ(b, 4 * a);
}

TEST(Runtime, ATimedModelRunsOnce) {
  const LoadedChip chip = load_chip("seedchip-v1");
  const compiler::CompiledModel model = compile_case(chip);
  LoadedModel timed(model, chip);
  timed.run(case_inputs(model));
  EXPECT_THROW(timed.run(case_inputs(model)), std::logic_error);
}

}  // namespace
}  // namespace seedchip::runtime
