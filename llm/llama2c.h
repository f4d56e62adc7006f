#pragma once
// llama2.c checkpoints (Karpathy's run.c format): the legacy header of 7 int32 (dim, hidden_dim,
// n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a negative vocab_size means the classifier
// has its own weights, a positive one that it shares the token embedding), then FP32 weights in
// the order token_embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final,
// freq_cis_real, freq_cis_imag (unused), [wcls]; each per-layer tensor is stored for all layers
// at once. The version-1 export (magic "ak42", version 1, 256-byte header) is read too. The query
// and key projections are in the interleaved-pairs RoPE layout. The file is memory-mapped: the
// weights are views into it, never copied.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace seedchip::llm {

// How a mixture of experts weights the outputs of the experts_per_token experts it routes a token
// to (the chosen: the highest router logits, ties to the lower index). The families differ in
// where the softmax is taken, which changes the gates unless they are renormalised:
//   kSoftmaxOfChosen           Mixtral: softmax over the chosen experts' logits only.
//   kChosenOfSoftmax           Qwen3-MoE with norm_topk_prob false: softmax over all experts'
//                              logits, the chosen experts' probabilities as they are (summing
//                              to less than 1).
//   kChosenOfSoftmaxNormalized Qwen3-MoE with norm_topk_prob true: the same probabilities divided
//                              by their sum (equal to kSoftmaxOfChosen in exact arithmetic; the
//                              float operations differ).
enum class ExpertGating { kSoftmaxOfChosen, kChosenOfSoftmax, kChosenOfSoftmaxNormalized };

// The Llama family's hyper-parameters. The fields after norm_eps describe the family's variants
// (Qwen2's attention bias, Mixtral's and Qwen3-MoE's experts, Qwen3's explicit head width and
// per-head query/key norm, BLOOM's plain feed-forward for the analytic model); their defaults are
// plain Llama's.
struct LlamaConfig {
  int64_t dim = 0;         // model width
  int64_t hidden_dim = 0;  // SwiGLU width (of one expert in a mixture of experts)
  int64_t n_layers = 0;
  int64_t n_heads = 0;
  int64_t n_kv_heads = 0;  // grouped-query attention: n_heads / n_kv_heads queries share a K/V
  int64_t vocab_size = 0;
  int64_t seq_len = 0;  // the longest context
  bool shared_classifier = true;
  float rope_theta = 10000.0f;
  float norm_eps = 1e-5f;
  std::string name = "llama";     // the architecture, or the preset's name
  int64_t explicit_head_dim = 0;  // 0: dim / n_heads
  bool attention_bias = false;    // biases on the query, key and value projections
  bool qk_norm = false;           // RMSNorm of each query and key head before RoPE
  bool gated_ffn = true;          // SwiGLU (three matrices); false: GELU(x W1) W2
  int64_t n_experts = 0;          // 0: a dense feed-forward
  int64_t experts_per_token = 0;  // the top-k experts each token is routed to
  ExpertGating expert_gating = ExpertGating::kSoftmaxOfChosen;
  int64_t head_dim() const { return explicit_head_dim ? explicit_head_dim : dim / n_heads; }
  int64_t q_dim() const { return head_dim() * n_heads; }
  int64_t kv_dim() const { return head_dim() * n_kv_heads; }
};

// One expert of a mixture-of-experts feed-forward: SwiGLU w2(silu(w1 x) * w3 x).
struct LlamaExpert {
  std::span<const float> w1;  // [hidden, dim] (gate)
  std::span<const float> w2;  // [dim, hidden] (down)
  std::span<const float> w3;  // [hidden, dim] (up)
};

// One layer's weights, row-major as llama2.c stores them: a [out, in] matrix computes out = W x.
// A mixture of experts (config.n_experts > 0) has `router` and `experts` instead of w1, w2, w3;
// biases (config.attention_bias, Qwen2) are added to the query, key and value before RoPE, and
// are in the interleaved-pairs layout of wq and wk; so are the per-head norm gains q_norm and
// k_norm (config.qk_norm, Qwen3), which scale each query and key head after its RMSNorm, before
// RoPE.
struct LlamaLayer {
  std::span<const float> rms_att;    // [dim]
  std::span<const float> wq;         // [q_dim, dim]
  std::span<const float> wk;         // [kv_dim, dim]
  std::span<const float> wv;         // [kv_dim, dim]
  std::span<const float> wo;         // [dim, q_dim]
  std::span<const float> rms_ffn;    // [dim]
  std::span<const float> w1;         // [hidden, dim] (gate)
  std::span<const float> w2;         // [dim, hidden] (down)
  std::span<const float> w3;         // [hidden, dim] (up)
  std::span<const float> bq;         // [dim], when config.attention_bias
  std::span<const float> bk;         // [kv_dim], when config.attention_bias
  std::span<const float> bv;         // [kv_dim], when config.attention_bias
  std::span<const float> q_norm;     // [head_dim], when config.qk_norm
  std::span<const float> k_norm;     // [head_dim], when config.qk_norm
  std::span<const float> router;     // [n_experts, dim], when config.n_experts > 0
  std::vector<LlamaExpert> experts;  // n_experts of them (empty for a dense feed-forward)
};

struct LlamaWeights {
  std::span<const float> token_embedding;  // [vocab, dim]
  std::vector<LlamaLayer> layers;
  std::span<const float> rms_final;   // [dim]
  std::span<const float> classifier;  // [vocab, dim]: the embedding when shared
};

class Tokenizer;

class LlamaModel {
 public:
  LlamaConfig config;
  LlamaWeights weights;
  std::string path;
  // The vocabulary the file carries (GGUF's tokenizer.ggml.*); null when the tokenizer is a file
  // of its own (llama2.c, safetensors).
  std::shared_ptr<const Tokenizer> tokenizer;

 private:
  friend struct ModelStorage;  // how the loaders (llm/model_io.h) attach what the spans point into
  std::shared_ptr<const void> mapping_;  // keeps the file mapped while the spans live
  // Weights converted on load (dequantized GGUF tensors, safetensors' permuted Q/K and any
  // non-FP32 tensor), which their spans point into; null when every weight is a view of the file.
  std::shared_ptr<std::vector<std::vector<float>>> owned_;
};

// Throws InputError naming the model's path and the weight when a weight's size disagrees with
// the configuration (the loaders' models always agree; models built in memory may not): wq and wo
// of q_dim, the biases when attention_bias, q_norm and k_norm when qk_norm, the router and
// n_experts experts when n_experts > 0 (experts_per_token in 1..n_experts), the dense w1, w2, w3
// otherwise.
void check_weights(const LlamaModel& model);

// Throws InputError naming the file and what is wrong (too short for its header, a header field
// out of range, dim not a multiple of n_heads, n_heads not a multiple of n_kv_heads, the file
// size not what the header implies).
LlamaModel load_llama2c(const std::string& path);

}  // namespace seedchip::llm
