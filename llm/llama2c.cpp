#include "llm/llama2c.h"

#include <cstring>

#include "llm/model_io.h"

namespace seedchip::llm {

namespace {

constexpr uint32_t kV1Magic = 0x616b3432;  // "ak42" read as a little-endian uint32
constexpr int64_t kLegacyHeaderBytes = 7 * 4;
constexpr int64_t kV1HeaderBytes = 256;

int32_t read_i32(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Hands out consecutive spans of the weight area in file order.
class Cursor {
 public:
  explicit Cursor(const float* at) : at_(at) {}
  std::span<const float> take(int64_t n) {
    std::span<const float> s(at_, static_cast<size_t>(n));
    at_ += n;
    return s;
  }
  void skip(int64_t n) { at_ += n; }

 private:
  const float* at_;
};

}  // namespace

void check_weights(const LlamaModel& m) {
  const LlamaConfig& c = m.config;
  const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), q = c.q_dim();
  const auto expect = [&](const std::string& name, std::span<const float> w, int64_t n) {
    if (static_cast<int64_t>(w.size()) != n)
      fail(m.path, "weight " + name + " has " + std::to_string(w.size()) + " elements, expected " +
                       std::to_string(n));
  };
  if (c.n_experts < 0 ||
      (c.n_experts > 0 && (c.experts_per_token < 1 || c.experts_per_token > c.n_experts)))
    fail(m.path, std::to_string(c.n_experts) + " experts, " + std::to_string(c.experts_per_token) +
                     " per token; expected 1..n_experts per token");
  if (static_cast<int64_t>(m.weights.layers.size()) != c.n_layers)
    fail(m.path, std::to_string(m.weights.layers.size()) + " layers of weights, expected " +
                     std::to_string(c.n_layers));
  expect("token_embedding", m.weights.token_embedding, c.vocab_size * d);
  expect("rms_final", m.weights.rms_final, d);
  expect("classifier", m.weights.classifier, c.vocab_size * d);
  for (size_t i = 0; i < m.weights.layers.size(); ++i) {
    const LlamaLayer& l = m.weights.layers[i];
    const std::string p = "layer " + std::to_string(i) + " ";
    expect(p + "rms_att", l.rms_att, d);
    expect(p + "wq", l.wq, q * d);
    expect(p + "wk", l.wk, kv * d);
    expect(p + "wv", l.wv, kv * d);
    expect(p + "wo", l.wo, d * q);
    expect(p + "rms_ffn", l.rms_ffn, d);
    const int64_t biases = c.attention_bias ? 1 : 0;
    expect(p + "bq", l.bq, biases * q);
    expect(p + "bk", l.bk, biases * kv);
    expect(p + "bv", l.bv, biases * kv);
    const int64_t head_norms = c.qk_norm ? 1 : 0;
    expect(p + "q_norm", l.q_norm, head_norms * c.head_dim());
    expect(p + "k_norm", l.k_norm, head_norms * c.head_dim());
    const int64_t dense = c.n_experts ? 0 : 1;
    expect(p + "w1", l.w1, dense * h * d);
    expect(p + "w2", l.w2, dense * d * h);
    expect(p + "w3", l.w3, dense * h * d);
    expect(p + "router", l.router, c.n_experts * d);
    if (static_cast<int64_t>(l.experts.size()) != c.n_experts)
      fail(m.path, p + "has " + std::to_string(l.experts.size()) + " experts, expected " +
                       std::to_string(c.n_experts));
    for (size_t e = 0; e < l.experts.size(); ++e) {
      const std::string x = p + "expert " + std::to_string(e) + " ";
      expect(x + "w1", l.experts[e].w1, h * d);
      expect(x + "w2", l.experts[e].w2, d * h);
      expect(x + "w3", l.experts[e].w3, h * d);
    }
  }
}

LlamaModel load_llama2c(const std::string& path) {
  LlamaModel m;
  m.path = path;
  const MappedFile file = map_file(path, kLegacyHeaderBytes,
                                   std::to_string(kLegacyHeaderBytes) + "-byte llama2.c header");
  ModelStorage::keep_mapping(m, file.mapping);
  const int64_t size = file.size;
  const uint8_t* bytes = file.bytes;

  const bool v1 = static_cast<uint32_t>(read_i32(bytes)) == kV1Magic;
  int64_t header_bytes = kLegacyHeaderBytes;
  const uint8_t* fields = bytes;
  if (v1) {
    header_bytes = kV1HeaderBytes;
    if (size < header_bytes)
      fail(path, "file is " + std::to_string(size) +
                     " bytes, too short for the 256-byte llama2.c version-1 header");
    const int32_t version = read_i32(bytes + 4);
    if (version != 1)
      fail(path, "header field version is " + std::to_string(version) + ", expected 1");
    fields = bytes + 8;
  }

  LlamaConfig& c = m.config;
  c.dim = read_i32(fields);
  c.hidden_dim = read_i32(fields + 4);
  c.n_layers = read_i32(fields + 8);
  c.n_heads = read_i32(fields + 12);
  c.n_kv_heads = read_i32(fields + 16);
  c.vocab_size = read_i32(fields + 20);
  c.seq_len = read_i32(fields + 24);
  if (v1) {
    const uint8_t shared = fields[28];
    if (shared > 1)
      fail(path,
           "header field shared_classifier is " + std::to_string(shared) + ", expected 0 or 1");
    c.shared_classifier = shared == 1;
  } else {
    // The legacy format has no flag: the sign of vocab_size carries it.
    c.shared_classifier = c.vocab_size > 0;
    if (c.vocab_size < 0) c.vocab_size = -c.vocab_size;
  }

  check_config(path, c,
               {"header field ", "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads",
                "vocab_size", "seq_len"});

  const int64_t d = c.dim, h = c.hidden_dim, L = c.n_layers, kv = c.kv_dim();
  const int64_t per_layer = d + d * d + 2 * kv * d + d * d + d + 3 * h * d;
  int64_t floats = c.vocab_size * d + L * per_layer + d;
  if (!v1) floats += c.seq_len * c.head_dim();  // freq_cis_real and freq_cis_imag, unused
  if (!c.shared_classifier) floats += c.vocab_size * d;
  const int64_t expected = header_bytes + floats * 4;
  if (size != expected)
    fail(path, "file is " + std::to_string(size) + " bytes, expected " + std::to_string(expected) +
                   " for a " + (v1 ? "version-1" : "legacy") + " llama2.c checkpoint with dim " +
                   std::to_string(d) + ", hidden_dim " + std::to_string(h) + ", n_layers " +
                   std::to_string(L) + ", n_heads " + std::to_string(c.n_heads) + ", n_kv_heads " +
                   std::to_string(c.n_kv_heads) + ", vocab_size " + std::to_string(c.vocab_size) +
                   ", seq_len " + std::to_string(c.seq_len) +
                   (c.shared_classifier ? ", shared classifier" : ", own classifier"));

  // Both header sizes are multiples of 4 and mmap is page-aligned, so the floats are aligned.
  Cursor cur(reinterpret_cast<const float*>(bytes + header_bytes));
  LlamaWeights& w = m.weights;
  w.layers.resize(static_cast<size_t>(L));
  const auto each_layer = [&](std::span<const float> LlamaLayer::*field, int64_t n) {
    for (LlamaLayer& layer : w.layers) layer.*field = cur.take(n);
  };
  if (v1) {
    each_layer(&LlamaLayer::rms_att, d);
    each_layer(&LlamaLayer::rms_ffn, d);
    w.rms_final = cur.take(d);
    w.token_embedding = cur.take(c.vocab_size * d);
    each_layer(&LlamaLayer::wq, d * d);
    each_layer(&LlamaLayer::wk, kv * d);
    each_layer(&LlamaLayer::wv, kv * d);
    each_layer(&LlamaLayer::wo, d * d);
    each_layer(&LlamaLayer::w1, h * d);
    each_layer(&LlamaLayer::w2, d * h);
    each_layer(&LlamaLayer::w3, h * d);
  } else {
    w.token_embedding = cur.take(c.vocab_size * d);
    each_layer(&LlamaLayer::rms_att, d);
    each_layer(&LlamaLayer::wq, d * d);
    each_layer(&LlamaLayer::wk, kv * d);
    each_layer(&LlamaLayer::wv, kv * d);
    each_layer(&LlamaLayer::wo, d * d);
    each_layer(&LlamaLayer::rms_ffn, d);
    each_layer(&LlamaLayer::w1, h * d);
    each_layer(&LlamaLayer::w2, d * h);
    each_layer(&LlamaLayer::w3, h * d);
    w.rms_final = cur.take(d);
    cur.skip(c.seq_len * c.head_dim());
  }
  w.classifier = c.shared_classifier ? w.token_embedding : cur.take(c.vocab_size * d);
  return m;
}

}  // namespace seedchip::llm
