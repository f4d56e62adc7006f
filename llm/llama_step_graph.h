#pragma once
// One engine step of a Llama-family model (Llama, Qwen2, Mixtral, Qwen3-MoE) on one chip of a
// tensor-parallel group, as a graph for timing: a batch of sequences each bringing `new_tokens`
// tokens (a prefill chunk, or 1 in decode) and attending to `context` cached positions. Weights
// and the KV cache are graph inputs in BF16 (their bytes are what the chip streams), activations
// are f32, and products run in bf16 precision. The graph is built for shapes: it needs no weights,
// so 70B-400B models are timed without their files.
//
// Layout, per chip (a TP shard holds n_heads / tp query heads, max(n_kv_heads / tp, 1) K/V heads,
// and hidden_dim / tp of each feed-forward, or of each expert):
//   inputs   x f32[M, dim] (M = batch x new_tokens), rope_cos / rope_sin f32[M, 1, hd] (RoPE in
//            the rotate-half layout, as Hugging Face stores Q and K), per layer L: weights
//            "L.wqkv" bf16[dim, q + 2 kv] (stored [in, out] in MXU tiles; Q, K and V fused),
//            "L.wo", "L.w13" (gate and up fused), "L.w2", f32 norms, and the cache
//            "L.k_cache" bf16[batch, kv, hd, context] (keys stored transposed, so the score
//            product reads them as they lie) and "L.v_cache" bf16[batch, kv, context, hd];
//            a prefill chunk also "mask" f32[new_tokens x groups, context] (0 or -inf: causal)
//   outputs  per layer "L.k_new" / "L.v_new" f32[M, kv x hd] (the rows the step appends to the
//            cache) and "x_out" f32[M, dim], the residual stream after the last layer (a partial
//            sum before the tensor-parallel all-reduce, which the caller times on the links)
//
// The cache inputs are read as if this step's rows were already in place: the step's timing
// (bytes read, products) is that of attention over `context` positions, and the rows written are
// the k_new / v_new outputs. A mixture of experts routes the M x experts_per_token (token,
// expert) pairs evenly over the experts a batch of M tokens is expected to touch,
// E (1 - (1 - k/E)^M): each of those experts reads its weights once and multiplies its share of
// rows, gathered from x and gathered back (dma.gather), and each token's k results are weighted
// and summed in one product; the router's top-k selection itself is not modelled (its cost is
// one [M, E] softmax).
#include <cstdint>
#include <string>

#include "compiler/ir/graph.h"
#include "llm/llama2c.h"

namespace seedchip::llm {

struct StepShape {
  int64_t batch = 1;       // sequences
  int64_t new_tokens = 1;  // per sequence: 1 in decode, the chunk length in prefill
  int64_t context = 1;     // cached positions each sequence attends to, this step's included
};

// The sizes one chip of a TP group works on.
struct ShardShape {
  int64_t q_heads = 0, kv_heads = 0, ffn = 0, experts_touched = 0, rows_per_expert = 0;
  int64_t local_experts = 0;  // experts this chip holds (a share of each): n_experts / ep
};

// Expert parallelism (ep > 1, mixtures of experts only): attention stays tensor-parallel over the
// tp chips; the experts are divided among ep groups of tp / ep chips, group g holding experts
// g x n_experts / ep ... (g + 1) x n_experts / ep - 1, each of them split tensor-parallel over the
// group's tp / ep chips (its feed-forward width hidden_dim / (tp / ep) per chip). ep = tp puts
// whole experts on single chips; ep = 1 is tensor parallelism alone. Each chip's experts see the
// M x experts_per_token / ep (token, expert) pairs routed to its group (tokens spread evenly over
// the experts), over the experts_touched of its local_experts that M tokens are expected to reach,
// local_experts (1 - (1 - k/E)^M) — at least ceil(k / ep) of them: the chip timed is one the step's
// tokens reach, which the step waits for. The router, the gathers and each token's weighted sum
// stay as at ep = 1 (every chip runs them for all M tokens).

// InputError when the model cannot be split `tp` ways (heads or widths not divisible), its experts
// `ep` ways (ep must divide tp and n_experts; a dense model takes only ep = 1), the shape is
// empty, or the architecture has no graph builder (bloom: the analytic model only).
ShardShape shard_shape(const LlamaConfig& config, const StepShape& shape, int64_t tp,
                       int64_t ep = 1);

// `layers` consecutive decoder layers of the step.
compiler::ir::Graph build_layer_step_graph(const LlamaConfig& config, const StepShape& shape,
                                           int64_t tp, int64_t layers, int64_t ep = 1);

// The step's ends: the embedding rows of its tokens (a gather from the bf16 table) and, for the
// last token of each sequence, the final RMSNorm and this chip's V = vocab / tp columns of the
// classifier (rounded up to whole 128-column tiles). Inputs "tokens" i32[M], "x_last"
// f32[batch, dim], "embedding" bf16[vocab, dim], "classifier" bf16[dim, V]; outputs "x"
// f32[M, dim] and "logits" f32[batch, V].
compiler::ir::Graph build_ends_step_graph(const LlamaConfig& config, const StepShape& shape,
                                          int64_t tp);

}  // namespace seedchip::llm
