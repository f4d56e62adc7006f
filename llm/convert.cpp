#include "llm/convert.h"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <vector>

#include "arch/error.h"
#include "llm/safetensors.h"
#include "sim/numerics/numerics.h"

namespace seedchip::llm {

namespace {

// llama.cpp's llama_ftype for general.file_type: what most tensors are.
uint32_t file_type(GgmlType t) {
  switch (t) {
    case GgmlType::F32:
      return 0;
    case GgmlType::F16:
      return 1;
    case GgmlType::Q4_0:
      return 2;
    case GgmlType::Q8_0:
      return 7;
    case GgmlType::BF16:
      return 32;
  }
  return 0;
}

// llama.cpp's token types for the llama2.c layout: <unk>, BOS, EOS, 256 bytes, the rest.
int32_t token_type(int id) {
  if (id == 0) return 2;                                         // unknown
  if (id == Tokenizer::kBos || id == Tokenizer::kEos) return 3;  // control
  if (id < Tokenizer::kFirstByteToken + 256) return 6;           // byte
  return 1;                                                      // normal
}

// One weight as written: its rows (FP32) and its name in the target format.
struct Weight {
  std::string name;
  std::span<const float> data;
  int64_t rows = 0, cols = 0;  // cols = 0: a 1-D tensor of `rows` elements
  int64_t rope_heads = 0;      // Q and K: the heads whose rows the layout conversion permutes
};

// The model's tensors in llama.cpp's order, named by `name(layer, gguf_suffix, hf_suffix)`.
template <class Name>
std::vector<Weight> weights_of(const LlamaModel& m, const std::string& embedding,
                               const std::string& norm, const std::string& classifier, Name name) {
  const LlamaConfig& c = m.config;
  const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim();
  std::vector<Weight> out;
  out.push_back({embedding, m.weights.token_embedding, c.vocab_size, d});
  out.push_back({norm, m.weights.rms_final, d, 0});
  if (!c.shared_classifier) out.push_back({classifier, m.weights.classifier, c.vocab_size, d});
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const LlamaLayer& l = m.weights.layers[static_cast<size_t>(i)];
    out.push_back({name(i, "attn_norm", "input_layernorm"), l.rms_att, d, 0});
    out.push_back({name(i, "attn_q", "self_attn.q_proj"), l.wq, d, d, c.n_heads});
    out.push_back({name(i, "attn_k", "self_attn.k_proj"), l.wk, kv, d, c.n_kv_heads});
    out.push_back({name(i, "attn_v", "self_attn.v_proj"), l.wv, kv, d});
    out.push_back({name(i, "attn_output", "self_attn.o_proj"), l.wo, d, d});
    out.push_back({name(i, "ffn_norm", "post_attention_layernorm"), l.rms_ffn, d, 0});
    out.push_back({name(i, "ffn_gate", "mlp.gate_proj"), l.w1, h, d});
    out.push_back({name(i, "ffn_down", "mlp.down_proj"), l.w2, d, h});
    out.push_back({name(i, "ffn_up", "mlp.up_proj"), l.w3, h, d});
  }
  return out;
}

// Little-endian GGUF fields appended to a byte string.
class GgufBytes {
 public:
  std::string bytes;

  template <class T>
  void put(T v) {
    bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void str(std::string_view s) {
    put<uint64_t>(s.size());
    bytes.append(s);
  }
  void key(std::string_view k, GgufValueType t) {
    str(k);
    put<uint32_t>(t);
  }
  void u32(std::string_view k, uint32_t v) {
    key(k, kGgufU32);
    put(v);
  }
  void f32(std::string_view k, float v) {
    key(k, kGgufF32);
    put(v);
  }
  void string(std::string_view k, std::string_view v) {
    key(k, kGgufString);
    str(v);
  }
  template <class T, class Put>
  void array(std::string_view k, GgufValueType element, const std::vector<T>& values, Put put_one) {
    key(k, kGgufArray);
    put<uint32_t>(element);
    put<uint64_t>(values.size());
    for (const T& v : values) put_one(v);
  }
};

std::vector<uint8_t> encode_gguf(std::span<const float> x, GgmlType t) {
  std::vector<uint8_t> out;
  switch (t) {
    case GgmlType::F32:
    case GgmlType::F16:
    case GgmlType::BF16: {
      const DataType dt = t == GgmlType::F32   ? DataType::FP32
                          : t == GgmlType::F16 ? DataType::FP16
                                               : DataType::BF16;
      out.resize(x.size() * static_cast<size_t>(dtype_bytes(dt)));
      numerics::from_fp32(dt, x.data(), out.data(), x.size());
      break;
    }
    case GgmlType::Q8_0:
      out.resize(x.size() / kQuantBlock * kQ8_0BlockBytes);
      quantize_q8_0(x.data(), out.data(), x.size());
      break;
    case GgmlType::Q4_0:
      out.resize(x.size() / kQuantBlock * kQ4_0BlockBytes);
      quantize_q4_0(x.data(), out.data(), x.size());
      break;
  }
  return out;
}

uint64_t align_up(uint64_t n, uint64_t a) { return (n + a - 1) / a * a; }

void check_written(const std::ofstream& out, const std::string& path) {
  if (!out) throw InputError(path + ": cannot write");
}

// JSON has no float type: the shortest decimal that reads back as the same float, not the
// 17 digits of its double value.
double json_float(float x) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, x);
  return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
}

}  // namespace

void write_gguf(const LlamaModel& m, const Tokenizer* tokenizer, const std::string& path,
                GgmlType type) {
  const LlamaConfig& c = m.config;
  if (tokenizer && tokenizer->size() != c.vocab_size)
    throw InputError(path + ": the tokenizer has " + std::to_string(tokenizer->size()) +
                     " tokens, but the model's vocabulary has " + std::to_string(c.vocab_size));
  const std::vector<Weight> weights =
      weights_of(m, "token_embd.weight", "output_norm.weight", "output.weight",
                 [](int64_t i, const char* gguf, const char*) {
                   return "blk." + std::to_string(i) + "." + gguf + ".weight";
                 });

  GgufBytes h;
  h.put(kGgufMagic);
  h.put(kGgufVersion);
  h.put<uint64_t>(weights.size());
  const uint64_t kv_count = 14 + (tokenizer ? 7 : 0);
  h.put(kv_count);
  h.string("general.architecture", "llama");
  h.string("general.name", std::filesystem::path(m.path).stem().string());
  h.u32("general.file_type", file_type(type));
  h.u32("general.quantization_version", 2);  // ggml's QK format version of Q8_0 / Q4_0
  h.u32("llama.vocab_size", static_cast<uint32_t>(c.vocab_size));
  h.u32("llama.context_length", static_cast<uint32_t>(c.seq_len));
  h.u32("llama.embedding_length", static_cast<uint32_t>(c.dim));
  h.u32("llama.block_count", static_cast<uint32_t>(c.n_layers));
  h.u32("llama.feed_forward_length", static_cast<uint32_t>(c.hidden_dim));
  h.u32("llama.attention.head_count", static_cast<uint32_t>(c.n_heads));
  h.u32("llama.attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  h.u32("llama.rope.dimension_count", static_cast<uint32_t>(c.head_dim()));
  h.f32("llama.rope.freq_base", c.rope_theta);
  h.f32("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
  if (tokenizer) {
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<int32_t> types;
    for (int i = 0; i < tokenizer->size(); ++i) {
      pieces.push_back(piece_to_gguf(i, tokenizer->piece(i)));
      scores.push_back(tokenizer->score(i));
      types.push_back(token_type(i));
    }
    h.string("tokenizer.ggml.model", "llama");
    h.array("tokenizer.ggml.tokens", kGgufString, pieces, [&](const std::string& s) { h.str(s); });
    h.array("tokenizer.ggml.scores", kGgufF32, scores, [&](float s) { h.put(s); });
    h.array("tokenizer.ggml.token_type", kGgufI32, types, [&](int32_t t) { h.put(t); });
    h.u32("tokenizer.ggml.bos_token_id", Tokenizer::kBos);
    h.u32("tokenizer.ggml.eos_token_id", Tokenizer::kEos);
    h.u32("tokenizer.ggml.unknown_token_id", 0);
  }

  std::vector<GgmlType> types;
  uint64_t offset = 0;
  for (const Weight& w : weights) {
    GgmlType t = type;
    if (!w.cols) {
      t = GgmlType::F32;
    } else if ((t == GgmlType::Q8_0 || t == GgmlType::Q4_0) && w.cols % kQuantBlock != 0) {
      t = GgmlType::F16;
    }
    types.push_back(t);
    h.str(w.name);
    h.put<uint32_t>(w.cols ? 2 : 1);
    if (w.cols) h.put<uint64_t>(w.cols);  // ne[0], the innermost
    h.put<uint64_t>(w.rows);
    h.put(static_cast<uint32_t>(t));
    h.put(offset);
    offset = align_up(offset + ggml_tensor_bytes(t, w.data.size()), kGgufDefaultAlignment);
  }
  h.bytes.resize(align_up(h.bytes.size(), kGgufDefaultAlignment), '\0');

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(h.bytes.data(), static_cast<std::streamsize>(h.bytes.size()));
  for (size_t i = 0; i < weights.size(); ++i) {
    const std::vector<uint8_t> data = encode_gguf(weights[i].data, types[i]);
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size()));
    const size_t pad = align_up(data.size(), kGgufDefaultAlignment) - data.size();
    out.write(std::string(pad, '\0').data(), static_cast<std::streamsize>(pad));
  }
  out.flush();
  check_written(out, path);
}

void write_safetensors(const LlamaModel& m, const std::string& dir, DataType type) {
  if (type != DataType::FP32 && type != DataType::FP16 && type != DataType::BF16)
    throw InputError(dir + ": safetensors are written as fp32, fp16 or bf16, not " +
                     std::string(dtype_name(type)));
  const LlamaConfig& c = m.config;
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw InputError(dir + ": cannot create the directory: " + ec.message());
  const std::vector<Weight> weights =
      weights_of(m, "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
                 [](int64_t i, const char*, const char* hf) {
                   return "model.layers." + std::to_string(i) + "." + hf + ".weight";
                 });

  const char* dtype = type == DataType::FP32 ? "F32" : type == DataType::FP16 ? "F16" : "BF16";
  const uint64_t width = static_cast<uint64_t>(dtype_bytes(type));
  nlohmann::json header = {{"__metadata__", {{"format", "pt"}}}};
  uint64_t offset = 0;
  for (const Weight& w : weights) {
    const uint64_t bytes = w.data.size() * width;
    header[w.name] = {{"dtype", dtype},
                      {"shape", w.cols ? nlohmann::json::array({w.rows, w.cols})
                                       : nlohmann::json::array({w.rows})},
                      {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  // Spaces pad the header so that the data starts 8-byte aligned, as the safetensors library does.
  text.resize(align_up(8 + text.size(), 8) - 8, ' ');

  const std::string model_path = (fs::path(dir) / "model.safetensors").string();
  std::ofstream out(model_path, std::ios::binary | std::ios::trunc);
  const uint64_t length = text.size();
  out.write(reinterpret_cast<const char*>(&length), sizeof length);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  std::vector<float> permuted;
  std::vector<uint8_t> bytes;
  for (const Weight& w : weights) {
    std::span<const float> x = w.data;
    if (w.rope_heads) {
      permuted.resize(x.size());
      interleaved_to_rotate_half(x, permuted, w.rope_heads, w.cols);
      x = permuted;
    }
    bytes.resize(x.size() * width);
    numerics::from_fp32(type, x.data(), bytes.data(), x.size());
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  out.flush();
  check_written(out, model_path);

  const nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                                 {"model_type", "llama"},
                                 {"hidden_act", "silu"},
                                 {"hidden_size", c.dim},
                                 {"intermediate_size", c.hidden_dim},
                                 {"num_hidden_layers", c.n_layers},
                                 {"num_attention_heads", c.n_heads},
                                 {"num_key_value_heads", c.n_kv_heads},
                                 {"vocab_size", c.vocab_size},
                                 {"max_position_embeddings", c.seq_len},
                                 {"rope_theta", json_float(c.rope_theta)},
                                 {"rms_norm_eps", json_float(c.norm_eps)},
                                 {"tie_word_embeddings", c.shared_classifier},
                                 {"bos_token_id", Tokenizer::kBos},
                                 {"eos_token_id", Tokenizer::kEos},
                                 {"torch_dtype", type == DataType::FP32   ? "float32"
                                                 : type == DataType::FP16 ? "float16"
                                                                          : "bfloat16"}};
  const std::string config_path = (fs::path(dir) / "config.json").string();
  std::ofstream cfg(config_path, std::ios::trunc);
  cfg << config.dump(2) << "\n";
  cfg.flush();
  check_written(cfg, config_path);
}

}  // namespace seedchip::llm
