#pragma once
// Paths of the shared llama2.c test model, small file helpers, and weight comparisons for the llm
// tests.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llm/llama2c.h"

namespace seedchip::llm::testing {

inline const std::string kModelDir = std::string(SEEDCHIP_SHARED_DATA_DIR) + "/models/";
inline const std::string kStories = kModelDir + "stories260K.bin";
inline const std::string kTok512 = kModelDir + "tok512.bin";
inline const std::string kStoriesMd = kModelDir + "stories260K.md";

inline std::vector<char> read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Writes `bytes` to a fresh file under the test temp dir and returns its path.
inline std::string write_temp(const std::string& name, const std::vector<char>& bytes) {
  const std::string path = ::testing::TempDir() + "seedchip_llm_" + name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  EXPECT_TRUE(out) << path;
  return path;
}

inline void put_i32(std::vector<char>& bytes, size_t at, int32_t v) {
  std::memcpy(bytes.data() + at, &v, 4);
}

template <typename T>
void append(std::vector<char>& bytes, const T* data, size_t n) {
  const char* p = reinterpret_cast<const char*>(data);
  bytes.insert(bytes.end(), p, p + n * sizeof(T));
}

// The first position of `text` in `bytes` (a failed expectation when absent).
inline size_t find_bytes(const std::vector<char>& bytes, std::string_view text) {
  const std::string_view all(bytes.data(), bytes.size());
  const size_t at = all.find(text);
  EXPECT_NE(at, std::string_view::npos) << text;
  return at;
}

// Empty spans (a model without biases or experts) may hold null pointers, which memcmp must not
// see even for zero bytes.
inline bool bit_identical(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size_bytes()) == 0);
}

// sum (x - ref)^2 / sum ref^2.
inline double nmse(std::span<const float> ref, std::span<const float> x) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < ref.size() && i < x.size(); ++i) {
    const double d = static_cast<double>(x[i]) - ref[i];
    err += d * d;
    norm += static_cast<double>(ref[i]) * ref[i];
  }
  return norm > 0 ? err / norm : err;
}

// Calls fn(name, a_weight, b_weight) for each weight of two models (the classifier included).
template <class Fn>
void for_each_weight(const LlamaModel& a, const LlamaModel& b, Fn fn) {
  fn("token_embedding", a.weights.token_embedding, b.weights.token_embedding);
  fn("rms_final", a.weights.rms_final, b.weights.rms_final);
  fn("classifier", a.weights.classifier, b.weights.classifier);
  ASSERT_EQ(a.weights.layers.size(), b.weights.layers.size());
  for (size_t i = 0; i < a.weights.layers.size(); ++i) {
    const LlamaLayer &x = a.weights.layers[i], &y = b.weights.layers[i];
    const std::string l = "layer " + std::to_string(i) + " ";
    fn(l + "rms_att", x.rms_att, y.rms_att);
    fn(l + "wq", x.wq, y.wq);
    fn(l + "wk", x.wk, y.wk);
    fn(l + "wv", x.wv, y.wv);
    fn(l + "wo", x.wo, y.wo);
    fn(l + "rms_ffn", x.rms_ffn, y.rms_ffn);
    fn(l + "w1", x.w1, y.w1);
    fn(l + "w2", x.w2, y.w2);
    fn(l + "w3", x.w3, y.w3);
    fn(l + "bq", x.bq, y.bq);
    fn(l + "bk", x.bk, y.bk);
    fn(l + "bv", x.bv, y.bv);
    fn(l + "q_norm", x.q_norm, y.q_norm);
    fn(l + "k_norm", x.k_norm, y.k_norm);
    fn(l + "router", x.router, y.router);
    ASSERT_EQ(x.experts.size(), y.experts.size()) << l;
    for (size_t e = 0; e < x.experts.size(); ++e) {
      const std::string p = l + "expert " + std::to_string(e) + " ";
      fn(p + "w1", x.experts[e].w1, y.experts[e].w1);
      fn(p + "w2", x.experts[e].w2, y.experts[e].w2);
      fn(p + "w3", x.experts[e].w3, y.experts[e].w3);
    }
  }
}

inline void expect_same_config(const LlamaConfig& a, const LlamaConfig& b) {
  EXPECT_EQ(a.dim, b.dim);
  EXPECT_EQ(a.hidden_dim, b.hidden_dim);
  EXPECT_EQ(a.n_layers, b.n_layers);
  EXPECT_EQ(a.n_heads, b.n_heads);
  EXPECT_EQ(a.n_kv_heads, b.n_kv_heads);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.seq_len, b.seq_len);
  EXPECT_EQ(a.shared_classifier, b.shared_classifier);
  EXPECT_EQ(a.rope_theta, b.rope_theta);
  EXPECT_EQ(a.norm_eps, b.norm_eps);
  EXPECT_EQ(a.attention_bias, b.attention_bias);
  EXPECT_EQ(a.n_experts, b.n_experts);
  EXPECT_EQ(a.experts_per_token, b.experts_per_token);
  EXPECT_EQ(a.expert_gating, b.expert_gating);
  EXPECT_EQ(a.head_dim(), b.head_dim());
  EXPECT_EQ(a.qk_norm, b.qk_norm);
}

}  // namespace seedchip::llm::testing
