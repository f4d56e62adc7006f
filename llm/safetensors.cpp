#include "llm/safetensors.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>
#include <vector>

#include "arch/dtype.h"
#include "llm/model_io.h"
#include "sim/numerics/numerics.h"

namespace seedchip::llm {

namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100 << 20;  // the safetensors spec's limit
constexpr uint64_t kMaxElements = 1ull << 56;    // per tensor; keeps byte counts from overflowing
// Real headers and configs nest a few levels; nlohmann's dump(), which the messages use, recurses
// once per level and would overflow the stack on the millions a large file can hold.
constexpr int kMaxJsonDepth = 64;

// Permutes the rows of each head: rotate-half row `from(r)` goes to row r of `out`, or the reverse.
void permute_heads(std::span<const float> in, std::span<float> out, int64_t n_heads, int64_t cols,
                   bool to_interleaved) {
  const int64_t rows = static_cast<int64_t>(in.size()) / cols;
  const int64_t hd = rows / n_heads, half = hd / 2;
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < half; ++i)
      for (int64_t j = 0; j < 2; ++j) {
        const int64_t interleaved = h * hd + 2 * i + j, rotate_half = h * hd + j * half + i;
        const int64_t src = to_interleaved ? rotate_half : interleaved;
        const int64_t dst = to_interleaved ? interleaved : rotate_half;
        std::memcpy(out.data() + dst * cols, in.data() + src * cols,
                    static_cast<size_t>(cols) * sizeof(float));
      }
}

// JSON text (a stream or a character range) parsed without exceptions: discarded when invalid.
// Throws InputError naming the file and `what` when it nests deeper than kMaxJsonDepth.
template <class... Input>
json parse_shallow(const std::string& path, const std::string& what, Input&&... in) {
  bool too_deep = false;
  const json::parser_callback_t note_depth = [&](int depth, json::parse_event_t, json&) {
    too_deep = too_deep || depth > kMaxJsonDepth;
    return true;
  };
  json j = json::parse(std::forward<Input>(in)..., note_depth, false);
  if (too_deep)
    fail(path, what + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  return j;
}

json checked_object(json j, const std::string& path) {
  if (j.is_discarded()) fail(path, "is not valid JSON");
  if (!j.is_object()) fail(path, "is not a JSON object");
  return j;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) fail(path, "cannot open");
  return checked_object(parse_shallow(path, "JSON", in), path);
}

json parse_json(std::string_view text, const std::string& path) {
  return checked_object(parse_shallow(path, "JSON", text.begin(), text.end()), path);
}

// The Hugging Face config.json of a LlamaForCausalLM.
class HfConfig {
 public:
  HfConfig(const std::string& path, json j) : path_(path), j_(std::move(j)) {}

  std::optional<int64_t> optional_integer(const std::string& key) const {
    const auto it = j_.find(key);
    if (it == j_.end()) return std::nullopt;
    if (!it->is_number_integer() ||
        (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)))
      wrong(key, *it, "an integer");
    return it->get<int64_t>();
  }
  int64_t integer(const std::string& key) const {
    const std::optional<int64_t> v = optional_integer(key);
    if (!v) fail(path_, "key " + key + " is missing, expected an integer");
    return *v;
  }
  std::optional<double> optional_number(const std::string& key) const {
    const auto it = j_.find(key);
    if (it == j_.end()) return std::nullopt;
    if (!it->is_number()) wrong(key, *it, "a number");
    return it->get<double>();
  }
  double number(const std::string& key) const {
    const std::optional<double> v = optional_number(key);
    if (!v) fail(path_, "key " + key + " is missing, expected a number");
    return *v;
  }
  bool boolean(const std::string& key, bool default_value) const {
    const auto it = j_.find(key);
    if (it == j_.end() || it->is_null()) return default_value;
    if (!it->is_boolean()) wrong(key, *it, "true or false");
    return it->get<bool>();
  }
  // A string key, `default_value` when absent.
  std::string string(const std::string& key, const std::string& default_value) const {
    const auto it = j_.find(key);
    if (it == j_.end()) return default_value;
    if (!it->is_string()) wrong(key, *it, "a string");
    return it->get<std::string>();
  }
  bool is_null(const std::string& key) const {
    const auto it = j_.find(key);
    return it == j_.end() || it->is_null();
  }
  // A string key that must have `expected` when present.
  void expect_string(const std::string& key, const std::string& expected,
                     const std::string& why) const {
    const auto it = j_.find(key);
    if (it != j_.end() && (!it->is_string() || it->get<std::string>() != expected))
      wrong(key, *it, "\"" + expected + "\"" + why);
  }
  void expect_absent(const std::string& key, const std::string& why) const {
    const auto it = j_.find(key);
    if (it != j_.end() && !it->is_null()) wrong(key, *it, "null or absent" + why);
  }
  void expect_empty_list(const std::string& key, const std::string& why) const {
    const auto it = j_.find(key);
    if (it != j_.end() && !it->is_null() && !(it->is_array() && it->empty()))
      wrong(key, *it, "[] or absent" + why);
  }

 private:
  [[noreturn]] void wrong(const std::string& key, const json& v,
                          const std::string& expected) const {
    fail(path_, "key " + key + " is " + v.dump() + ", expected " + expected);
  }
  const std::string& path_;
  json j_;
};

struct Entry {
  DataType dtype = DataType::FP32;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;
  uint64_t elements = 1;
};

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Entry read_entry(const std::string& path, const std::string& name, const json& v,
                 const uint8_t* data, uint64_t data_size) {
  const std::string what = "tensor " + name;
  if (!v.is_object()) fail(path, what + " is " + v.dump() + ", expected a JSON object");
  const auto dtype = v.find("dtype");
  if (dtype == v.end() || !dtype->is_string())
    fail(path, what + " has no string field dtype, expected F32, F16 or BF16");
  const std::string d = dtype->get<std::string>();
  Entry e;
  if (d == "F32") {
    e.dtype = DataType::FP32;
  } else if (d == "F16") {
    e.dtype = DataType::FP16;
  } else if (d == "BF16") {
    e.dtype = DataType::BF16;
  } else {
    fail(path, what + " has dtype " + d + ", expected F32, F16 or BF16");
  }
  const auto shape = v.find("shape");
  if (shape == v.end() || !shape->is_array()) fail(path, what + " has no array field shape");
  for (const json& n : *shape) {
    if (!n.is_number_unsigned())
      fail(path, what + " has shape " + shape->dump() + ", expected non-negative integers");
    const uint64_t extent = n.get<uint64_t>();
    // An extent of 0 makes e.elements 0: bound each extent too, and never divide by 0.
    if (extent > kMaxElements || (e.elements != 0 && extent > kMaxElements / e.elements))
      fail(path, what + " has shape " + shape->dump() + ", more than 2^56 elements");
    e.shape.push_back(static_cast<int64_t>(extent));
    e.elements *= extent;
  }
  const auto offsets = v.find("data_offsets");
  if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    fail(path, what + " has no field data_offsets of two non-negative integers");
  const uint64_t begin = (*offsets)[0].get<uint64_t>(), end = (*offsets)[1].get<uint64_t>();
  if (begin > end || end > data_size)
    fail(path, what + " has data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                   "], outside the " + std::to_string(data_size) + " bytes of data");
  const uint64_t bytes = e.elements * static_cast<uint64_t>(dtype_bytes(e.dtype));
  if (end - begin != bytes)
    fail(path, what + " has data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                   "] (" + std::to_string(end - begin) + " bytes), expected " +
                   std::to_string(bytes) + " bytes for shape " + shape_text(e.shape) + " of " + d);
  e.data = data + begin;
  return e;
}

}  // namespace

void rotate_half_to_interleaved(std::span<const float> in, std::span<float> out, int64_t n_heads,
                                int64_t cols) {
  permute_heads(in, out, n_heads, cols, true);
}

void interleaved_to_rotate_half(std::span<const float> in, std::span<float> out, int64_t n_heads,
                                int64_t cols) {
  permute_heads(in, out, n_heads, cols, false);
}

namespace {

// The configuration from config.json (named cfg_path in the messages) into m.config.
void read_config(LlamaModel& m, const HfConfig& cfg, const std::string& cfg_path) {
  LlamaConfig& c = m.config;
  c.name = cfg.string("model_type", "llama");
  const bool qwen3 = c.name == "qwen3" || c.name == "qwen3_moe";
  if (c.name != "llama" && c.name != "qwen2" && c.name != "mixtral" && !qwen3)
    fail(cfg_path,
         "key model_type is \"" + c.name +
             "\", expected \"llama\", \"qwen2\", \"mixtral\", \"qwen3\" or \"qwen3_moe\"");
  cfg.expect_string("hidden_act", "silu", ": the feed-forward is SwiGLU");
  cfg.expect_absent("rope_scaling", ": RoPE scaling is not supported");
  if (c.name != "qwen2" && cfg.boolean("attention_bias", false))
    fail(cfg_path,
         "key attention_bias is true, expected false: biases are read for model_type qwen2 only");
  if (cfg.boolean("mlp_bias", false))
    fail(cfg_path, "key mlp_bias is true, expected false: biases are not supported");
  // Qwen2's q/k/v projections always have biases; its sliding window is off unless asked for.
  c.attention_bias = c.name == "qwen2";
  if ((c.name == "qwen2" || qwen3) && cfg.boolean("use_sliding_window", false))
    fail(cfg_path,
         "key use_sliding_window is true, expected false: sliding-window attention is not "
         "supported");
  c.qk_norm = qwen3;
  std::string hidden_key = "intermediate_size";
  if (c.name == "mixtral") {
    c.n_experts = cfg.integer("num_local_experts");
    c.experts_per_token = cfg.integer("num_experts_per_tok");
    check_experts(cfg_path, c, "key num_local_experts", "key num_experts_per_tok");
    if (c.n_experts == 0)
      fail(cfg_path, "key num_local_experts is 0, expected at least 1 for model_type mixtral");
  } else if (c.name == "qwen3_moe") {
    c.n_experts = cfg.integer("num_experts");
    c.experts_per_token = cfg.integer("num_experts_per_tok");
    check_experts(cfg_path, c, "key num_experts", "key num_experts_per_tok");
    if (c.n_experts == 0)
      fail(cfg_path, "key num_experts is 0, expected at least 1 for model_type qwen3_moe");
    // transformers' default is false; the released Qwen3-MoE checkpoints set it true.
    c.expert_gating = cfg.boolean("norm_topk_prob", false)
                          ? ExpertGating::kChosenOfSoftmaxNormalized
                          : ExpertGating::kChosenOfSoftmax;
    // Every layer sparse: the dense layers of decoder_sparse_step / mlp_only_layers are not read.
    if (const std::optional<int64_t> step = cfg.optional_integer("decoder_sparse_step");
        step && *step != 1)
      fail(cfg_path, "key decoder_sparse_step is " + std::to_string(*step) +
                         ", expected 1: dense layers between the sparse ones are not supported");
    cfg.expect_empty_list("mlp_only_layers",
                          ": dense layers between the sparse ones are not supported");
    hidden_key = "moe_intermediate_size";  // an expert's width; intermediate_size is unused
  }
  c.dim = cfg.integer("hidden_size");
  c.hidden_dim = cfg.integer(hidden_key);
  c.n_layers = cfg.integer("num_hidden_layers");
  c.n_heads = cfg.integer("num_attention_heads");
  c.n_kv_heads = cfg.optional_integer("num_key_value_heads").value_or(c.n_heads);
  c.vocab_size = cfg.integer("vocab_size");
  c.seq_len = cfg.integer("max_position_embeddings");
  c.rope_theta = static_cast<float>(cfg.optional_number("rope_theta").value_or(10000.0));
  c.norm_eps = static_cast<float>(cfg.number("rms_norm_eps"));
  c.shared_classifier = cfg.boolean("tie_word_embeddings", false);
  // Qwen3's head width is its own (transformers' default 128); the others' is hidden / heads.
  if (qwen3)
    set_head_dim(cfg_path, c, cfg.optional_integer("head_dim").value_or(128), "key head_dim");
  check_config(cfg_path, c,
               {"key ", "hidden_size", hidden_key, "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "vocab_size", "max_position_embeddings"});
  if (const std::optional<int64_t> hd = cfg.optional_integer("head_dim"); hd && *hd != c.head_dim())
    fail(cfg_path, "key head_dim is " + std::to_string(*hd) + ", expected hidden_size / " +
                       "num_attention_heads = " + std::to_string(c.head_dim()));
  // Mixtral (as Mistral) may attend within a window; one at least as long as the context is none.
  if (c.name == "mixtral" && !cfg.is_null("sliding_window")) {
    const int64_t window = cfg.integer("sliding_window");
    if (window < c.seq_len)
      fail(cfg_path, "key sliding_window is " + std::to_string(window) +
                         ", expected null or at least max_position_embeddings " +
                         std::to_string(c.seq_len) + ": sliding-window attention is not supported");
  }
}

const std::string kLengthField = "8-byte safetensors header length";

// The tensors of m.config from the .safetensors image `file` (named path in the messages).
void read_tensors(LlamaModel& m, std::span<const uint8_t> file, const std::string& path) {
  const LlamaConfig& c = m.config;
  if (file.size() < 8)
    fail(path,
         "file is " + std::to_string(file.size()) + " bytes, too short for the " + kLengthField);
  const uint64_t size = file.size();
  uint64_t header_bytes;
  std::memcpy(&header_bytes, file.data(), 8);
  if (header_bytes > size - 8)
    fail(path, "header length " + std::to_string(header_bytes) + " exceeds the " +
                   std::to_string(size - 8) + " bytes after the length field");
  if (header_bytes > kMaxHeaderBytes)
    fail(path, "header length " + std::to_string(header_bytes) + ", expected at most " +
                   std::to_string(kMaxHeaderBytes));
  const auto* header_begin = reinterpret_cast<const char*>(file.data() + 8);
  const json header = parse_shallow(path, "header JSON", header_begin, header_begin + header_bytes);
  if (header.is_discarded() || !header.is_object())
    fail(path, "header (" + std::to_string(header_bytes) + " bytes) is not a JSON object");
  const uint8_t* data = file.data() + 8 + header_bytes;
  const uint64_t data_size = size - 8 - header_bytes;
  std::map<std::string, Entry, std::less<>> entries;
  for (const auto& [name, v] : header.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) fail(path, "__metadata__ is " + v.dump() + ", expected a JSON object");
      continue;
    }
    entries.emplace(name, read_entry(path, name, v, data, data_size));
  }

  // A [rows, cols] (or [rows] when cols is 0) tensor as FP32; q_proj and k_proj (rope_heads > 0)
  // permuted from rotate-half to interleaved pairs.
  const auto tensor = [&](const std::string& name, int64_t rows, int64_t cols,
                          int64_t rope_heads = 0) -> std::span<const float> {
    const auto it = entries.find(name);
    if (it == entries.end()) fail(path, "tensor " + name + " is missing");
    const Entry& e = it->second;
    const std::vector<int64_t> expected =
        cols ? std::vector<int64_t>{rows, cols} : std::vector<int64_t>{rows};
    if (e.shape != expected)
      fail(path, "tensor " + name + " has shape " + shape_text(e.shape) + ", expected " +
                     shape_text(expected));
    const size_t n = static_cast<size_t>(e.elements);
    const bool aligned = reinterpret_cast<uintptr_t>(e.data) % alignof(float) == 0;
    if (e.dtype == DataType::FP32 && aligned && !rope_heads)
      return {reinterpret_cast<const float*>(e.data), n};
    const std::span<float> out = ModelStorage::own(m, n);
    numerics::to_fp32(e.dtype, e.data, out.data(), n);
    if (rope_heads) {
      const std::vector<float> rotate_half(out.begin(), out.end());
      rotate_half_to_interleaved(rotate_half, out, rope_heads, cols ? cols : 1);
    }
    return out;
  };

  const int64_t d = c.dim, h = c.hidden_dim, kv = c.kv_dim(), q = c.q_dim();
  LlamaWeights& w = m.weights;
  w.token_embedding = tensor("model.embed_tokens.weight", c.vocab_size, d);
  w.layers.resize(static_cast<size_t>(c.n_layers));
  for (int64_t i = 0; i < c.n_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LlamaLayer& l = w.layers[static_cast<size_t>(i)];
    l.rms_att = tensor(p + "input_layernorm.weight", d, 0);
    l.wq = tensor(p + "self_attn.q_proj.weight", q, d, c.n_heads);
    l.wk = tensor(p + "self_attn.k_proj.weight", kv, d, c.n_kv_heads);
    l.wv = tensor(p + "self_attn.v_proj.weight", kv, d);
    l.wo = tensor(p + "self_attn.o_proj.weight", d, q);
    l.rms_ffn = tensor(p + "post_attention_layernorm.weight", d, 0);
    if (c.attention_bias) {  // permuted as the rows of q_proj and k_proj
      l.bq = tensor(p + "self_attn.q_proj.bias", q, 0, c.n_heads);
      l.bk = tensor(p + "self_attn.k_proj.bias", kv, 0, c.n_kv_heads);
      l.bv = tensor(p + "self_attn.v_proj.bias", kv, 0);
    }
    if (c.qk_norm) {  // one head's gains, permuted as each head's rows of q_proj and k_proj
      l.q_norm = tensor(p + "self_attn.q_norm.weight", c.head_dim(), 0, 1);
      l.k_norm = tensor(p + "self_attn.k_norm.weight", c.head_dim(), 0, 1);
    }
    if (c.name == "qwen3_moe") {
      const std::string moe = p + "mlp.";
      l.router = tensor(moe + "gate.weight", c.n_experts, d);
      for (int64_t e = 0; e < c.n_experts; ++e) {
        const std::string x = moe + "experts." + std::to_string(e) + ".";
        l.experts.push_back({tensor(x + "gate_proj.weight", h, d),
                             tensor(x + "down_proj.weight", d, h),
                             tensor(x + "up_proj.weight", h, d)});
      }
    } else if (c.n_experts) {
      const std::string moe = p + "block_sparse_moe.";
      l.router = tensor(moe + "gate.weight", c.n_experts, d);
      for (int64_t e = 0; e < c.n_experts; ++e) {
        const std::string x = moe + "experts." + std::to_string(e) + ".";
        l.experts.push_back({tensor(x + "w1.weight", h, d), tensor(x + "w2.weight", d, h),
                             tensor(x + "w3.weight", h, d)});
      }
    } else {
      l.w1 = tensor(p + "mlp.gate_proj.weight", h, d);
      l.w2 = tensor(p + "mlp.down_proj.weight", d, h);
      l.w3 = tensor(p + "mlp.up_proj.weight", h, d);
    }
  }
  w.rms_final = tensor("model.norm.weight", d, 0);
  // Tied embeddings: transformers ties lm_head to the embedding whether or not the file has it.
  w.classifier =
      c.shared_classifier ? w.token_embedding : tensor("lm_head.weight", c.vocab_size, d);
}

std::string config_path_for(const std::string& path, const std::string& config_path) {
  return !config_path.empty()
             ? config_path
             : (std::filesystem::path(path).parent_path() / "config.json").string();
}

}  // namespace

LlamaModel load_safetensors(const std::string& path, const std::string& config_path) {
  const std::string cfg_path = config_path_for(path, config_path);
  LlamaModel m;
  m.path = path;
  read_config(m, HfConfig(cfg_path, read_json(cfg_path)), cfg_path);
  const MappedFile file = map_file(path, 8, kLengthField);
  ModelStorage::keep_mapping(m, file.mapping);
  read_tensors(m, {file.bytes, static_cast<size_t>(file.size)}, path);
  return m;
}

LlamaModel load_safetensors_bytes(std::span<const uint8_t> file, const std::string& path,
                                  std::string_view config_json, const std::string& config_path) {
  LlamaModel m;
  m.path = path;
  read_config(m, HfConfig(config_path, parse_json(config_json, config_path)), config_path);
  read_tensors(m, file, path);
  return m;
}

}  // namespace seedchip::llm
