#include "llm/model_preset.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "arch/chip_loader.h"
#include "arch/error.h"
#include "arch/yaml_reader.h"

namespace seedchip::llm {

namespace fs = std::filesystem;

namespace {

const std::set<std::string> kArchitectures = {"llama", "qwen2", "mixtral", "qwen3-moe", "bloom"};

}  // namespace

std::string model_presets_dir() { return (fs::path(config_dir()) / "models").string(); }

std::vector<std::string> list_model_presets() {
  std::vector<std::string> names;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(model_presets_dir(), error))
    if (entry.path().extension() == ".yaml") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

bool is_model_preset(const std::string& name) {
  const auto names = list_model_presets();
  return std::find(names.begin(), names.end(), name) != names.end();
}

ModelPreset load_model_preset(const std::string& name_or_path) {
  const bool is_path =
      name_or_path.find('/') != std::string::npos || fs::path(name_or_path).extension() == ".yaml";
  std::string path = name_or_path;
  if (!is_path) {
    if (!is_model_preset(name_or_path)) {
      std::string known;
      for (const std::string& n : list_model_presets()) known += (known.empty() ? "" : ", ") + n;
      throw InputError("unknown model preset '" + name_or_path + "'; the presets in " +
                       model_presets_dir() + " are: " + known);
    }
    path = (fs::path(model_presets_dir()) / (name_or_path + ".yaml")).string();
  }
  YamlMapReader r(path, load_yaml_file(path, "the model preset"));
  constexpr int64_t kBig = int64_t{1} << 40;
  ModelPreset p;
  p.path = path;
  LlamaConfig& c = p.config;
  c.name = r.text("name", true);
  const std::string architecture = r.text("architecture", true);
  if (!kArchitectures.count(architecture))
    throw InputError(path +
                     ": key 'architecture': expected llama, qwen2, mixtral, qwen3-moe or "
                     "bloom, got '" +
                     architecture + "'");
  p.source = r.text("source", true);
  c.dim = r.integer("hidden_size", true, 0, 1, kBig);
  c.hidden_dim = r.integer("intermediate_size", true, 0, 1, kBig);
  c.n_layers = r.integer("num_layers", true, 0, 1, 100000);
  c.n_heads = r.integer("num_heads", true, 0, 1, 100000);
  c.n_kv_heads = r.integer("num_kv_heads", true, 0, 1, c.n_heads);
  c.vocab_size = r.integer("vocab_size", true, 0, 1, kBig);
  c.seq_len = r.integer("max_context", true, 0, 1, kBig);
  c.explicit_head_dim = r.integer("head_dim", false, 0, 2, 1 << 16);
  c.rope_theta = static_cast<float>(r.number("rope_theta", false, 10000.0, 1.0, 1e12));
  c.norm_eps = static_cast<float>(r.number("norm_eps", false, 1e-5, 0.0, 1.0));
  c.attention_bias = r.flag("attention_bias", architecture == "qwen2");
  c.qk_norm = r.flag("qk_norm", false);
  c.gated_ffn = r.flag("gated_ffn", true);
  c.n_experts = r.integer("num_experts", false, 0, 0, 1 << 16);
  c.experts_per_token =
      r.integer("experts_per_token", false, 0, 0, std::max<int64_t>(c.n_experts, 0));
  c.shared_classifier = r.flag("tie_word_embeddings", false);
  // Qwen3-MoE's released checkpoints renormalise the chosen experts' probabilities.
  if (architecture == "qwen3-moe") c.expert_gating = ExpertGating::kChosenOfSoftmaxNormalized;
  r.reject_unknown_keys("llm/model_preset.h");
  if (c.n_heads % c.n_kv_heads != 0)
    throw InputError(path + ": num_heads " + std::to_string(c.n_heads) +
                     " is not a multiple of num_kv_heads " + std::to_string(c.n_kv_heads));
  if (!c.explicit_head_dim && c.dim % c.n_heads != 0)
    throw InputError(path + ": hidden_size " + std::to_string(c.dim) +
                     " is not a multiple of num_heads; give head_dim");
  if (c.head_dim() % 2 != 0)
    throw InputError(path + ": the head width " + std::to_string(c.head_dim()) +
                     " is odd, but RoPE rotates pairs");
  if ((c.n_experts > 0) != (c.experts_per_token > 0))
    throw InputError(path +
                     ": num_experts and experts_per_token must both be set for a mixture "
                     "of experts");
  return p;
}

int64_t parameter_count(const LlamaConfig& c) {
  const int64_t attention = c.dim * (c.q_dim() + 2 * c.kv_dim()) + c.q_dim() * c.dim +
                            (c.attention_bias ? c.q_dim() + 2 * c.kv_dim() : 0) +
                            (c.qk_norm ? 2 * c.head_dim() : 0);
  const int64_t one_ffn = (c.gated_ffn ? 3 : 2) * c.dim * c.hidden_dim;
  const int64_t ffn =
      c.n_experts ? c.n_experts * one_ffn + c.dim * c.n_experts /* router */ : one_ffn;
  const int64_t per_layer = attention + ffn + 2 * c.dim;
  return c.n_layers * per_layer + c.vocab_size * c.dim * (c.shared_classifier ? 1 : 2) + c.dim;
}

int64_t active_parameter_count(const LlamaConfig& c) {
  if (!c.n_experts) return parameter_count(c);
  const int64_t one_ffn = (c.gated_ffn ? 3 : 2) * c.dim * c.hidden_dim;
  return parameter_count(c) - c.n_layers * (c.n_experts - c.experts_per_token) * one_ffn;
}

}  // namespace seedchip::llm
