#include "compiler/passes/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "arch/error.h"
#include "sim/numerics/numerics.h"

namespace seedchip::compiler::passes {

namespace {

using ir::ValueId;

constexpr const char* kDomain = "seedchip";

// The IR attribute naming a format: the ISA's data type name (docs/isa.md).
std::string attribute_name(QuantFormat f) {
  switch (f) {
    case QuantFormat::kBf16:
      return "bf16";
    case QuantFormat::kFp8E4m3:
      return "fp8e4m3";
    case QuantFormat::kInt8:
      return "int8";
  }
  return "?";
}

// The largest magnitude a format's quantized values take (symmetric quantization).
float largest_code(QuantFormat f) { return f == QuantFormat::kInt8 ? 127.0f : 448.0f; }

// A constant f32 [K, N] weight matrix read from a constant of dims [K, N], or [N, K] when
// `transposed` (Gemm's transB).
struct Weights {
  int64_t k = 0, n = 0;
  std::vector<float> values;  // row-major [K, N]
};

std::optional<Weights> read_weights(const ir::Graph& g, ValueId v, bool transposed) {
  const ir::HostTensor* t = g.value(v).constant.get();
  if (!t || t->element != ir::ElementType::F32 || t->dims.size() != 2) return std::nullopt;
  Weights w;
  const int64_t rows = t->dims[0], cols = t->dims[1];
  w.k = transposed ? cols : rows;
  w.n = transposed ? rows : cols;
  std::vector<float> stored(static_cast<size_t>(rows * cols));
  std::memcpy(stored.data(), t->bytes.data(), stored.size() * 4);
  if (!transposed) {
    w.values = std::move(stored);
    return w;
  }
  w.values.resize(stored.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      w.values[static_cast<size_t>(c * rows + r)] = stored[static_cast<size_t>(r * cols + c)];
  return w;
}

// The stored weights and (8-bit formats) their scales, as the header describes.
struct QuantizedWeights {
  ir::HostTensor data;
  std::optional<ir::HostTensor> scale;
};

QuantizedWeights quantize_weights(const Weights& w, const QuantizationOptions& o) {
  QuantizedWeights q;
  q.data.dims = {w.k, w.n};
  const auto count = static_cast<size_t>(w.k * w.n);
  if (o.weights == QuantFormat::kBf16) {
    q.data.element = ir::ElementType::BF16;
    q.data.bytes.resize(count * 2);
    for (size_t i = 0; i < count; ++i) {
      const uint16_t bits = numerics::fp32_to_bf16(w.values[i]);
      std::memcpy(q.data.bytes.data() + i * 2, &bits, 2);
    }
    return q;
  }
  const bool per_channel = o.granularity == ScaleGranularity::kPerOutputChannel;
  std::vector<float> largest(per_channel ? static_cast<size_t>(w.n) : 1, 0.0f);
  for (size_t i = 0; i < count; ++i) {
    float& m = largest[per_channel ? i % static_cast<size_t>(w.n) : 0];
    m = std::max(m, std::fabs(w.values[i]));
  }
  std::vector<float> scales(largest.size());
  for (size_t c = 0; c < scales.size(); ++c)
    scales[c] = largest[c] > 0 ? largest[c] / largest_code(o.weights) : 1.0f;
  q.data.element = o.weights == QuantFormat::kInt8 ? ir::ElementType::I8 : ir::ElementType::U8;
  q.data.bytes.resize(count);
  for (size_t i = 0; i < count; ++i) {
    const float x = w.values[i] / scales[per_channel ? i % static_cast<size_t>(w.n) : 0];
    q.data.bytes[i] = o.weights == QuantFormat::kInt8
                          ? static_cast<uint8_t>(numerics::fp32_to_int8(x))
                          : numerics::fp32_to_fp8_e4m3(x);
  }
  ir::HostTensor s;
  s.element = ir::ElementType::F32;
  s.dims = {static_cast<int64_t>(scales.size())};
  s.bytes.resize(scales.size() * 4);
  std::memcpy(s.bytes.data(), scales.data(), s.bytes.size());
  q.scale = std::move(s);
  return q;
}

bool is_f32_known(const ir::Graph& g, ValueId v) {
  const ir::TensorType& t = g.value(v).type;
  return t.element == ir::ElementType::F32 && t.fully_known();
}

float float_attribute(const ir::Node& n, const std::string& key, float fallback) {
  const float* f = n.attribute<float>(key);
  return f ? *f : fallback;
}

int64_t int_attribute(const ir::Node& n, const std::string& key, int64_t fallback) {
  const int64_t* i = n.attribute<int64_t>(key);
  return i ? *i : fallback;
}

// The weights of a node the pass rewrites, or nullopt when it leaves the node as it is.
std::optional<Weights> rewritable_weights(const ir::Graph& g, const ir::Node& n) {
  if (!n.domain.empty() && n.domain != "ai.onnx") return std::nullopt;
  if (n.inputs.size() < 2 || n.outputs.size() != 1) return std::nullopt;
  const ValueId a = n.inputs[0], y = n.outputs[0];
  if (!is_f32_known(g, a) || !is_f32_known(g, y) || g.value(a).type.dims->size() < 2)
    return std::nullopt;
  if (n.op == "MatMul") return read_weights(g, n.inputs[1], false);
  if (n.op != "Gemm") return std::nullopt;
  // Other Gemm forms keep the exact ONNX lowering rather than growing the quantized node.
  if (int_attribute(n, "transA", 0) != 0 || float_attribute(n, "alpha", 1.0f) != 1.0f ||
      float_attribute(n, "beta", 1.0f) != 1.0f)
    return std::nullopt;
  if (n.inputs.size() > 2 && n.inputs[2] != ir::kNoValue && !is_f32_known(g, n.inputs[2]))
    return std::nullopt;
  return read_weights(g, n.inputs[1], int_attribute(n, "transB", 0) != 0);
}

}  // namespace

std::string_view quant_format_name(QuantFormat f) {
  switch (f) {
    case QuantFormat::kBf16:
      return "bf16";
    case QuantFormat::kFp8E4m3:
      return "fp8";
    case QuantFormat::kInt8:
      return "int8";
  }
  return "?";
}

QuantFormat quant_format_from_name(std::string_view name) {
  for (QuantFormat f : {QuantFormat::kBf16, QuantFormat::kFp8E4m3, QuantFormat::kInt8})
    if (quant_format_name(f) == name) return f;
  throw InputError("unknown quantization format '" + std::string(name) +
                   "' (expected bf16, fp8 or int8)");
}

void check_quantization(const QuantizationOptions& o) {
  if (o.activations != QuantFormat::kBf16 && o.activations != o.weights)
    throw InputError("activations in " + std::string(quant_format_name(o.activations)) +
                     " need weights in " + std::string(quant_format_name(o.activations)) +
                     ", not " + std::string(quant_format_name(o.weights)) +
                     ": the MXU multiplies two operands of one format");
}

int quantize(ir::Graph& graph, const QuantizationOptions& options) {
  check_quantization(options);
  std::vector<ir::Node> nodes;
  int rewritten = 0;
  for (ir::Node& n : graph.nodes) {
    const std::optional<Weights> w = rewritable_weights(graph, n);
    if (!w) {
      nodes.push_back(std::move(n));
      continue;
    }
    ++rewritten;
    const std::string base = graph.value(n.inputs[1]).name;
    QuantizedWeights q = quantize_weights(*w, options);
    const ir::TensorType data_type = q.data.type();
    const ValueId data = graph.add_value(graph.unique_name(base + ".q"), data_type,
                                         std::make_shared<const ir::HostTensor>(std::move(q.data)));
    ir::Node product;
    product.op = "QuantizedMatMul";
    product.domain = kDomain;
    product.name = n.name;
    product.inputs = {n.inputs[0], data};
    if (q.scale) {
      const ir::TensorType scale_type = q.scale->type();
      product.inputs.push_back(
          graph.add_value(graph.unique_name(base + ".scale"), scale_type,
                          std::make_shared<const ir::HostTensor>(std::move(*q.scale))));
    }
    product.attributes["weights"] = attribute_name(options.weights);
    product.attributes["activations"] = attribute_name(options.activations);
    const ValueId y = n.outputs[0];
    const bool with_bias = n.op == "Gemm" && n.inputs.size() > 2 && n.inputs[2] != ir::kNoValue;
    if (!with_bias) {
      product.outputs = {y};
      nodes.push_back(std::move(product));
      continue;
    }
    const ir::TensorType y_type = graph.value(y).type;
    const ValueId unbiased =
        graph.add_value(graph.unique_name(graph.value(y).name + ".product"), y_type);
    product.outputs = {unbiased};
    ir::Node add;
    add.op = "Add";
    if (!n.name.empty()) add.name = n.name + ".bias";
    add.inputs = {unbiased, n.inputs[2]};
    add.outputs = {y};
    nodes.push_back(std::move(product));
    nodes.push_back(std::move(add));
  }
  graph.nodes = std::move(nodes);
  if (rewritten > 0) graph.opset.emplace(kDomain, 1);
  return rewritten;
}

Pass quantize_pass(const QuantizationOptions& options) {
  return {"quantize",
          "store constant MatMul/Gemm weights in bf16, fp8 or int8 with scales (only with "
          "--quantize-weights / --quantize-activations)",
          [options](ir::Graph& g) { quantize(g, options); }};
}

}  // namespace seedchip::compiler::passes
