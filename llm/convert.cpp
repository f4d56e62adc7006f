#include "llm/convert.h"

#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
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
  int64_t rope_heads = 0;      // Q and K rows and biases the format rotates by halves: permuted
  int64_t experts = 0;         // GGUF's stacked experts (ne[2]): data holds experts x rows x cols
  bool keep_f32 = false;       // written F32 whatever the type (llama.cpp keeps the router so)
};

enum class Format { kGguf, kSafetensors };

// The architecture a model is written as (Hugging Face's model_type), or InputError naming `path`.
std::string architecture_of(const LlamaConfig& c, const std::string& path) {
  if (c.attention_bias && c.n_experts)
    throw InputError(path +
                     ": a mixture of experts with attention biases (Qwen2-MoE) cannot be written: "
                     "qwen2 has no experts and mixtral no biases");
  if (c.attention_bias && c.qk_norm)
    throw InputError(path +
                     ": attention biases with per-head q/k norms cannot be written: qwen2 "
                     "has no q/k norms and qwen3 no biases");
  // The formats imply the gating: Mixtral's softmax over the chosen, Qwen3-MoE's over all.
  const bool mixtral_gating = c.expert_gating == ExpertGating::kSoftmaxOfChosen;
  if (c.n_experts && c.qk_norm == mixtral_gating)
    throw InputError(path + (c.qk_norm ? ": a Qwen3-MoE (per-head q/k norms) gating by the softmax "
                                         "of the chosen logits (Mixtral's) cannot be written"
                                       : ": a mixture of experts without per-head q/k norms "
                                         "gating by the softmax of all logits (Qwen3-MoE's) "
                                         "cannot be written: mixtral gates by the chosen logits"));
  if (c.qk_norm) return c.n_experts ? "qwen3_moe" : "qwen3";
  return c.attention_bias ? "qwen2" : c.n_experts ? "mixtral" : "llama";
}

// GGUF's general.architecture for a model_type: Mixtral is llama with experts in GGUF.
std::string gguf_architecture(const std::string& model_type) {
  if (model_type == "mixtral") return "llama";
  return model_type == "qwen3_moe" ? "qwen3moe" : model_type;
}

// The model's tensors in llama.cpp's order, named as `format` names them. Stacked experts are
// copied into `storage`.
std::vector<Weight> weights_of(const LlamaModel& m, Format format,
                               std::vector<std::vector<float>>& storage) {
  const LlamaConfig& c = m.config;
  const bool gguf = format == Format::kGguf;
  // Safetensors rotate every Q and K by halves; GGUF only the Qwen families' (llama's are
  // interleaved).
  const bool permute = !gguf || c.attention_bias || c.qk_norm;
  const bool qwen3_moe = c.qk_norm && c.n_experts;
  const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), q = c.q_dim();
  std::vector<Weight> out;
  out.push_back({gguf ? "token_embd.weight" : "model.embed_tokens.weight",
                 m.weights.token_embedding, c.vocab_size, d});
  out.push_back({gguf ? "output_norm.weight" : "model.norm.weight", m.weights.rms_final, d, 0});
  if (!c.shared_classifier)
    out.push_back(
        {gguf ? "output.weight" : "lm_head.weight", m.weights.classifier, c.vocab_size, d});
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const LlamaLayer& l = m.weights.layers[static_cast<size_t>(i)];
    const std::string n = std::to_string(i);
    const auto name = [&](const std::string& gguf_name, const std::string& hf_name) {
      return gguf ? "blk." + n + "." + gguf_name : "model.layers." + n + "." + hf_name;
    };
    const int64_t q_heads = permute ? c.n_heads : 0, k_heads = permute ? c.n_kv_heads : 0;
    out.push_back({name("attn_norm.weight", "input_layernorm.weight"), l.rms_att, d, 0});
    out.push_back({name("attn_q.weight", "self_attn.q_proj.weight"), l.wq, q, d, q_heads});
    out.push_back({name("attn_k.weight", "self_attn.k_proj.weight"), l.wk, kv, d, k_heads});
    out.push_back({name("attn_v.weight", "self_attn.v_proj.weight"), l.wv, kv, d});
    if (c.attention_bias) {
      out.push_back({name("attn_q.bias", "self_attn.q_proj.bias"), l.bq, q, 0, q_heads});
      out.push_back({name("attn_k.bias", "self_attn.k_proj.bias"), l.bk, kv, 0, k_heads});
      out.push_back({name("attn_v.bias", "self_attn.v_proj.bias"), l.bv, kv, 0});
    }
    if (c.qk_norm) {  // one head's gains, rotated by halves as each head's rows
      const int64_t heads = permute ? 1 : 0;
      out.push_back({name("attn_q_norm.weight", "self_attn.q_norm.weight"), l.q_norm, c.head_dim(),
                     0, heads});
      out.push_back({name("attn_k_norm.weight", "self_attn.k_norm.weight"), l.k_norm, c.head_dim(),
                     0, heads});
    }
    out.push_back({name("attn_output.weight", "self_attn.o_proj.weight"), l.wo, d, q});
    out.push_back({name("ffn_norm.weight", "post_attention_layernorm.weight"), l.rms_ffn, d, 0});
    if (!c.n_experts) {
      out.push_back({name("ffn_gate.weight", "mlp.gate_proj.weight"), l.w1, h, d});
      out.push_back({name("ffn_down.weight", "mlp.down_proj.weight"), l.w2, d, h});
      out.push_back({name("ffn_up.weight", "mlp.up_proj.weight"), l.w3, h, d});
      continue;
    }
    const std::string moe = qwen3_moe ? "mlp." : "block_sparse_moe.";
    out.push_back(
        {name("ffn_gate_inp.weight", moe + "gate.weight"), l.router, c.n_experts, d, 0, 0, true});
    if (gguf) {
      const auto stacked = [&](const char* gguf_name, std::span<const float> LlamaExpert::*w,
                               int64_t rows, int64_t cols) {
        std::vector<float>& all = storage.emplace_back();
        for (const LlamaExpert& e : l.experts) all.insert(all.end(), (e.*w).begin(), (e.*w).end());
        out.push_back({name(gguf_name, ""), all, rows, cols, 0, c.n_experts});
      };
      stacked("ffn_gate_exps.weight", &LlamaExpert::w1, h, d);
      stacked("ffn_down_exps.weight", &LlamaExpert::w2, d, h);
      stacked("ffn_up_exps.weight", &LlamaExpert::w3, h, d);
    } else {
      // Mixtral names an expert's matrices w1 / w2 / w3, Qwen3-MoE gate / down / up_proj.
      const char* gate = qwen3_moe ? "gate_proj.weight" : "w1.weight";
      const char* down = qwen3_moe ? "down_proj.weight" : "w2.weight";
      const char* up = qwen3_moe ? "up_proj.weight" : "w3.weight";
      for (int64_t e = 0; e < c.n_experts; ++e) {
        const LlamaExpert& x = l.experts[static_cast<size_t>(e)];
        const std::string p = moe + "experts." + std::to_string(e) + ".";
        out.push_back({name("", p + gate), x.w1, h, d});
        out.push_back({name("", p + down), x.w2, d, h});
        out.push_back({name("", p + up), x.w3, h, d});
      }
    }
  }
  return out;
}

// The weight's data as the format stores it: Q and K rows (or biases) rotated by halves.
std::span<const float> stored(const Weight& w, std::vector<float>& scratch) {
  if (!w.rope_heads) return w.data;
  scratch.resize(w.data.size());
  interleaved_to_rotate_half(w.data, scratch, w.rope_heads, w.cols ? w.cols : 1);
  return scratch;
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
  const std::string arch = gguf_architecture(architecture_of(c, path));
  if (arch == "qwen3moe" && c.expert_gating != ExpertGating::kChosenOfSoftmaxNormalized)
    throw InputError(path +
                     ": a Qwen3-MoE without norm_topk_prob cannot be written as GGUF: "
                     "llama.cpp always renormalises the chosen experts' probabilities");
  std::vector<std::vector<float>> storage;
  const std::vector<Weight> weights = weights_of(m, Format::kGguf, storage);

  GgufBytes h;
  h.put(kGgufMagic);
  h.put(kGgufVersion);
  h.put<uint64_t>(weights.size());
  const bool qwen3 = arch == "qwen3" || arch == "qwen3moe";
  const uint64_t kv_count = 14 + (c.n_experts ? 2 : 0) + (qwen3 ? 2 : 0) +
                            (arch == "qwen3moe" ? 1 : 0) + (tokenizer ? 7 : 0);
  h.put(kv_count);
  const std::string k = arch + ".";
  h.string("general.architecture", arch);
  h.string("general.name", std::filesystem::path(m.path).stem().string());
  h.u32("general.file_type", file_type(type));
  h.u32("general.quantization_version", 2);  // ggml's QK format version of Q8_0 / Q4_0
  h.u32(k + "vocab_size", static_cast<uint32_t>(c.vocab_size));
  h.u32(k + "context_length", static_cast<uint32_t>(c.seq_len));
  h.u32(k + "embedding_length", static_cast<uint32_t>(c.dim));
  h.u32(k + "block_count", static_cast<uint32_t>(c.n_layers));
  h.u32(k + "feed_forward_length", static_cast<uint32_t>(c.hidden_dim));
  h.u32(k + "attention.head_count", static_cast<uint32_t>(c.n_heads));
  h.u32(k + "attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  h.u32(k + "rope.dimension_count", static_cast<uint32_t>(c.head_dim()));
  h.f32(k + "rope.freq_base", c.rope_theta);
  h.f32(k + "attention.layer_norm_rms_epsilon", c.norm_eps);
  if (c.n_experts) {
    h.u32(k + "expert_count", static_cast<uint32_t>(c.n_experts));
    h.u32(k + "expert_used_count", static_cast<uint32_t>(c.experts_per_token));
  }
  if (qwen3) {
    h.u32(k + "attention.key_length", static_cast<uint32_t>(c.head_dim()));
    h.u32(k + "attention.value_length", static_cast<uint32_t>(c.head_dim()));
  }
  if (arch == "qwen3moe")
    h.u32(k + "expert_feed_forward_length", static_cast<uint32_t>(c.hidden_dim));
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
    if (!w.cols || w.keep_f32) {
      t = GgmlType::F32;
    } else if ((t == GgmlType::Q8_0 || t == GgmlType::Q4_0) && w.cols % kQuantBlock != 0) {
      t = GgmlType::F16;
    }
    types.push_back(t);
    h.str(w.name);
    h.put<uint32_t>(w.experts ? 3 : w.cols ? 2 : 1);
    if (w.cols) h.put<uint64_t>(w.cols);  // ne[0], the innermost
    h.put<uint64_t>(w.rows);
    if (w.experts) h.put<uint64_t>(w.experts);
    h.put(static_cast<uint32_t>(t));
    h.put(offset);
    offset = align_up(offset + ggml_tensor_bytes(t, w.data.size()), kGgufDefaultAlignment);
  }
  h.bytes.resize(align_up(h.bytes.size(), kGgufDefaultAlignment), '\0');

  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(h.bytes.data(), static_cast<std::streamsize>(h.bytes.size()));
  std::vector<float> scratch;
  for (size_t i = 0; i < weights.size(); ++i) {
    const std::vector<uint8_t> data = encode_gguf(stored(weights[i], scratch), types[i]);
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
  const std::string arch = architecture_of(c, dir);
  std::vector<std::vector<float>> storage;
  const std::vector<Weight> weights = weights_of(m, Format::kSafetensors, storage);

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
    const std::span<const float> x = stored(w, permuted);
    bytes.resize(x.size() * width);
    numerics::from_fp32(type, x.data(), bytes.data(), x.size());
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
  }
  out.flush();
  check_written(out, model_path);

  const std::map<std::string, const char*> classes = {{"llama", "LlamaForCausalLM"},
                                                      {"qwen2", "Qwen2ForCausalLM"},
                                                      {"mixtral", "MixtralForCausalLM"},
                                                      {"qwen3", "Qwen3ForCausalLM"},
                                                      {"qwen3_moe", "Qwen3MoeForCausalLM"}};
  const char* architecture = classes.at(arch);
  nlohmann::json config = {{"architectures", {architecture}},
                           {"model_type", arch},
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
  if (arch == "qwen2") {
    config["use_sliding_window"] = false;
    config["sliding_window"] = c.seq_len;
    config["max_window_layers"] = c.n_layers;
  } else if (arch == "mixtral") {
    config["num_local_experts"] = c.n_experts;
    config["num_experts_per_tok"] = c.experts_per_token;
    config["sliding_window"] = nullptr;
  }
  if (c.qk_norm) {  // Qwen3
    config["head_dim"] = c.head_dim();
    config["attention_bias"] = false;
    config["use_sliding_window"] = false;
    config["sliding_window"] = nullptr;
  }
  if (arch == "qwen3_moe") {
    config["num_experts"] = c.n_experts;
    config["num_experts_per_tok"] = c.experts_per_token;
    config["moe_intermediate_size"] = c.hidden_dim;
    config["norm_topk_prob"] = c.expert_gating == ExpertGating::kChosenOfSoftmaxNormalized;
    config["decoder_sparse_step"] = 1;
    config["mlp_only_layers"] = nlohmann::json::array();
  }
  const std::string config_path = (fs::path(dir) / "config.json").string();
  std::ofstream cfg(config_path, std::ios::trunc);
  cfg << config.dump(2) << "\n";
  cfg.flush();
  check_written(cfg, config_path);
}

}  // namespace seedchip::llm
