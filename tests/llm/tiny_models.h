#pragma once
// Tiny synthetic models of the Llama family's variants, with deterministic random weights, for the
// tests of the loaders, the converter, the host reference and the decode step on the chip: dim 32,
// 2 layers, 4 query heads over 2 K/V heads, vocabulary 64 (unless asked), hidden 48, context 32;
// Qwen3's heads are 16 wide (attention width 64, twice the model's).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <span>
#include <string>

#include "llm/llama2c.h"
#include "llm/model_io.h"

namespace seedchip::llm::testing {

enum class Variant { kLlama, kQwen2, kMixtral, kQwen3, kQwen3Moe };

// Hugging Face's model_type of each.
inline const char* variant_name(Variant v) {
  switch (v) {
    case Variant::kQwen2:
      return "qwen2";
    case Variant::kMixtral:
      return "mixtral";
    case Variant::kQwen3:
      return "qwen3";
    case Variant::kQwen3Moe:
      return "qwen3_moe";
    case Variant::kLlama:
      break;
  }
  return "llama";
}

// Qwen2 shares its classifier (as Qwen2.5's small models tie it) and has q/k/v biases; Mixtral has
// 4 experts, 2 per token, and a classifier of its own. In Mixtral's layer 0, router rows 1 and 2
// are equal, so those experts' logits tie and the lower index must win whenever one of the two is
// chosen alone. Qwen3 and Qwen3-MoE have per-head q/k norm gains and heads of 16; Qwen3-MoE has 6
// experts of width 24, 2 per token, renormalised (norm_topk_prob), the same tie in layer 0, and a
// classifier of its own.
inline LlamaModel tiny_model(Variant variant, int64_t vocab_size = 64, uint32_t seed = 1) {
  LlamaModel m;
  m.path = std::string("tiny-") + variant_name(variant);
  LlamaConfig& c = m.config;
  c.dim = 32;
  c.hidden_dim = 48;
  c.n_layers = 2;
  c.n_heads = 4;
  c.n_kv_heads = 2;
  c.vocab_size = vocab_size;
  c.seq_len = 32;
  c.rope_theta = 10000.0f;
  c.norm_eps = 1e-5f;
  c.name = variant_name(variant);
  c.attention_bias = variant == Variant::kQwen2;
  c.shared_classifier = variant != Variant::kMixtral && variant != Variant::kQwen3Moe;
  if (variant == Variant::kMixtral) {
    c.n_experts = 4;
    c.experts_per_token = 2;
  }
  if (variant == Variant::kQwen3 || variant == Variant::kQwen3Moe) {
    c.explicit_head_dim = 16;
    c.qk_norm = true;
  }
  if (variant == Variant::kQwen3Moe) {
    c.hidden_dim = 24;
    c.n_experts = 6;
    c.experts_per_token = 2;
    c.expert_gating = ExpertGating::kChosenOfSoftmaxNormalized;
  }
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  const auto random = [&](int64_t n, float scale, float offset = 0.0f) -> std::span<const float> {
    const std::span<float> w = ModelStorage::own(m, static_cast<size_t>(n));
    for (float& x : w) x = offset + scale * normal(rng);
    return w;
  };
  const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), q = c.q_dim();
  const float in_d = 1.0f / std::sqrt(static_cast<float>(d));
  const float in_h = 1.0f / std::sqrt(static_cast<float>(h));
  LlamaWeights& w = m.weights;
  w.token_embedding = random(c.vocab_size * d, 1.0f);
  w.rms_final = random(d, 0.1f, 1.0f);
  w.classifier = c.shared_classifier ? w.token_embedding : random(c.vocab_size * d, 1.0f);
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    LlamaLayer& l = w.layers[static_cast<size_t>(i)];
    l.rms_att = random(d, 0.1f, 1.0f);
    l.wq = random(q * d, in_d);
    l.wk = random(kv * d, in_d);
    l.wv = random(kv * d, in_d);
    l.wo = random(d * q, 1.0f / std::sqrt(static_cast<float>(q)));
    l.rms_ffn = random(d, 0.1f, 1.0f);
    if (c.attention_bias) {
      l.bq = random(q, 0.5f);
      l.bk = random(kv, 0.5f);
      l.bv = random(kv, 0.5f);
    }
    if (c.qk_norm) {
      l.q_norm = random(c.head_dim(), 0.1f, 1.0f);
      l.k_norm = random(c.head_dim(), 0.1f, 1.0f);
    }
    if (!c.n_experts) {
      l.w1 = random(h * d, in_d);
      l.w2 = random(d * h, in_h);
      l.w3 = random(h * d, in_d);
      continue;
    }
    const std::span<float> router = ModelStorage::own(m, static_cast<size_t>(c.n_experts * d));
    for (float& x : router) x = normal(rng);
    if (i == 0) std::copy(router.begin() + d, router.begin() + 2 * d, router.begin() + 2 * d);
    l.router = router;
    for (int64_t e = 0; e < c.n_experts; ++e)
      l.experts.push_back({random(h * d, in_d), random(d * h, in_h), random(h * d, in_d)});
  }
  return m;
}

}  // namespace seedchip::llm::testing
