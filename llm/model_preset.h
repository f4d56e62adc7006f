#pragma once
// Model shape presets: the hyper-parameters of a published model (configs/models/<name>.yaml, each
// with the source it was copied from), without weights, for timing-only runs of models too large
// to simulate with data. A preset file holds these keys (the first eight are required):
//
//   name, architecture (llama | qwen2 | mixtral | qwen3-moe | bloom), source, hidden_size,
//   intermediate_size (one expert's width in a mixture of experts), num_layers, num_heads,
//   num_kv_heads, vocab_size, max_context, head_dim (default hidden_size / num_heads),
//   rope_theta, norm_eps, attention_bias, qk_norm, gated_ffn (default true), num_experts,
//   experts_per_token, tie_word_embeddings (default false)
#include <cstdint>
#include <string>
#include <vector>

#include "llm/llama2c.h"

namespace seedchip::llm {

struct ModelPreset {
  LlamaConfig config;
  std::string source;  // where the figures come from
  std::string path;
};

// A preset name (looked up in model_presets_dir()) or a path to a YAML file. Throws InputError
// naming the file, the key and what was expected: an unknown key, a missing required key, a value
// of the wrong type or out of range, an unknown architecture, or an unknown preset name (listing
// the known ones).
ModelPreset load_model_preset(const std::string& name_or_path);

std::string model_presets_dir();                // config_dir()/models
std::vector<std::string> list_model_presets();  // names, sorted
bool is_model_preset(const std::string& name);  // a file of that name in model_presets_dir()

// Weights of the whole model, every expert included (embeddings, norms and biases counted).
int64_t parameter_count(const LlamaConfig& config);
// Weights one token reads: the experts it is routed to, not all of them.
int64_t active_parameter_count(const LlamaConfig& config);

}  // namespace seedchip::llm
