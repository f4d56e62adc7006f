#include "llm/llama_step_graph.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "arch/error.h"
#include "llm/graph_builder.h"

namespace seedchip::llm {

namespace {

namespace ir = compiler::ir;
using ir::ElementType;
using ir::ValueId;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void check_buildable(const LlamaConfig& c, const StepShape& s) {
  if (!c.gated_ffn)
    throw InputError(c.name +
                     ": a plain (ungated) feed-forward has no step graph; this model is "
                     "for the analytic model only");
  if (s.batch < 1 || s.new_tokens < 1 || s.context < s.new_tokens)
    throw InputError(c.name + ": a step of " + std::to_string(s.batch) + " sequences with " +
                     std::to_string(s.new_tokens) + " new tokens over " +
                     std::to_string(s.context) +
                     " positions: expected batch >= 1 and 1 <= new tokens <= context");
}

}  // namespace

ShardShape shard_shape(const LlamaConfig& c, const StepShape& s, int64_t tp, int64_t ep) {
  check_buildable(c, s);
  if (tp < 1 || c.n_heads % tp != 0)
    throw InputError(c.name + ": " + std::to_string(c.n_heads) +
                     " query heads cannot be split over a tensor-parallel group of " +
                     std::to_string(tp));
  if (c.n_kv_heads >= tp && c.n_kv_heads % tp != 0)
    throw InputError(c.name + ": " + std::to_string(c.n_kv_heads) +
                     " K/V heads cannot be split over a tensor-parallel group of " +
                     std::to_string(tp));
  if (ep != 1) {
    const std::string split = c.name + ": expert parallelism --ep " + std::to_string(ep);
    if (ep < 1) throw InputError(split + ": expected at least 1");
    if (!c.n_experts)
      throw InputError(split + " needs a mixture of experts; this model is dense (use --ep 1)");
    if (tp % ep != 0)
      throw InputError(split + " does not divide the " + std::to_string(tp) +
                       " chips of a pipeline stage (--tp " + std::to_string(tp) + ")");
    if (c.n_experts % ep != 0)
      throw InputError(split + " does not divide the model's " + std::to_string(c.n_experts) +
                       " experts");
  }
  ShardShape shard;
  shard.q_heads = c.n_heads / tp;
  // Fewer K/V heads than chips: each chip keeps a copy of the one its query heads read.
  shard.kv_heads = std::max<int64_t>(c.n_kv_heads / tp, 1);
  shard.ffn = ceil_div(c.hidden_dim, c.n_experts ? tp / ep : tp);
  if (c.n_experts) {
    const int64_t m = s.batch * s.new_tokens, local = c.n_experts / ep;
    const double miss =
        std::pow(1.0 - static_cast<double>(c.experts_per_token) / static_cast<double>(c.n_experts),
                 static_cast<double>(m));
    shard.local_experts = local;
    shard.experts_touched =
        std::clamp<int64_t>(std::llround(static_cast<double>(local) * (1.0 - miss)),
                            std::min(ceil_div(c.experts_per_token, ep), local), local);
    shard.rows_per_expert = ceil_div(ceil_div(m * c.experts_per_token, ep), shard.experts_touched);
  }
  return shard;
}

ir::Graph build_layer_step_graph(const LlamaConfig& c, const StepShape& s, int64_t tp,
                                 int64_t layers, int64_t ep) {
  const ShardShape shard = shard_shape(c, s, tp, ep);
  const int64_t hd = c.head_dim(), m = s.batch * s.new_tokens, t = s.new_tokens;
  const int64_t qs = shard.q_heads, kvs = shard.kv_heads, groups = qs / kvs;
  ir::Graph g;
  g.name = c.name + "-layer-step";
  g.opset[""] = 17;
  GraphBuilder b(g);
  const auto bf16 = [&](const std::string& name, std::vector<int64_t> dims) {
    return b.input(name, ElementType::BF16, std::move(dims));
  };
  const auto f32 = [&](const std::string& name, std::vector<int64_t> dims) {
    return b.input(name, ElementType::F32, std::move(dims));
  };

  ValueId x = f32("x", {m, c.dim});
  const ValueId cos = f32("rope_cos", {m, 1, hd}), sin = f32("rope_sin", {m, 1, hd});
  const ValueId mask = t > 1 ? f32("mask", {t * groups, s.context}) : ir::kNoValue;
  const ValueId scale = b.floats("scale", {}, {1.0f / std::sqrt(static_cast<float>(hd))});
  // Query rows grouped by K/V head: [batch, kv, new_tokens x groups, hd], and back.
  const auto to_heads = [&](ValueId q) {
    if (t == 1) return b.reshape(q, {s.batch, kvs, groups, hd});
    return b.reshape(b.transpose(b.reshape(q, {s.batch, t, kvs, groups, hd}), {0, 2, 1, 3, 4}),
                     {s.batch, kvs, t * groups, hd});
  };
  const auto from_heads = [&](ValueId o) {
    if (t == 1) return b.reshape(o, {m, qs * hd});
    return b.reshape(b.transpose(b.reshape(o, {s.batch, kvs, t, groups, hd}), {0, 2, 1, 3, 4}),
                     {m, qs * hd});
  };
  // Products with weights read them in the MXU's tile-major layout (see lower_matmul.cpp).
  const auto times_weights = [&](ValueId x_in, ValueId w) {
    return b.op("MatMul", {x_in, w}, {{"b_layout", std::string("mxu_tiles")}});
  };
  const auto swiglu = [&](ValueId gate, ValueId up) {
    return b.op("Mul", {b.op("Mul", {gate, b.op("Sigmoid", {gate})}), up});
  };

  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = std::to_string(l) + ".";
    const ValueId h = b.rms_norm(x, f32(p + "attn_norm", {c.dim}), c.norm_eps);
    // The query, key and value projections as one product (and one bias), as serving engines
    // fuse them; their columns are then taken apart.
    const int64_t qw = qs * hd, kvw = kvs * hd;
    ValueId qkv = times_weights(h, bf16(p + "wqkv", {c.dim, qw + 2 * kvw}));
    if (c.attention_bias) qkv = b.op("Add", {qkv, f32(p + "qkv_bias", {qw + 2 * kvw})});
    // V as it is; Q and K through RoPE (rotate-half) in one pass each, read where they lie in
    // the fused product (Qwen3 first normalises each head).
    const ValueId v = b.op("Slice",
                           {qkv, b.ints("start", {1}, {qw + kvw}),
                            b.ints("end", {1}, {qw + 2 * kvw}), b.ints("axis", {1}, {1})},
                           {}, p + "v_new");
    b.output(v);
    const auto rotary = [&](ValueId source, int64_t column, int64_t heads,
                            const std::string& name) {
      return b.fused("RotaryEmbedding", {source, cos, sin},
                     {{"column", column}, {"heads", heads}, {"head_dim", hd}},
                     ir::TensorType{ElementType::F32, std::vector<int64_t>{m, heads * hd}}, name);
    };
    ValueId q, k;
    if (c.qk_norm) {
      const auto normed = [&](int64_t begin, int64_t heads, const char* name) {
        const ValueId part = b.columns(qkv, begin, begin + heads * hd);
        return b.reshape(
            b.rms_norm(b.reshape(part, {m, heads, hd}), f32(p + name, {hd}), c.norm_eps),
            {m, heads * hd});
      };
      q = rotary(normed(0, qs, "q_norm"), 0, qs, "");
      k = rotary(normed(qw, kvs, "k_norm"), 0, kvs, p + "k_new");
    } else {
      q = rotary(qkv, 0, qs, "");
      k = rotary(qkv, qw, kvs, p + "k_new");
    }
    b.output(k);

    const ValueId keys = bf16(p + "k_cache", {s.batch, kvs, hd, s.context});
    const ValueId values = bf16(p + "v_cache", {s.batch, kvs, s.context, hd});
    ValueId scores = b.op("Mul", {b.op("MatMul", {to_heads(q), keys}), scale});
    if (mask != ir::kNoValue) scores = b.op("Add", {scores, mask});
    const ValueId weights = b.op("Softmax", {scores}, {{"axis", int64_t{-1}}});
    const ValueId attended = from_heads(b.op("MatMul", {weights, values}));
    x = b.op("Add", {x, times_weights(attended, bf16(p + "wo", {qs * hd, c.dim}))});

    const ValueId f = b.rms_norm(x, f32(p + "ffn_norm", {c.dim}), c.norm_eps);
    ValueId ffn;
    if (!c.n_experts) {
      // Gate and up projections as one product, as serving engines fuse them.
      const ValueId gate_up = times_weights(f, bf16(p + "w13", {c.dim, 2 * shard.ffn}));
      const ValueId act =
          b.fused("SwiGLU", {gate_up}, {},
                  ir::TensorType{ElementType::F32, std::vector<int64_t>{m, shard.ffn}});
      ffn = times_weights(act, bf16(p + "w2", {shard.ffn, c.dim}));
    } else {
      const int64_t e = shard.experts_touched, rows = shard.rows_per_expert,
                    k_experts = c.experts_per_token;
      b.output(b.op("Softmax", {times_weights(f, bf16(p + "router", {c.dim, c.n_experts}))},
                    {{"axis", int64_t{-1}}}, p + "router_probs"));
      const ValueId rows_of_experts = b.input(p + "expert_rows", ElementType::I32, {e * rows});
      const ValueId mine =
          b.reshape(b.op("Gather", {f, rows_of_experts}, {{"axis", int64_t{0}}}), {e, rows, c.dim});
      const ValueId gate = times_weights(mine, bf16(p + "experts.w1", {e, c.dim, shard.ffn}));
      const ValueId up = times_weights(mine, bf16(p + "experts.w3", {e, c.dim, shard.ffn}));
      const ValueId down =
          b.reshape(times_weights(swiglu(gate, up), bf16(p + "experts.w2", {e, shard.ffn, c.dim})),
                    {e * rows, c.dim});
      const ValueId back = b.input(p + "combine_rows", ElementType::I32, {m * k_experts});
      const ValueId per_token =
          b.reshape(b.op("Gather", {down, back}, {{"axis", int64_t{0}}}), {m, k_experts, c.dim});
      // Each token's experts weighted by the router and summed, as one product per token
      // ([1, k] x [k, dim]); an elementwise Mul by [m, k, 1] would broadcast along the innermost
      // axis, one element per transfer.
      ffn = b.reshape(b.op("MatMul", {f32(p + "expert_weights", {m, 1, k_experts}), per_token}),
                      {m, c.dim});
    }
    x = b.op("Add", {x, ffn}, {}, l + 1 == layers ? "x_out" : "");
  }
  b.output(x);
  return g;
}

ir::Graph build_ends_step_graph(const LlamaConfig& c, const StepShape& s, int64_t tp) {
  shard_shape(c, s, tp);
  // Each chip's share of the vocabulary padded to whole 128-column weight tiles, as serving
  // engines pad it (the padding's bytes and products are timed).
  const int64_t m = s.batch * s.new_tokens, vocab = ceil_div(ceil_div(c.vocab_size, tp), 128) * 128;
  ir::Graph g;
  g.name = c.name + "-ends-step";
  g.opset[""] = 17;
  GraphBuilder b(g);
  const ValueId tokens = b.input("tokens", ElementType::I32, {m});
  const ValueId embedding = b.input("embedding", ElementType::BF16, {c.vocab_size, c.dim});
  b.output(b.op("Cast", {b.op("Gather", {embedding, tokens}, {{"axis", int64_t{0}}})},
                {{"to", static_cast<int64_t>(1)}}, "x"));
  const ValueId last = b.input("x_last", ElementType::F32, {s.batch, c.dim});
  const ValueId normed =
      b.rms_norm(last, b.input("final_norm", ElementType::F32, {c.dim}), c.norm_eps);
  b.output(b.op("MatMul", {normed, b.input("classifier", ElementType::BF16, {c.dim, vocab})},
                {{"b_layout", std::string("mxu_tiles")}}, "logits"));
  return g;
}

}  // namespace seedchip::llm
