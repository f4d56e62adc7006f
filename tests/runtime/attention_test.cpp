// seedchip::Attention (the fuse pass's flash-attention kernel,
// compiler/codegen/lower_attention.cpp) against the unfused operators it replaces, on random data:
// both compared with a host reference in double precision. The online softmax sums in another
// order, so the results are not bit-equal; at bf16x6 products both must be FP32-accurate (NMSE <=
// 1e-10), at the default bf16x3 the fused kernel must be as accurate as the operators it replaces.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>

#include "arch/chip_loader.h"
#include "compiler/ir/text.h"
#include "compiler/passes/pass.h"
#include "runtime/runtime.h"
#include "sim/numerics/numerics.h"

namespace seedchip::runtime {
namespace {

namespace ir = compiler::ir;

// The scale as the graph's text writes it.
std::string scale_text(int64_t hd) { return std::to_string(1.0 / std::sqrt(double(hd))); }

struct Case {
  int64_t batch, kv, rows, hd, context;
  bool where, add, bf16_cache;
  bool v_rows = false;  // V given as [batch, context, kv, hd] rows and transposed, as gathered
  // Whether the kernel must take fewer cycles than the operators: not for a small f32 attention
  // with heads over two MXU tiles, whose K/V splitting runs on the few cores with tasks.
  bool faster = true;
};

std::string dims(std::initializer_list<int64_t> d) {
  std::string s = "[";
  for (int64_t x : d) s += (s.size() > 1 ? "," : "") + std::to_string(x);
  return s + "]";
}

// softmax(Q K / sqrt(hd) [masked]) V with K stored [b, kv, hd, context], as the LLM graphs write
// it.
std::string graph_text(const Case& c) {
  const char* cache = c.bf16_cache ? "bf16" : "f32";
  std::string t = "graph \"attention\" opset \"\"=13 {\n";
  t += "  input %q: f32" + dims({c.batch, c.kv, c.rows, c.hd}) + "\n";
  t += "  input %k: " + std::string(cache) + dims({c.batch, c.kv, c.hd, c.context}) + "\n";
  if (c.v_rows)
    t += "  input %v_rows: " + std::string(cache) + dims({c.batch, c.context, c.kv, c.hd}) + "\n";
  else
    t += "  input %v: " + std::string(cache) + dims({c.batch, c.kv, c.context, c.hd}) + "\n";
  if (c.where) t += "  input %visible: bool" + dims({c.batch, 1, 1, c.context}) + "\n";
  if (c.add) t += "  input %mask: f32" + dims({c.rows, c.context}) + "\n";
  t += "  const %scale: f32[] = [" + scale_text(c.hd) + "]\n";
  t += "  const %minus_inf: f32[] = [-inf]\n";
  const std::string s = "f32" + dims({c.batch, c.kv, c.rows, c.context});
  if (c.v_rows)
    t += "  %v: " + std::string(cache) + dims({c.batch, c.kv, c.context, c.hd}) +
         " = Transpose(%v_rows) {perm = [0, 2, 1, 3]}\n";
  t += "  %qk: " + s + " = MatMul(%q, %k)\n";
  t += "  %scores: " + s + " = Mul(%qk, %scale)\n";
  std::string last = "%scores";
  if (c.where) {
    t += "  %selected: " + s + " = Where(%visible, " + last + ", %minus_inf)\n";
    last = "%selected";
  }
  if (c.add) {
    t += "  %masked: " + s + " = Add(" + last + ", %mask)\n";
    last = "%masked";
  }
  t += "  %p: " + s + " = Softmax(" + last + ") {axis = -1}\n";
  t += "  %o: f32" + dims({c.batch, c.kv, c.rows, c.hd}) + " = MatMul(%p, %v)\n";
  t += "  output %o\n}\n";
  return t;
}

struct Data {
  std::map<std::string, ir::HostTensor> inputs;
  std::vector<double> reference;
};

Data make_data(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uniform;
  Data d;
  auto floats = [&](std::vector<int64_t> shape, bool bf16, float scale) {
    ir::HostTensor t;
    t.element = bf16 ? ir::ElementType::BF16 : ir::ElementType::F32;
    t.dims = std::move(shape);
    const auto n = static_cast<size_t>(t.element_count());
    std::vector<float> v(n);
    t.bytes.resize(n * (bf16 ? 2 : 4));
    for (size_t i = 0; i < n; ++i) {
      v[i] = normal(rng) * scale;
      if (bf16) {
        const uint16_t b = numerics::fp32_to_bf16(v[i]);
        v[i] = numerics::bf16_to_fp32(b);
        std::memcpy(t.bytes.data() + i * 2, &b, 2);
      } else {
        std::memcpy(t.bytes.data() + i * 4, &v[i], 4);
      }
    }
    return std::make_pair(t, v);
  };
  const auto [q, qv] = floats({c.batch, c.kv, c.rows, c.hd}, false, 2);
  const auto [k, kv] = floats({c.batch, c.kv, c.hd, c.context}, c.bf16_cache, 2);
  const auto [v, vv] = c.v_rows ? floats({c.batch, c.context, c.kv, c.hd}, c.bf16_cache, 1)
                                : floats({c.batch, c.kv, c.context, c.hd}, c.bf16_cache, 1);
  d.inputs = {{"q", q}, {"k", k}, {c.v_rows ? "v_rows" : "v", v}};
  // V[b][h][p][i], wherever it lies.
  const auto value = [&](int64_t b, int64_t h, int64_t p, int64_t i) {
    return vv[static_cast<size_t>(c.v_rows ? ((b * c.context + p) * c.kv + h) * c.hd + i
                                           : ((b * c.kv + h) * c.context + p) * c.hd + i)];
  };
  // Each sequence sees a prefix of the context (at least its first position), as in decode.
  std::vector<uint8_t> visible(static_cast<size_t>(c.batch * c.context));
  for (int64_t b = 0; b < c.batch; ++b) {
    const auto seen = 1 + static_cast<int64_t>(uniform(rng) * static_cast<float>(c.context - 1));
    for (int64_t p = 0; p < c.context; ++p)
      visible[static_cast<size_t>(b * c.context + p)] = p < seen;
  }
  if (c.where) {
    ir::HostTensor t;
    t.element = ir::ElementType::Bool;
    t.dims = {c.batch, 1, 1, c.context};
    t.bytes = visible;
    d.inputs["visible"] = t;
  }
  // A causal mask over the last `rows` positions, with finite biases elsewhere.
  std::vector<float> mask(static_cast<size_t>(c.rows * c.context));
  for (int64_t r = 0; r < c.rows; ++r)
    for (int64_t p = 0; p < c.context; ++p)
      mask[static_cast<size_t>(r * c.context + p)] =
          p > c.context - c.rows + r ? -std::numeric_limits<float>::infinity() : normal(rng);
  if (c.add) {
    ir::HostTensor t;
    t.element = ir::ElementType::F32;
    t.dims = {c.rows, c.context};
    t.bytes.resize(mask.size() * 4);
    std::memcpy(t.bytes.data(), mask.data(), t.bytes.size());
    d.inputs["mask"] = t;
  }
  const double scale = std::stof(scale_text(c.hd));
  for (int64_t b = 0; b < c.batch; ++b)
    for (int64_t h = 0; h < c.kv; ++h)
      for (int64_t r = 0; r < c.rows; ++r) {
        std::vector<double> s(static_cast<size_t>(c.context));
        double top = -INFINITY;
        for (int64_t p = 0; p < c.context; ++p) {
          double x = 0;
          for (int64_t i = 0; i < c.hd; ++i)
            x += double(qv[static_cast<size_t>(((b * c.kv + h) * c.rows + r) * c.hd + i)]) *
                 kv[static_cast<size_t>(((b * c.kv + h) * c.hd + i) * c.context + p)];
          x *= scale;
          if (c.where && !visible[static_cast<size_t>(b * c.context + p)]) x = -INFINITY;
          if (c.add) x += mask[static_cast<size_t>(r * c.context + p)];
          s[static_cast<size_t>(p)] = x;
          top = std::max(top, x);
        }
        double sum = 0;
        for (double& x : s) sum += (x = std::exp(x - top));
        for (int64_t i = 0; i < c.hd; ++i) {
          double o = 0;
          for (int64_t p = 0; p < c.context; ++p)
            o += s[static_cast<size_t>(p)] * value(b, h, p, i);
          d.reference.push_back(o / sum);
        }
      }
  return d;
}

double nmse(const ir::HostTensor& out, const std::vector<double>& ref) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    float x;
    std::memcpy(&x, out.bytes.data() + i * 4, 4);
    err += (x - ref[i]) * (x - ref[i]);
    norm += ref[i] * ref[i];
  }
  return err / norm;
}

class AttentionKernel : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionKernel, MatchesTheUnfusedOperators) {
  const Case c = GetParam();
  const ir::Graph g = ir::parse(graph_text(c));
  const Data d = make_data(c, 7);
  const LoadedChip chip = load_chip("seedchip-v1");
  // A bf16 cache takes bf16 products, as MatMul with a bf16 B does.
  const std::vector<compiler::MatmulPrecision> precisions =
      c.bf16_cache
          ? std::vector{compiler::MatmulPrecision::kBf16}
          : std::vector{compiler::MatmulPrecision::kBf16x3, compiler::MatmulPrecision::kBf16x6};
  for (const compiler::MatmulPrecision precision : precisions) {
    SCOPED_TRACE(std::string(compiler::precision_name(precision)));
    compiler::CompileOptions fused, unfused;
    fused.matmul_precision = unfused.matmul_precision = precision;
    for (const std::string& pass : compiler::passes::default_pipeline())
      if (pass != "fuse") unfused.passes.push_back(pass);
    const compiler::CompiledModel a = compiler::compile_graph(g, chip, fused);
    const compiler::CompiledModel b = compiler::compile_graph(g, chip, unfused);
    ASSERT_EQ(a.ops.size(), 1u);  // one Attention node (with V's Transpose)
    EXPECT_GT(b.ops.size(), 3u);
    const RunResult ra = run_model(a, chip, d.inputs), rb = run_model(b, chip, d.inputs);
    const double fused_error = nmse(ra.outputs.at(0), d.reference);
    const double unfused_error = nmse(rb.outputs.at(0), d.reference);
    if (precision == compiler::MatmulPrecision::kBf16x6) {
      EXPECT_LE(fused_error, 1e-10);
    }
    EXPECT_LE(fused_error, 2 * unfused_error + 1e-12);
    if (c.faster) {
      EXPECT_LT(ra.sim.core_cycles, rb.sim.core_cycles);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, AttentionKernel,
    ::testing::Values(Case{1, 1, 1, 8, 5, false, false, false},         // one row, tiny context
                      Case{2, 4, 2, 8, 200, true, false, false, true},  // decode, GQA, batch > 1
                      Case{1, 2, 8, 64, 300, true, false, true},        // bf16 cache, split context
                      Case{2, 1, 16, 32, 130, false, true, false},      // causal prefill
                      Case{1, 2, 24, 160, 257, true, true, false, false,
                           false},                                     // head_dim > a tile
                      Case{1, 1, 300, 16, 140, false, false, false}),  // rows over several tiles
    [](const ::testing::TestParamInfo<Case>& info) { return "case" + std::to_string(info.index); });

}  // namespace
}  // namespace seedchip::runtime
