#pragma once
// A plain C++ FP32 forward pass of a llama2.c model, the host reference the on-chip run is checked
// against. It computes what run.c's forward() computes, in the same order of float operations
// (sequential sums, no fused or reordered arithmetic), so its greedy decode matches run.c's text:
// RMSNorm (eps from the config), RoPE on interleaved pairs, grouped-query attention over a KV
// cache, the SwiGLU feed-forward w2(silu(w1 x) * w3 x), the final RMSNorm and the classifier.
// Qwen2's query, key and value biases are added after their projections (before RoPE); Qwen3's
// query and key heads are RMS-normalised (q_norm, k_norm) before RoPE, and its attention may be
// wider or narrower than the model (q_dim); a mixture of experts routes each token to the
// experts_per_token experts of highest router logit (ties: the lower index) and sums their SwiGLU
// outputs weighted by gates as config.expert_gating says (Mixtral: the softmax of the chosen
// logits; Qwen3-MoE: the chosen experts' softmax probabilities, renormalised or not).
#include <span>
#include <vector>

#include "llm/llama2c.h"

namespace seedchip::llm {

class ReferenceModel {
 public:
  // Keeps a copy of the model (the weights stay views into the shared mapping).
  explicit ReferenceModel(const LlamaModel& model);

  // The logits [vocab_size] of the token after `token` at position `pos`. Writes the K/V of `pos`
  // into the cache and attends over positions 0..pos, so positions 0..pos-1 must have been run
  // before (in any earlier call; rerunning from an earlier position overwrites the cache from
  // there). Throws InputError for a token outside the vocab, a pos outside 0..seq_len-1, or a pos
  // beyond the positions run so far. The span is valid until the next call.
  std::span<const float> forward(int token, int pos);

  // The residual stream x [dim] after layer `layer` (0-based) in the last forward call, before the
  // final RMSNorm: what a layer-by-layer comparison checks.
  const std::vector<float>& layer_output(int layer) const;

  const LlamaConfig& config() const { return model_.config; }

 private:
  // out[dim] = w2(silu(w1 in) * w3 in).
  void swiglu(float* out, const float* in, std::span<const float> w1, std::span<const float> w2,
              std::span<const float> w3);

  LlamaModel model_;
  int filled_ = 0;  // positions 0..filled_-1 of the KV cache hold valid keys and values
  // Activations, sized once.
  std::vector<float> x_, xb_, xb2_, q_, hb_, hb2_, att_, logits_, router_, moe_;
  std::vector<float> key_cache_, value_cache_;  // [layer][seq_len][kv_dim]
  std::vector<std::vector<float>> layer_out_;
};

}  // namespace seedchip::llm
