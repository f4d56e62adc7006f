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
  ValueId places = ir::kNoValue;  // f32 [k, 1]: 0, 1, ..., k - 1, the ranks of the chosen
};

// Each expert's gate for each token of x [B, dim], [B, E]: non-zero for the experts_per_token
// experts the token is routed to, 0 for the others, as c.expert_gating says; and `rank` [B, E],
// each expert's place among the token's experts (0: the highest router logit). Expert e's rank
// counts the experts that beat it, where j beats e when its logit is greater, or equal with j < e
// (ties go to the lower index, as the reference's and TopK's order); e is chosen when its rank is
// below k. The compiler has no TopK: the rank is Greater / Equal / And / Or on [B, E, E] and a
// ReduceSum.
struct Routing {
  ValueId rank = ir::kNoValue, gate = ir::kNoValue;
};

Routing route(GraphBuilder& b, const LlamaConfig& c, const LlamaLayer& w, const std::string& p,
              ValueId x, int64_t batch, const MoeConstants& k) {
  const int64_t E = c.n_experts, D = c.dim;
  const ValueId logits = b.project(x, b.weights(p + "router", {E, D}, w.router));  // [B, E]
  const ValueId mine = b.reshape(logits, {batch, E, 1}), theirs = b.reshape(logits, {batch, 1, E});
  const ValueId beats =
      b.op("Or", {b.op("Greater", {theirs, mine}),
                  b.op("And", {b.op("Equal", {theirs, mine}), k.earlier})});  // [B, E, E]
  Routing r;
  r.rank = b.op("ReduceSum", {b.op("Where", {beats, k.one, k.zero}), b.ints("axes", {1}, {-1})},
                {{"keepdims", int64_t{0}}});
  const ValueId chosen = b.op("Less", {r.rank, k.top_k});
  const auto softmax = [&](ValueId v) { return b.op("Softmax", {v}, {{"axis", int64_t{-1}}}); };
  switch (c.expert_gating) {
    case ExpertGating::kSoftmaxOfChosen:  // Mixtral: the others' logits become -inf
      r.gate = softmax(b.op("Where", {chosen, logits, k.minus_inf}));
      break;
    case ExpertGating::kChosenOfSoftmax:  // Qwen3-MoE: the others' probabilities become 0
      r.gate = b.op("Where", {chosen, softmax(logits), k.zero});
      break;
    case ExpertGating::kChosenOfSoftmaxNormalized: {
      const ValueId kept = b.op("Where", {chosen, softmax(logits), k.zero});
      r.gate = b.op("Div", {kept, b.op("ReduceSum", {kept, b.ints("axes", {1}, {-1})},
                                       {{"keepdims", int64_t{1}}})});
      break;
    }
  }
  return r;
}

// The dense form on x [B, dim]: every expert's SwiGLU on every token, weighted by its gate, so
// the unchosen experts add exact zeros. The experts' matrices are stacked, so the whole layer is
// three products: [B, E*hidden] gate and up, the gate applied per expert, and the down product
// over all E*hidden columns (its sum over the experts is the gated sum).
ValueId dense_experts(GraphBuilder& b, const LlamaConfig& c, const LlamaLayer& w,
                      const std::string& p, ValueId x, int64_t batch, const Routing& r) {
  const int64_t E = c.n_experts, H = c.hidden_dim, D = c.dim;
  std::vector<float> w1(static_cast<size_t>(E * H * D)), w3(w1.size()), w2(w1.size());
  for (int64_t e = 0; e < E; ++e) {
    const LlamaExpert& ex = w.experts[static_cast<size_t>(e)];
    std::copy(ex.w1.begin(), ex.w1.end(), w1.begin() + e * H * D);
    std::copy(ex.w3.begin(), ex.w3.end(), w3.begin() + e * H * D);
    for (int64_t row = 0; row < D; ++row)  // row `row` of the down matrices, expert after expert
      std::copy(ex.w2.begin() + row * H, ex.w2.begin() + (row + 1) * H,
                w2.begin() + (row * E + e) * H);
  }
  const ValueId gate_proj = b.project(x, b.weights(p + "experts.w1", {E * H, D}, w1));
  const ValueId up = b.project(x, b.weights(p + "experts.w3", {E * H, D}, w3));
  const ValueId hidden = b.op("Mul", {b.op("Mul", {gate_proj, b.op("Sigmoid", {gate_proj})}), up});
  const ValueId gated =
      b.reshape(b.op("Mul", {b.reshape(hidden, {batch, E, H}), b.reshape(r.gate, {batch, E, 1})}),
                {batch, E * H});
  return b.project(gated, b.weights(p + "experts.w2", {D, E * H}, w2));
}

// The sparse form on x [B, dim]: only the k = experts_per_token chosen experts of each token, as
// B * k (token, expert) pairs. Place j of a token is the expert of rank j: its one-hot row over
// the experts (Equal of the rank and j) gives the expert's index (ArgMax, i64) and its gate (the
// gate row summed under the one-hot, exact: one value plus zeros). The experts' matrices are
// stacked transposed ([E, dim, hidden] gate and up, [E, hidden, dim] down), so a Gather of the
// pairs' indices yields each pair's matrices as [in, out], and batched MatMuls over the pairs
// compute each chosen expert's SwiGLU on its token; the gated outputs are summed over the places.
// The weights read per token are k experts' instead of E.
ValueId sparse_experts(GraphBuilder& b, const LlamaConfig& c, const LlamaLayer& w,
                       const std::string& p, ValueId x, int64_t batch, const Routing& r,
                       const MoeConstants& k) {
  const int64_t E = c.n_experts, H = c.hidden_dim, D = c.dim, K = c.experts_per_token;
  const int64_t pairs = batch * K;
  const ValueId one_hot = b.op("Equal", {b.reshape(r.rank, {batch, 1, E}), k.places});  // [B, K, E]
  const ValueId expert = b.reshape(b.op("ArgMax", {b.op("Where", {one_hot, k.one, k.zero})},
                                        {{"axis", int64_t{-1}}, {"keepdims", int64_t{0}}}),
                                   {pairs});
  const ValueId gate = b.op("ReduceSum",
                            {b.op("Where", {one_hot, b.reshape(r.gate, {batch, 1, E}), k.zero}),
                             b.ints("axes", {1}, {-1})},
                            {{"keepdims", int64_t{0}}});  // [B, K]

  std::vector<float> w1(static_cast<size_t>(E * D * H)), w3(w1.size()), w2(w1.size());
  for (int64_t e = 0; e < E; ++e) {
    const LlamaExpert& ex = w.experts[static_cast<size_t>(e)];
    const size_t at = static_cast<size_t>(e * D * H);
    for (int64_t h = 0; h < H; ++h)
      for (int64_t d = 0; d < D; ++d) {
        const size_t hd = static_cast<size_t>(h * D + d), dh = static_cast<size_t>(d * H + h);
        w1[at + dh] = ex.w1[hd];  // [hidden, dim] -> [dim, hidden]
        w3[at + dh] = ex.w3[hd];
        w2[at + hd] = ex.w2[dh];  // [dim, hidden] -> [hidden, dim]
      }
  }
  const auto chosen = [&](const std::string& name, int64_t rows, int64_t cols,
                          const std::vector<float>& stacked) {
    return b.op("Gather", {b.weights(p + name, {E, rows, cols}, stacked), expert},
                {{"axis", int64_t{0}}});  // [pairs, rows, cols]
  };
  const ValueId xs = b.reshape(
      b.op("Expand", {b.reshape(x, {batch, 1, D}), b.shape({batch, K, D})}), {pairs, 1, D});
  const ValueId gate_proj = b.op("MatMul", {xs, chosen("experts.w1", D, H, w1)});  // [pairs, 1, H]
  const ValueId up = b.op("MatMul", {xs, chosen("experts.w3", D, H, w3)});
  const ValueId hidden = b.op("Mul", {b.op("Mul", {gate_proj, b.op("Sigmoid", {gate_proj})}), up});
  const ValueId out = b.op("MatMul", {hidden, chosen("experts.w2", H, D, w2)});  // [pairs, 1, D]
  const ValueId gated =
      b.op("Mul", {b.reshape(out, {batch, K, D}), b.reshape(gate, {batch, K, 1})});
  return b.op("ReduceSum", {gated, b.ints("axes", {1}, {1})}, {{"keepdims", int64_t{0}}});
}

// Each query or key head of x [B, heads * head_dim] RMS-normalised with the gains [head_dim]
// (Qwen3's q_norm / k_norm).
ValueId head_norm(GraphBuilder& b, ValueId x, int64_t batch, int64_t heads, int64_t head_dim,
                  ValueId gains, float eps) {
  return b.reshape(b.rms_norm(b.reshape(x, {batch, heads, head_dim}), gains, eps),
                   {batch, heads * head_dim});
}

}  // namespace

ir::Graph build_decode_graph(const LlamaModel& model, const DecodeShape& shape, bool layer_outputs,
                             ExpertForm expert_form) {
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
    std::vector<float> places(static_cast<size_t>(c.experts_per_token));
    for (size_t j = 0; j < places.size(); ++j) places[j] = static_cast<float>(j);
    moe.places = b.floats("expert_places", {c.experts_per_token, 1}, places);
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
    ValueId q = qkv("wq", c.q_dim(), w.wq, "bq", w.bq), k = qkv("wk", kv_dim, w.wk, "bk", w.bk);
    if (c.qk_norm) {  // Qwen3: each head RMS-normalised before RoPE
      q = head_norm(b, q, batch, c.n_heads, hd, b.weights(p + "q_norm", {hd}, w.q_norm),
                    c.norm_eps);
      k = head_norm(b, k, batch, c.n_kv_heads, hd, b.weights(p + "k_norm", {hd}, w.k_norm),
                    c.norm_eps);
    }
    q = b.rope(q, batch, c.n_heads, hd, cos, sin);
    k = b.rope(k, batch, c.n_kv_heads, hd, cos, sin);
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
    const ValueId attended = b.reshape(b.op("MatMul", {weights, values}), {batch, c.q_dim()});
    x = b.op("Add", {x, b.project(attended, matrix("wo", c.dim, c.q_dim(), w.wo))});

    const ValueId f = b.rms_norm(x, b.weights(p + "rms_ffn", {c.dim}, w.rms_ffn), c.norm_eps);
    ValueId ffn;
    if (c.n_experts) {
      const Routing routing = route(b, c, w, p, f, batch, moe);
      ffn = expert_form == ExpertForm::kSparse ? sparse_experts(b, c, w, p, f, batch, routing, moe)
                                               : dense_experts(b, c, w, p, f, batch, routing);
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

ExpertForm cheaper_expert_form(const LlamaConfig& config, int64_t batch) {
  return 3 * batch * config.experts_per_token < config.n_experts ? ExpertForm::kSparse
                                                                 : ExpertForm::kDense;
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
