#include "llm/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "arch/error.h"

namespace seedchip::llm {

namespace {

size_t sz(int64_t n) { return static_cast<size_t>(n); }

void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps) {
  float ss = 0.0f;
  for (int64_t j = 0; j < n; ++j) ss += x[j] * x[j];
  ss /= static_cast<float>(n);
  ss += eps;
  ss = 1.0f / std::sqrt(ss);
  for (int64_t j = 0; j < n; ++j) out[j] = weight[j] * (ss * x[j]);
}

void softmax(float* x, int64_t n) {
  float max_val = x[0];
  for (int64_t i = 1; i < n; ++i)
    if (x[i] > max_val) max_val = x[i];
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max_val);
    sum += x[i];
  }
  for (int64_t i = 0; i < n; ++i) x[i] /= sum;
}

// out[d] = W[d, n] x[n]. Row-major W makes each output a dot product over one contiguous row, so
// the loop streams W once; the sum is sequential, as run.c's, for bit-identical results.
void matmul(float* out, const float* x, const float* w, int64_t n, int64_t d) {
  for (int64_t i = 0; i < d; ++i) {
    const float* row = w + i * n;
    float val = 0.0f;
    for (int64_t j = 0; j < n; ++j) val += row[j] * x[j];
    out[i] = val;
  }
}

void add(float* x, std::span<const float> bias) {
  for (size_t i = 0; i < bias.size(); ++i) x[i] += bias[i];
}

}  // namespace

void ReferenceModel::swiglu(float* out, const float* in, std::span<const float> w1,
                            std::span<const float> w2, std::span<const float> w3) {
  const int64_t dim = model_.config.dim, hidden = model_.config.hidden_dim;
  matmul(hb_.data(), in, w1.data(), dim, hidden);
  matmul(hb2_.data(), in, w3.data(), dim, hidden);
  for (int64_t i = 0; i < hidden; ++i) {
    float g = hb_[sz(i)];
    g *= 1.0f / (1.0f + std::exp(-g));  // silu
    g *= hb2_[sz(i)];
    hb_[sz(i)] = g;
  }
  matmul(out, hb_.data(), w2.data(), hidden, dim);
}

ReferenceModel::ReferenceModel(const LlamaModel& model) : model_(model) {
  check_weights(model_);
  const LlamaConfig& c = model_.config;
  x_.resize(sz(c.dim));
  xb_.resize(sz(std::max(c.dim, c.q_dim())));  // the norm's output, then attention's
  xb2_.resize(sz(c.dim));
  q_.resize(sz(c.q_dim()));
  hb_.resize(sz(c.hidden_dim));
  hb2_.resize(sz(c.hidden_dim));
  att_.resize(sz(c.n_heads * c.seq_len));
  logits_.resize(sz(c.vocab_size));
  router_.resize(sz(c.n_experts));
  moe_.resize(sz(c.dim));
  key_cache_.resize(sz(c.n_layers * c.seq_len * c.kv_dim()));
  value_cache_.resize(key_cache_.size());
  layer_out_.assign(sz(c.n_layers), std::vector<float>(sz(c.dim)));
}

const std::vector<float>& ReferenceModel::layer_output(int layer) const {
  if (layer < 0 || layer >= static_cast<int>(layer_out_.size()))
    throw InputError(model_.path + ": layer " + std::to_string(layer) +
                     " out of range, expected 0.." + std::to_string(layer_out_.size() - 1));
  return layer_out_[sz(layer)];
}

std::span<const float> ReferenceModel::forward(int token, int pos) {
  const LlamaConfig& c = model_.config;
  const LlamaWeights& w = model_.weights;
  if (token < 0 || token >= c.vocab_size)
    throw InputError(model_.path + ": token id " + std::to_string(token) +
                     " out of range, expected 0.." + std::to_string(c.vocab_size - 1));
  if (pos < 0 || pos >= c.seq_len || pos > filled_)
    throw InputError(
        model_.path + ": position " + std::to_string(pos) + " out of range, expected 0.." +
        std::to_string(std::min<int64_t>(filled_, c.seq_len - 1)) + " (seq_len " +
        std::to_string(c.seq_len) + ", " + std::to_string(filled_) + " positions run)");
  filled_ = pos + 1;

  const int64_t dim = c.dim, q_dim = c.q_dim(), kv_dim = c.kv_dim();
  const int64_t head_size = c.head_dim(), kv_mul = c.n_heads / c.n_kv_heads;
  float* x = x_.data();
  std::memcpy(x, w.token_embedding.data() + token * dim, sz(dim) * sizeof(float));

  for (int64_t l = 0; l < c.n_layers; ++l) {
    const LlamaLayer& lw = w.layers[sz(l)];
    rmsnorm(xb_.data(), x, lw.rms_att.data(), dim, c.norm_eps);

    const int64_t layer_off = l * c.seq_len * kv_dim;
    float* k = key_cache_.data() + layer_off + pos * kv_dim;
    float* v = value_cache_.data() + layer_off + pos * kv_dim;
    matmul(q_.data(), xb_.data(), lw.wq.data(), dim, q_dim);
    matmul(k, xb_.data(), lw.wk.data(), dim, kv_dim);
    matmul(v, xb_.data(), lw.wv.data(), dim, kv_dim);
    if (c.attention_bias) {  // Qwen2: before RoPE
      add(q_.data(), lw.bq);
      add(k, lw.bk);
      add(v, lw.bv);
    }
    if (c.qk_norm) {  // Qwen3: each query and key head RMS-normalised, before RoPE
      for (int64_t h = 0; h < c.n_heads; ++h) {
        float* qh = q_.data() + h * head_size;
        rmsnorm(qh, qh, lw.q_norm.data(), head_size, c.norm_eps);
      }
      for (int64_t h = 0; h < c.n_kv_heads; ++h)
        rmsnorm(k + h * head_size, k + h * head_size, lw.k_norm.data(), head_size, c.norm_eps);
    }

    // RoPE: rotate each pair (2j, 2j+1) of every head by pos * theta^(-2j/head_size).
    for (int64_t i = 0; i < q_dim; i += 2) {
      const int64_t head_dim = i % head_size;
      const float freq = 1.0f / std::pow(c.rope_theta, static_cast<float>(head_dim) /
                                                           static_cast<float>(head_size));
      const float val = static_cast<float>(pos) * freq;
      const float fcr = std::cos(val), fci = std::sin(val);
      const int rotn = i < kv_dim ? 2 : 1;  // k is only kv_dim long
      for (int r = 0; r < rotn; ++r) {
        float* vec = r == 0 ? q_.data() : k;
        const float v0 = vec[i], v1 = vec[i + 1];
        vec[i] = v0 * fcr - v1 * fci;
        vec[i + 1] = v0 * fci + v1 * fcr;
      }
    }

    // Attention: query head h reads K/V head h / kv_mul.
    const float scale = std::sqrt(static_cast<float>(head_size));
    for (int64_t h = 0; h < c.n_heads; ++h) {
      const float* qh = q_.data() + h * head_size;
      float* att = att_.data() + h * c.seq_len;
      const int64_t kv_off = layer_off + (h / kv_mul) * head_size;
      for (int64_t t = 0; t <= pos; ++t) {
        const float* kt = key_cache_.data() + kv_off + t * kv_dim;
        float score = 0.0f;
        for (int64_t i = 0; i < head_size; ++i) score += qh[i] * kt[i];
        att[t] = score / scale;
      }
      softmax(att, pos + 1);
      float* out = xb_.data() + h * head_size;
      std::memset(out, 0, sz(head_size) * sizeof(float));
      for (int64_t t = 0; t <= pos; ++t) {
        const float* vt = value_cache_.data() + kv_off + t * kv_dim;
        const float a = att[t];
        for (int64_t i = 0; i < head_size; ++i) out[i] += a * vt[i];
      }
    }

    matmul(xb2_.data(), xb_.data(), lw.wo.data(), q_dim, dim);
    for (int64_t i = 0; i < dim; ++i) x[i] += xb2_[sz(i)];

    rmsnorm(xb_.data(), x, lw.rms_ffn.data(), dim, c.norm_eps);
    if (c.n_experts == 0) {
      swiglu(xb2_.data(), xb_.data(), lw.w1, lw.w2, lw.w3);
      for (int64_t i = 0; i < dim; ++i) x[i] += xb2_[sz(i)];
    } else {
      // The top experts_per_token router logits (ties: the lower index), gated as
      // c.expert_gating says (llama2c.h), and the gated sum of those experts' SwiGLU.
      matmul(router_.data(), xb_.data(), lw.router.data(), dim, c.n_experts);
      std::vector<int64_t> chosen;
      std::vector<bool> taken(sz(c.n_experts), false);
      for (int64_t k = 0; k < c.experts_per_token; ++k) {
        int64_t best = -1;
        for (int64_t e = 0; e < c.n_experts; ++e)
          if (!taken[sz(e)] && (best < 0 || router_[sz(e)] > router_[sz(best)])) best = e;
        taken[sz(best)] = true;
        chosen.push_back(best);
      }
      std::vector<float> gates;
      if (c.expert_gating == ExpertGating::kSoftmaxOfChosen) {  // Mixtral
        for (int64_t e : chosen) gates.push_back(router_[sz(e)]);
        softmax(gates.data(), static_cast<int64_t>(gates.size()));
      } else {  // Qwen3-MoE, as transformers computes it: softmax, top-k, then maybe their sum
        softmax(router_.data(), c.n_experts);
        float sum = 0.0f;
        for (int64_t e : chosen) {
          gates.push_back(router_[sz(e)]);
          sum += router_[sz(e)];
        }
        if (c.expert_gating == ExpertGating::kChosenOfSoftmaxNormalized)
          for (float& g : gates) g /= sum;
      }
      std::fill(moe_.begin(), moe_.end(), 0.0f);
      for (size_t k = 0; k < chosen.size(); ++k) {
        const LlamaExpert& e = lw.experts[sz(chosen[k])];
        swiglu(xb2_.data(), xb_.data(), e.w1, e.w2, e.w3);
        for (int64_t i = 0; i < dim; ++i) moe_[sz(i)] += gates[k] * xb2_[sz(i)];
      }
      for (int64_t i = 0; i < dim; ++i) x[i] += moe_[sz(i)];
    }

    layer_out_[sz(l)].assign(x, x + dim);
  }

  rmsnorm(x, x, w.rms_final.data(), dim, c.norm_eps);
  matmul(logits_.data(), x, w.classifier.data(), dim, c.vocab_size);
  return logits_;
}

}  // namespace seedchip::llm
