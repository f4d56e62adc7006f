#include "llm/llama_graph.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "arch/error.h"

namespace seedchip::llm {

namespace {

namespace ir = compiler::ir;
using ir::ValueId;

ir::HostTensorPtr tensor_of(ir::ElementType element, std::vector<int64_t> dims, const void* data,
                            size_t bytes) {
  auto t = std::make_shared<ir::HostTensor>();
  t->element = element;
  t->dims = std::move(dims);
  t->bytes.resize(bytes);
  if (bytes) std::memcpy(t->bytes.data(), data, bytes);
  return t;
}

// Appends nodes whose outputs take fresh names; shapes are left to the compiler's shape inference.
class Builder {
 public:
  explicit Builder(ir::Graph& g) : g_(g) {}

  ValueId input(const std::string& name, ir::ElementType element, std::vector<int64_t> dims) {
    const ValueId v = g_.add_value(name, ir::TensorType{element, std::move(dims)});
    g_.inputs.push_back(v);
    return v;
  }
  ValueId weights(const std::string& name, std::vector<int64_t> dims, std::span<const float> w) {
    return g_.add_value(name, ir::TensorType{ir::ElementType::F32, dims},
                        tensor_of(ir::ElementType::F32, dims, w.data(), w.size_bytes()));
  }
  ValueId floats(const std::string& name, std::vector<int64_t> dims,
                 const std::vector<float>& values) {
    return g_.add_value(
        g_.unique_name(name), ir::TensorType{ir::ElementType::F32, dims},
        tensor_of(ir::ElementType::F32, dims, values.data(), values.size() * sizeof(float)));
  }
  ValueId ints(const std::string& name, std::vector<int64_t> dims,
               const std::vector<int64_t>& values) {
    return g_.add_value(
        g_.unique_name(name), ir::TensorType{ir::ElementType::I64, dims},
        tensor_of(ir::ElementType::I64, dims, values.data(), values.size() * sizeof(int64_t)));
  }
  ValueId int32s(const std::string& name, std::vector<int64_t> dims,
                 const std::vector<int32_t>& values) {
    return g_.add_value(
        g_.unique_name(name), ir::TensorType{ir::ElementType::I32, dims},
        tensor_of(ir::ElementType::I32, dims, values.data(), values.size() * sizeof(int32_t)));
  }
  ValueId shape(const std::vector<int64_t>& dims) {
    return ints("shape", {static_cast<int64_t>(dims.size())}, dims);
  }

  ValueId op(const std::string& type, std::vector<ValueId> inputs,
             std::map<std::string, ir::AttributeValue> attributes = {},
             const std::string& output = "") {
    ir::Node n;
    n.op = type;
    n.inputs = std::move(inputs);
    n.attributes = std::move(attributes);
    const ValueId out = g_.add_value(output.empty() ? g_.unique_name(type) : output, {});
    n.outputs = {out};
    g_.nodes.push_back(std::move(n));
    return out;
  }
  void output(ValueId v) { g_.outputs.push_back(v); }

  ValueId reshape(ValueId x, const std::vector<int64_t>& dims) {
    return op("Reshape", {x, shape(dims)});
  }
  // x @ W^T for W stored [out, in], as llama2.c and GGUF store projections.
  ValueId project(ValueId x, ValueId w) { return op("Gemm", {x, w}, {{"transB", int64_t{1}}}); }
  ValueId rms_norm(ValueId x, ValueId weight, float eps) {
    const ValueId mean_square =
        op("ReduceMean", {op("Mul", {x, x})}, {{"axes", std::vector<int64_t>{-1}}});
    const ValueId inverse =
        op("Reciprocal", {op("Sqrt", {op("Add", {mean_square, floats("eps", {}, {eps})})})});
    return op("Mul", {op("Mul", {x, inverse}), weight});
  }
  // Rotates each interleaved pair (a, b) of `x` ([1, heads * head_dim]) to (a c - b s, b c + a s)
  // as x * cos + swapped(x) * sin, where `swapped` exchanges the members of each pair (a reversed
  // slice) and this position's table rows ([1, 1, head_dim / 2, 2]) hold (c, c) and (-s, s). Since
  // x + (-y) is x - y exactly, these are run.c's numbers, in two multiplies and one add.
  ValueId rope(ValueId x, int64_t heads, int64_t head_dim, ValueId cos, ValueId sin) {
    const ValueId pairs = reshape(x, {1, heads, head_dim / 2, 2});
    const ValueId swapped = op("Slice", {pairs, ints("start", {1}, {1}),
                                         ints("end", {1}, {std::numeric_limits<int64_t>::min()}),
                                         ints("axis", {1}, {3}), ints("step", {1}, {-1})});
    const ValueId rotated = op("Add", {op("Mul", {pairs, cos}), op("Mul", {swapped, sin})});
    return reshape(rotated, {1, heads * head_dim});
  }

 private:
  ir::Graph& g_;
};

}  // namespace

ir::Graph build_decode_graph(const LlamaModel& model, int64_t context, bool layer_outputs) {
  const LlamaConfig& c = model.config;
  if (context < 1 || context > c.seq_len)
    throw InputError(model.path + ": a context of " + std::to_string(context) +
                     " positions is outside [1, seq_len = " + std::to_string(c.seq_len) + "]");
  const int64_t hd = c.head_dim(), kv_dim = c.kv_dim(), groups = c.n_heads / c.n_kv_heads;
  ir::Graph g;
  g.name = "llama-decode";
  g.opset[""] = 17;
  Builder b(g);

  const ValueId token = b.input("token", ir::ElementType::I32, {1});
  const ValueId pos = b.input("pos", ir::ElementType::I32, {1});
  std::vector<ValueId> k_cache, v_cache;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    k_cache.push_back(
        b.input(DecodeGraphNames::k_cache(l), ir::ElementType::F32, {context, kv_dim}));
    v_cache.push_back(
        b.input(DecodeGraphNames::v_cache(l), ir::ElementType::F32, {context, kv_dim}));
  }

  // RoPE tables as run.c computes them (in float): pair j of a head turns by pos * theta^(-2j/hd);
  // per pair the cosine twice and the sine as (-s, s) (see Builder::rope).
  std::vector<float> cos_table, sin_table;
  for (int64_t p = 0; p < context; ++p)
    for (int64_t j = 0; j < hd / 2; ++j) {
      const float freq =
          1.0f / std::pow(c.rope_theta, static_cast<float>(2 * j) / static_cast<float>(hd));
      const float angle = static_cast<float>(p) * freq;
      cos_table.insert(cos_table.end(), {std::cos(angle), std::cos(angle)});
      sin_table.insert(sin_table.end(), {-std::sin(angle), std::sin(angle)});
    }
  auto row_at_pos = [&](const std::string& name, const std::vector<float>& table) {
    const ValueId t = b.floats(name, {context, hd / 2, 2}, table);
    return b.reshape(b.op("Gather", {t, pos}, {{"axis", int64_t{0}}}), {1, 1, hd / 2, 2});
  };
  const ValueId cos = row_at_pos("rope_cos", cos_table), sin = row_at_pos("rope_sin", sin_table);

  // Position masks: the cache row written now, and the rows attention may read (<= pos).
  std::vector<int32_t> iota(static_cast<size_t>(context));
  for (int64_t p = 0; p < context; ++p) iota[static_cast<size_t>(p)] = static_cast<int32_t>(p);
  const ValueId this_row = b.op("Equal", {b.int32s("rows", {context, 1}, iota), pos});
  const ValueId visible = b.op("LessOrEqual", {b.int32s("columns", {1, 1, context}, iota), pos});
  const ValueId minus_inf = b.floats("minus_inf", {}, {-std::numeric_limits<float>::infinity()});
  const ValueId scale = b.floats("scale", {}, {1.0f / std::sqrt(static_cast<float>(hd))});

  const ValueId embedding =
      b.weights("token_embedding", {c.vocab_size, c.dim}, model.weights.token_embedding);
  ValueId x = b.op("Gather", {embedding, token}, {{"axis", int64_t{0}}});
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LlamaLayer& w = model.weights.layers[static_cast<size_t>(l)];
    const std::string p = "layer" + std::to_string(l) + ".";
    auto matrix = [&](const char* name, int64_t rows, int64_t cols, std::span<const float> data) {
      return b.weights(p + name, {rows, cols}, data);
    };
    const ValueId h = b.rms_norm(x, b.weights(p + "rms_att", {c.dim}, w.rms_att), c.norm_eps);
    const ValueId q =
        b.rope(b.project(h, matrix("wq", c.dim, c.dim, w.wq)), c.n_heads, hd, cos, sin);
    const ValueId k =
        b.rope(b.project(h, matrix("wk", kv_dim, c.dim, w.wk)), c.n_kv_heads, hd, cos, sin);
    const ValueId v = b.project(h, matrix("wv", kv_dim, c.dim, w.wv));
    const ValueId k_next = b.op("Where", {this_row, k, k_cache[static_cast<size_t>(l)]}, {},
                                DecodeGraphNames::k_next(l));
    const ValueId v_next = b.op("Where", {this_row, v, v_cache[static_cast<size_t>(l)]}, {},
                                DecodeGraphNames::v_next(l));
    b.output(k_next);
    b.output(v_next);
    // Grouped-query attention as a batch over the K/V heads: query head h = kv * groups + g, so
    // the queries read as [kv_heads, groups, hd] meet their head's keys [kv_heads, hd, context]
    // in one batched product, and the cache is never copied per query head.
    const ValueId keys = b.op("Transpose", {b.reshape(k_next, {context, c.n_kv_heads, hd})},
                              {{"perm", std::vector<int64_t>{1, 2, 0}}});  // [kv, hd, context]
    const ValueId values = b.op("Transpose", {b.reshape(v_next, {context, c.n_kv_heads, hd})},
                                {{"perm", std::vector<int64_t>{1, 0, 2}}});  // [kv, context, hd]
    const ValueId scores =
        b.op("Mul", {b.op("MatMul", {b.reshape(q, {c.n_kv_heads, groups, hd}), keys}), scale});
    const ValueId weights =
        b.op("Softmax", {b.op("Where", {visible, scores, minus_inf})}, {{"axis", int64_t{-1}}});
    const ValueId attended = b.reshape(b.op("MatMul", {weights, values}), {1, c.dim});
    x = b.op("Add", {x, b.project(attended, matrix("wo", c.dim, c.dim, w.wo))});

    const ValueId f = b.rms_norm(x, b.weights(p + "rms_ffn", {c.dim}, w.rms_ffn), c.norm_eps);
    const ValueId gate = b.project(f, matrix("w1", c.hidden_dim, c.dim, w.w1));
    const ValueId up = b.project(f, matrix("w3", c.hidden_dim, c.dim, w.w3));
    const ValueId silu = b.op("Mul", {gate, b.op("Sigmoid", {gate})});
    x = b.op("Add",
             {x, b.project(b.op("Mul", {silu, up}), matrix("w2", c.dim, c.hidden_dim, w.w2))}, {},
             layer_outputs ? DecodeGraphNames::layer_output(l) : "");
    if (layer_outputs) b.output(x);
  }
  const ValueId final_norm =
      b.rms_norm(x, b.weights("rms_final", {c.dim}, model.weights.rms_final), c.norm_eps);
  const ValueId classifier = c.shared_classifier ? embedding
                                                 : b.weights("classifier", {c.vocab_size, c.dim},
                                                             model.weights.classifier);
  const ValueId logits = b.op("Gemm", {final_norm, classifier}, {{"transB", int64_t{1}}}, "logits");
  g.outputs.insert(g.outputs.begin(), logits);
  return g;
}

}  // namespace seedchip::llm
