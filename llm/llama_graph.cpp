#include "llm/llama_graph.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "arch/error.h"
#include "llm/graph_builder.h"

namespace seedchip::llm {

namespace ir = compiler::ir;
using ir::ValueId;

namespace {

struct MoeConstants {
  ValueId earlier = ir::kNoValue;  // bool [E, E]: column j < row e
  ValueId one = ir::kNoValue, zero = ir::kNoValue, top_k = ir::kNoValue;
  ValueId minus_inf = ir::kNoValue;
};

// Mixtral's sparse feed-forward on x [B, dim], computed densely: every expert's SwiGLU on every
// token, weighted by a gate that is the softmax of the router logits over the top experts_per_token
// experts and 0 elsewhere, so the unchosen experts add exact zeros. The top-k is a rank: expert e
// is chosen when fewer than k experts beat it, where j beats e when its logit is greater, or equal
// with j < e (ties go to the lower index, as the reference's and TopK's order). The experts'
// matrices are stacked, so the whole layer is three products: [B, E*hidden] gate and up, the gate
// applied per expert, and the down product over all E*hidden columns (its sum over the experts is
// the gated sum).
ValueId mixture_of_experts(GraphBuilder& b, const LlamaConfig& c, const LlamaLayer& w,
                           const std::string& p, ValueId x, int64_t batch, const MoeConstants& k) {
  const int64_t E = c.n_experts, H = c.hidden_dim, D = c.dim;
  const ValueId logits = b.project(x, b.weights(p + "router", {E, D}, w.router));  // [B, E]
  const ValueId mine = b.reshape(logits, {batch, E, 1}), theirs = b.reshape(logits, {batch, 1, E});
  const ValueId beats =
      b.op("Or", {b.op("Greater", {theirs, mine}),
                  b.op("And", {b.op("Equal", {theirs, mine}), k.earlier})});  // [B, E, E]
  const ValueId rank =
      b.op("ReduceSum", {b.op("Where", {beats, k.one, k.zero}), b.ints("axes", {1}, {-1})},
           {{"keepdims", int64_t{0}}});  // [B, E]
  const ValueId gate =
      b.op("Softmax", {b.op("Where", {b.op("Less", {rank, k.top_k}), logits, k.minus_inf})},
           {{"axis", int64_t{-1}}});

  std::vector<float> w1(static_cast<size_t>(E * H * D)), w3(w1.size()), w2(w1.size());
  for (int64_t e = 0; e < E; ++e) {
    const LlamaExpert& ex = w.experts[static_cast<size_t>(e)];
    std::copy(ex.w1.begin(), ex.w1.end(), w1.begin() + e * H * D);
    std::copy(ex.w3.begin(), ex.w3.end(), w3.begin() + e * H * D);
    for (int64_t r = 0; r < D; ++r)  // row r of the down matrices, expert after expert
      std::copy(ex.w2.begin() + r * H, ex.w2.begin() + (r + 1) * H, w2.begin() + (r * E + e) * H);
  }
  const ValueId gate_proj = b.project(x, b.weights(p + "experts.w1", {E * H, D}, w1));
  const ValueId up = b.project(x, b.weights(p + "experts.w3", {E * H, D}, w3));
  const ValueId hidden = b.op("Mul", {b.op("Mul", {gate_proj, b.op("Sigmoid", {gate_proj})}), up});
  const ValueId gated =
      b.reshape(b.op("Mul", {b.reshape(hidden, {batch, E, H}), b.reshape(gate, {batch, E, 1})}),
                {batch, E * H});
  return b.project(gated, b.weights(p + "experts.w2", {D, E * H}, w2));
}

}  // namespace

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
  check_weights(model);
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
  const ValueId visible = b.reshape(
      b.op("LessOrEqual", {b.int32s("columns", {1, context}, iota), b.reshape(pos, {batch, 1})}),
      {batch, 1, 1, context});
  const ValueId minus_inf = b.floats("minus_inf", {}, {-std::numeric_limits<float>::infinity()});
  const ValueId scale = b.floats("scale", {}, {1.0f / std::sqrt(static_cast<float>(hd))});

  // The routing's constants: for experts e (rows) and j (columns), whether j < e (a tie goes to
  // the lower index), and the numbers it counts and compares with.
  MoeConstants moe;
  if (c.n_experts) {
    std::vector<int32_t> experts(static_cast<size_t>(c.n_experts));
    for (int64_t e = 0; e < c.n_experts; ++e)
      experts[static_cast<size_t>(e)] = static_cast<int32_t>(e);
    moe.earlier = b.op("Less", {b.int32s("expert_columns", {1, c.n_experts}, experts),
                                b.int32s("expert_rows", {c.n_experts, 1}, experts)});
    moe.one = b.floats("one", {}, {1.0f});
    moe.zero = b.floats("zero", {}, {0.0f});
    moe.top_k = b.floats("experts_per_token", {}, {static_cast<float>(c.experts_per_token)});
    moe.minus_inf = minus_inf;
  }

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
    // Q, K and V, with Qwen2's biases as the products' C input.
    auto qkv = [&](const char* name, int64_t rows, std::span<const float> weights,
                   const char* bias_name, std::span<const float> bias) {
      const ValueId m = matrix(name, rows, c.dim, weights);
      return c.attention_bias ? b.project(h, m, b.weights(p + bias_name, {rows}, bias))
                              : b.project(h, m);
    };
    const ValueId q = b.rope(qkv("wq", c.dim, w.wq, "bq", w.bq), batch, c.n_heads, hd, cos, sin);
    const ValueId k =
        b.rope(qkv("wk", kv_dim, w.wk, "bk", w.bk), batch, c.n_kv_heads, hd, cos, sin);
    const ValueId v = qkv("wv", kv_dim, w.wv, "bv", w.bv);
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
    ValueId ffn;
    if (c.n_experts) {
      ffn = mixture_of_experts(b, c, w, p, f, batch, moe);
    } else {
      const ValueId gate = b.project(f, matrix("w1", c.hidden_dim, c.dim, w.w1));
      const ValueId up = b.project(f, matrix("w3", c.hidden_dim, c.dim, w.w3));
      const ValueId silu = b.op("Mul", {gate, b.op("Sigmoid", {gate})});
      ffn = b.project(b.op("Mul", {silu, up}), matrix("w2", c.dim, c.hidden_dim, w.w2));
    }
    x = b.op("Add", {x, ffn}, {}, layer_outputs ? DecodeGraphNames::layer_output(l) : "");
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
