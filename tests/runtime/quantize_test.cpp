// Quantized decode of stories260K on seedchip-v1 (compiler/passes/quantize.h): each scheme's
// logits against the host FP32 reference, teacher-forced with the reference's greedy tokens, and
// its simulated cycles and weight bytes per step. docs/quantization.md quotes the table this test
// prints:
//   build/tests/test_runtime --gtest_filter='QuantizedDecode.*'
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "compiler/codegen/compile.h"
#include "llm/reference.h"
#include "llm/sampler.h"
#include "runtime/generate.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {
namespace {

namespace passes = compiler::passes;
using passes::QuantFormat;

const std::string kStories = std::string(SEEDCHIP_SHARED_DATA_DIR) + "/models/stories260K.bin";
constexpr int64_t kPositions = 16;

struct Scheme {
  std::string name;
  compiler::MatmulPrecision precision = compiler::MatmulPrecision::kBf16x3;
  std::optional<passes::QuantizationOptions> quantization;
};

struct Figures {
  double nmse = 0;  // over every position's logits
  int quantized_products = 0;
  int argmax_agreements = 0;
  uint64_t cycles = 0;          // one decode step
  double hbm_bytes = 0;         // one decode step, every operator
  uint64_t weight_bytes = 0;    // the quantized products' weights (".q" constants)
  uint64_t scale_bytes = 0;     // their per-output-channel scales (".scale" constants)
  uint64_t constant_bytes = 0;  // every constant of the program
};

Figures measure(const llm::LlamaModel& model, const LoadedChip& chip, const Scheme& scheme) {
  compiler::CompileOptions options;
  options.matmul_precision = scheme.precision;
  options.quantization = scheme.quantization;
  ChipDecoder decoder(model, chip, kPositions, options);
  llm::ReferenceModel reference(model);
  Figures f;
  double error = 0, power = 0;
  int token = 1;  // BOS
  for (int64_t pos = 0; pos < kPositions; ++pos) {
    const StepResult r = decoder.step(token, pos);
    const std::span<const float> want = reference.forward(token, static_cast<int>(pos));
    for (size_t i = 0; i < want.size(); ++i) {
      const double d = static_cast<double>(r.logits.at(i)) - want[i];
      error += d * d;
      power += static_cast<double>(want[i]) * want[i];
    }
    f.argmax_agreements += llm::argmax(r.logits) == llm::argmax(want) ? 1 : 0;
    f.cycles = r.cycles;
    f.hbm_bytes = 0;
    for (const OpStats& op : *r.ops) f.hbm_bytes += op.hbm_bytes;
    token = llm::argmax(want);  // teacher-forced: both see the reference's text
  }
  f.nmse = error / power;
  for (const compiler::OpRecord& op : decoder.program().ops)
    f.quantized_products += op.op == "QuantizedMatMul" ? 1 : 0;
  for (const compiler::TensorSlot& t : decoder.program().tensors) {
    if (t.role != compiler::TensorRole::kConstant) continue;
    f.constant_bytes += t.bytes;
    const auto ends_with = [&](const std::string& suffix) {
      return t.name.size() > suffix.size() &&
             t.name.compare(t.name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (ends_with(".q")) f.weight_bytes += t.bytes;
    if (ends_with(".scale")) f.scale_bytes += t.bytes;
  }
  return f;
}

TEST(QuantizedDecode, EightBitSchemesStayCloseToFp32AndHalveTheWeights) {
  const llm::LlamaModel model = llm::load_llama2c(kStories);
  const LoadedChip chip = load_chip("seedchip-v1");
  const auto q = [](QuantFormat w, QuantFormat a) {
    return std::optional<passes::QuantizationOptions>(passes::QuantizationOptions{w, a});
  };
  const std::vector<Scheme> schemes = {
      {"default (no quantization, bf16x3)", compiler::MatmulPrecision::kBf16x3, std::nullopt},
      {"weights bf16, activations bf16", {}, q(QuantFormat::kBf16, QuantFormat::kBf16)},
      {"weights int8, activations bf16", {}, q(QuantFormat::kInt8, QuantFormat::kBf16)},
      {"weights fp8, activations fp8", {}, q(QuantFormat::kFp8E4m3, QuantFormat::kFp8E4m3)},
      {"weights int8, activations int8", {}, q(QuantFormat::kInt8, QuantFormat::kInt8)},
  };
  std::vector<Figures> figures;
  std::printf("stories260K on seedchip-v1, logits at %lld positions vs the FP32 reference\n",
              static_cast<long long>(kPositions));
  std::printf("%-36s %10s %7s %9s %11s %10s %9s %11s %9s\n", "scheme", "NMSE", "argmax", "cycles",
              "HBM B/step", "weight B", "scale B", "constant B", "products");
  for (const Scheme& s : schemes) {
    figures.push_back(measure(model, chip, s));
    const Figures& f = figures.back();
    std::printf("%-36s %10.3g %4d/%-2lld %9llu %11.0f %10llu %9llu %11llu %9d\n", s.name.c_str(),
                f.nmse, f.argmax_agreements, static_cast<long long>(kPositions),
                static_cast<unsigned long long>(f.cycles), f.hbm_bytes,
                static_cast<unsigned long long>(f.weight_bytes),
                static_cast<unsigned long long>(f.scale_bytes),
                static_cast<unsigned long long>(f.constant_bytes), f.quantized_products);
  }
  const Figures &bf16 = figures[1], &w8 = figures[2], &fp8 = figures[3], &int8 = figures[4];
  // BF16 keeps 8 significant bits, E4M3 4 and INT8 about 7 at the row's or channel's largest
  // value; the bounds leave 4x or more headroom over the measured figures (docs/quantization.md).
  EXPECT_LE(bf16.nmse, 1e-4);
  EXPECT_LE(w8.nmse, 1e-3);
  EXPECT_LE(int8.nmse, 1e-3);
  EXPECT_LE(fp8.nmse, 1e-2);
  for (const Figures* f : {&w8, &fp8, &int8}) {
    // One byte per weight where BF16 takes two, plus one f32 scale per output channel.
    EXPECT_EQ(f->weight_bytes * 2, bf16.weight_bytes);
    EXPECT_GT(f->scale_bytes, 0u);
    EXPECT_LT(f->weight_bytes + f->scale_bytes, bf16.weight_bytes * 55 / 100);
    EXPECT_LT(f->constant_bytes, bf16.constant_bytes);
  }
  // Without quantization the program keeps the f32 weights and their split BF16 parts.
  EXPECT_EQ(figures[0].weight_bytes, 0u);
  EXPECT_GT(figures[0].constant_bytes, 3 * bf16.constant_bytes);
}

// One product of a [4, 1024] row block with [1024, 32] constant weights: a narrow C, which the
// GEMM splits along K over groups of cores (INT32 or FP32 partial sums added on the VPU). Each
// scheme against the f32 product.
TEST(QuantizedMatMul, EachSchemeMatchesTheF32ProductAcrossKSlices) {
  constexpr int64_t kM = 4, kK = 1024, kN = 32;
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  auto tensor = [&](std::vector<int64_t> dims) {
    compiler::ir::HostTensor t;
    t.element = compiler::ir::ElementType::F32;
    t.dims = std::move(dims);
    std::vector<float> v(static_cast<size_t>(t.element_count()));
    for (float& x : v) x = normal(rng);
    t.bytes.resize(v.size() * 4);
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    return t;
  };
  const compiler::ir::HostTensor a = tensor({kM, kK}), w = tensor({kK, kN});
  compiler::ir::Graph g;
  g.name = "product";
  g.opset[""] = 13;
  const auto a_id = g.add_value("a", a.type());
  const auto w_id = g.add_value("w", w.type(), std::make_shared<compiler::ir::HostTensor>(w));
  const auto y_id =
      g.add_value("y", {compiler::ir::ElementType::F32, std::vector<int64_t>{kM, kN}});
  g.inputs = {a_id};
  g.outputs = {y_id};
  g.nodes.push_back({"MatMul", "", "product", {a_id, w_id}, {y_id}, {}});
  std::vector<double> want(static_cast<size_t>(kM * kN), 0.0);
  std::vector<float> av(static_cast<size_t>(kM * kK)), wv(static_cast<size_t>(kK * kN));
  std::memcpy(av.data(), a.bytes.data(), a.bytes.size());
  std::memcpy(wv.data(), w.bytes.data(), w.bytes.size());
  for (int64_t i = 0; i < kM; ++i)
    for (int64_t k = 0; k < kK; ++k)
      for (int64_t j = 0; j < kN; ++j)
        want[static_cast<size_t>(i * kN + j)] +=
            static_cast<double>(av[static_cast<size_t>(i * kK + k)]) *
            wv[static_cast<size_t>(k * kN + j)];
  const LoadedChip chip = load_chip("seedchip-v1");
  const struct {
    QuantFormat weights, activations;
    double max_nmse;
  } cases[] = {{QuantFormat::kBf16, QuantFormat::kBf16, 1e-4},
               {QuantFormat::kInt8, QuantFormat::kBf16, 1e-3},
               {QuantFormat::kInt8, QuantFormat::kInt8, 1e-3},
               {QuantFormat::kFp8E4m3, QuantFormat::kFp8E4m3, 1e-2}};
  for (const auto& c : cases) {
    compiler::CompileOptions options;
    options.quantization = passes::QuantizationOptions{c.weights, c.activations};
    const compiler::CompiledModel model = compiler::compile_graph(g, chip, options);
    const RunResult r = run_model(model, chip, {{"a", a}});
    std::vector<float> got(static_cast<size_t>(kM * kN));
    std::memcpy(got.data(), r.outputs.at(0).bytes.data(), got.size() * 4);
    double error = 0, power = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      error += (got[i] - want[i]) * (got[i] - want[i]);
      power += want[i] * want[i];
    }
    const std::string scheme = std::string(passes::quant_format_name(c.weights)) + " x " +
                               std::string(passes::quant_format_name(c.activations));
    EXPECT_LE(error / power, c.max_nmse) << scheme;
    ASSERT_EQ(model.ops.size(), 1u);
    EXPECT_EQ(model.ops[0].mapping.rfind("split-K", 0), 0u)
        << scheme << ": " << model.ops[0].mapping;
    std::printf("%-12s NMSE %.3g\n", scheme.c_str(), error / power);
  }
}

}  // namespace
}  // namespace seedchip::runtime
