#pragma once
// What the model-file loaders (llama2.c, GGUF, safetensors) share: the read-only file mapping, the
// checks of a Llama configuration named in each format's own field names, and the access to
// LlamaModel's storage. Internal to llm/.
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "llm/llama2c.h"

namespace seedchip::llm {

// Generous bounds that keep every size product below 2^62, so the size arithmetic cannot
// overflow, while admitting any Llama model that exists (Llama 3 405B: dim 16384, hidden 53248,
// 126 layers, vocab 128256).
constexpr int64_t kMaxDim = 1 << 16;
constexpr int64_t kMaxHidden = 1 << 20;
constexpr int64_t kMaxLayers = 1 << 10;
constexpr int64_t kMaxVocab = 1 << 22;
constexpr int64_t kMaxSeqLen = 1 << 22;

[[noreturn]] void fail(const std::string& path, const std::string& what);

struct MappedFile {
  std::shared_ptr<const void> mapping;  // unmaps when the last copy goes
  const uint8_t* bytes = nullptr;
  int64_t size = 0;
};

// Maps the whole file read-only. Throws InputError for a file that cannot be opened, is not a
// regular file, or is shorter than `min_size` ("file is N bytes, too short for the <header>").
MappedFile map_file(const std::string& path, int64_t min_size, const std::string& header);

// The names a format gives the configuration fields, for the messages of check_config: e.g.
// prefix "header field " and "dim" for llama2.c, "key " and "llama.embedding_length" for GGUF.
struct ConfigFieldNames {
  std::string prefix, dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

// Throws InputError naming the file and the field: a field outside its bounds, dim not a multiple
// of n_heads (unless explicit_head_dim is set), n_heads not a multiple of n_kv_heads, an odd head
// dimension (RoPE rotates pairs).
void check_config(const std::string& path, const LlamaConfig& c, const ConfigFieldNames& names);

// A mixture of experts' counts, named by `experts_key` and `used_key` in the messages: n_experts
// in 0..kMaxExperts, and with experts, experts_per_token in 1..n_experts.
constexpr int64_t kMaxExperts = 1 << 12;
void check_experts(const std::string& path, const LlamaConfig& c, const std::string& experts_key,
                   const std::string& used_key);
// An explicit head width (Qwen3's head_dim) named `key` in the messages: 0 (none) or in
// 2..kMaxDim; set only when it differs from dim / n_heads, so that a model whose heads divide its
// width reads the same from every format.
void set_head_dim(const std::string& path, LlamaConfig& c, int64_t head_dim,
                  const std::string& key);

// The loaders' access to LlamaModel's private storage.
struct ModelStorage {
  static void keep_mapping(LlamaModel& m, std::shared_ptr<const void> mapping) {
    m.mapping_ = std::move(mapping);
  }
  // A zeroed buffer of n floats that lives as long as the model (and its copies).
  static std::span<float> own(LlamaModel& m, size_t n);
};

}  // namespace seedchip::llm
