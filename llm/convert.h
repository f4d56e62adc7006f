#pragma once
// Writes a LlamaModel (from any file load_model reads) as GGUF or as a Hugging Face checkpoint, in
// the forms load_gguf and load_safetensors read back, and that llama.cpp and transformers read.
#include <string>

#include "arch/dtype.h"
#include "llm/gguf.h"
#include "llm/llama2c.h"
#include "llm/tokenizer.h"

namespace seedchip::llm {

// GGUF v3, general.architecture "llama", with the llama.* keys and tensor names of gguf.h, Q and
// K as they are (interleaved pairs); a mixture of experts as llama with llama.expert_count,
// llama.expert_used_count, ffn_gate_inp (kept F32, as llama.cpp keeps it) and the stacked
// ffn_{gate,down,up}_exps; a model with attention biases as "qwen2" (qwen2.* keys,
// attn_{q,k,v}.bias, Q and K rows and biases rotated by halves as llama.cpp's Qwen2 has them); a
// model with per-head q/k norms as "qwen3" (qwen3.* keys with attention.key_length /
// value_length, attn_{q,k}_norm, rotated by halves as Qwen2) or, with experts, "qwen3moe" (also
// expert_count, expert_used_count, expert_feed_forward_length and Mixtral's expert tensors; only
// with ExpertGating::kChosenOfSoftmaxNormalized, the only gating llama.cpp's qwen3moe has).
// `type` is that of the matrices; as llama.cpp's converters do, the 1-D norm gains stay F32, and a
// Q8_0 / Q4_0 matrix whose rows are not a whole number of 32-element blocks is written F16. A
// non-null tokenizer is embedded as tokenizer.ggml.* (model "llama", SentencePiece pieces, token
// types, BOS 1, EOS 2, UNK 0). The classifier is written only when it is not shared. Throws
// InputError when the file cannot be written or the tokenizer's size differs from the model's
// vocabulary.
void write_gguf(const LlamaModel& model, const Tokenizer* tokenizer, const std::string& path,
                GgmlType type);

// `dir`/model.safetensors and `dir`/config.json (dir is created), every tensor as `type` (FP32,
// FP16 or BF16), q_proj and k_proj (and their biases) permuted to the rotate-half layout
// transformers expects; a shared classifier is left out and tie_word_embeddings set. model_type
// "llama", "qwen2" (attention biases), "mixtral" (experts), "qwen3" (q/k norms) or "qwen3_moe"
// (q/k norms and experts, norm_topk_prob from expert_gating), as load_safetensors reads them.
// Both writers throw InputError for a model no format here holds: biases with experts or with q/k
// norms, experts gated other than as their family gates (Mixtral kSoftmaxOfChosen, Qwen3-MoE the
// other two); this one also for another type or when a file cannot be written.
void write_safetensors(const LlamaModel& model, const std::string& dir, DataType type);

}  // namespace seedchip::llm
