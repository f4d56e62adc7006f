#include "llm/llama_graph.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "arch/error.h"
#include "llm/graph_builder.h"

namespace seedchip::llm {

namespace ir = compiler::ir;
using ir::ValueId;

ir::Graph build_decode_graph(const LlamaModel& model, const DecodeShape& shape,
                             bool layer_outputs) {
  const LlamaConfig& c = model.config;
  const int64_t batch = shape.batch, context = shape.context;
  if (context < 1 || context > c.seq_len)
    throw InputError(model.path + ": a context of " + std::to_string(context) +
                     " positions is outside [1, seq_len = " + std::to_string(c.seq_len) + "]");
  if (batch < 1)
    throw InputError(model.path + ": a batch of " + std::to_string(batch) +
                     " sequences; expected at least 1");
  if (shape.pool_rows < 1)
    throw InputError(model.path + ": a KV pool of " + std::to_string(shape.pool_rows) +
                     " rows; expected at least 1");
  const int64_t hd = c.head_dim(), kv_dim = c.kv_dim(), groups = c.n_heads / c.n_kv_heads;
  ir::Graph g;
  g.name = "llama-decode";
  g.opset[""] = 17;
  GraphBuilder b(g);

  const ValueId token = b.input("token", ir::ElementType::I32, {batch});
  const ValueId pos = b.input("pos", ir::ElementType::I32, {batch});
  const ValueId slots = b.input("slots", ir::ElementType::I32, {batch, context});
  const ValueId write_slot = b.input("write_slot", ir::ElementType::I64, {batch, 1});
  std::vector<ValueId> k_pool, v_pool;
  for (int64_t l = 0; l < c.n_layers; ++l) {
    k_pool.push_back(
        b.input(DecodeGraphNames::k_pool(l), ir::ElementType::F32, {shape.pool_rows, kv_dim}));
    v_pool.push_back(
        b.input(DecodeGraphNames::v_pool(l), ir::ElementType::F32, {shape.pool_rows, kv_dim}));
  }

  // RoPE tables as run.c computes them (in float): pair j of a head turns by pos * theta^(-2j/hd);
  // per pair the cosine twice and the sine as (-s, s) (see GraphBuilder::rope).
  std::vector<float> cos_table, sin_table;
  for (int64_t p = 0; p < context; ++p)
    for (int64_t j = 0; j < hd / 2; ++j) {
      const float freq =
          1.0f / std::pow(c.rope_theta, static_cast<float>(2 * j) / static_cast<float>(hd));
      const float angle = static_cast<float>(p) * freq;
      cos_table.insert(cos_table.end(), {std::cos(angle), std::cos(angle)});
      sin_table.insert(sin_table.end(), {-std::sin(angle), std::sin(angle)});
    }
  auto rows_at_pos = [&](const std::string& name, const std::vector<float>& table) {
    const ValueId t = b.floats(name, {context, hd / 2, 2}, table);
    return b.reshape(b.op("Gather", {t, pos}, {{"axis", int64_t{0}}}), {batch, 1, hd / 2, 2});
  };
  const ValueId cos = rows_at_pos("rope_cos", cos_table), sin = rows_at_pos("rope_sin", sin_table);

  // The positions each sequence's attention may read (<= its pos), as [B, 1, 1, context].
  std::vector<int32_t> iota(static_cast<size_t>(context));
  for (int64_t p = 0; p < context; ++p) iota[static_cast<size_t>(p)] = static_cast<int32_t>(p);
  const ValueId visible =
      b.reshape(b.op("LessOrEqual",
                     {b.int32s("columns", {1, context}, iota), b.reshape(pos, {batch, 1})}),
                {batch, 1, 1, context});
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
        b.rope(b.project(h, matrix("wq", c.dim, c.dim, w.wq)), batch, c.n_heads, hd, cos, sin);
    const ValueId k = b.rope(b.project(h, matrix("wk", kv_dim, c.dim, w.wk)), batch, c.n_kv_heads,
                             hd, cos, sin);
    const ValueId v = b.project(h, matrix("wv", kv_dim, c.dim, w.wv));
    const ValueId k_next = b.op("ScatterND", {k_pool[static_cast<size_t>(l)], write_slot, k}, {},
                                DecodeGraphNames::k_next(l));
    const ValueId v_next = b.op("ScatterND", {v_pool[static_cast<size_t>(l)], write_slot, v}, {},
                                DecodeGraphNames::v_next(l));
    b.output(k_next);
    b.output(v_next);
    // Each sequence's rows, gathered from the pools after this step's rows were written.
    // Grouped-query attention as a batch over sequences and K/V heads: query head h = kv * groups
    // + g, so the queries read as [B, kv_heads, groups, hd] meet their head's keys
    // [B, kv_heads, hd, context] in one batched product.
    auto gathered = [&](ValueId pool) {
      return b.reshape(b.op("Gather", {pool, slots}, {{"axis", int64_t{0}}}),
                       {batch, context, c.n_kv_heads, hd});
    };
    const ValueId keys = b.op("Transpose", {gathered(k_next)},
                              {{"perm", std::vector<int64_t>{0, 2, 3, 1}}});  // [B, kv, hd, ctx]
    const ValueId values = b.op("Transpose", {gathered(v_next)},
                                {{"perm", std::vector<int64_t>{0, 2, 1, 3}}});  // [B, kv, ctx, hd]
    const ValueId scores = b.op(
        "Mul", {b.op("MatMul", {b.reshape(q, {batch, c.n_kv_heads, groups, hd}), keys}), scale});
    const ValueId weights =
        b.op("Softmax", {b.op("Where", {visible, scores, minus_inf})}, {{"axis", int64_t{-1}}});
    const ValueId attended = b.reshape(b.op("MatMul", {weights, values}), {batch, c.dim});
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

std::map<std::string, std::string> decode_in_place(const LlamaConfig& config) {
  std::map<std::string, std::string> in_place;
  for (int64_t l = 0; l < config.n_layers; ++l) {
    in_place[DecodeGraphNames::k_next(l)] = DecodeGraphNames::k_pool(l);
    in_place[DecodeGraphNames::v_next(l)] = DecodeGraphNames::v_pool(l);
  }
  return in_place;
}

}  // namespace seedchip::llm
