#pragma once
// Hugging Face checkpoints: one model.safetensors (a little-endian uint64 header length, a JSON
// header mapping each tensor name to {"dtype", "shape", "data_offsets": [begin, end)} relative to
// the end of the header, "__metadata__" allowed, then the data) and config.json, for
// LlamaForCausalLM: hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,
// num_key_value_heads (default num_attention_heads), vocab_size, max_position_embeddings,
// rope_theta (default 10000), rms_norm_eps, tie_word_embeddings (default false). The tensors are
// model.embed_tokens.weight, model.layers.N.{input_layernorm, self_attn.{q,k,v,o}_proj,
// post_attention_layernorm, mlp.{gate,up,down}_proj}.weight, model.norm.weight and lm_head.weight
// (not read when tied). dtypes F32, F16 and BF16. Sharded checkpoints are not read.
//
// model_type "llama" (the default), "qwen2" (Qwen2 / Qwen2.5: the same keys and tensors, plus
// self_attn.{q,k,v}_proj.bias; use_sliding_window must be false) or "mixtral" (num_local_experts,
// num_experts_per_tok; per layer block_sparse_moe.gate.weight [experts, hidden_size] and
// block_sparse_moe.experts.E.{w1,w2,w3}.weight, gate, down and up, in place of mlp.*;
// sliding_window null or at least max_position_embeddings), "qwen3" (head_dim, default 128, may
// differ from hidden_size / heads; per layer self_attn.{q,k}_norm.weight [head_dim], each query
// and key head's RMSNorm gains before RoPE; no biases) or "qwen3_moe" (Qwen3 with num_experts,
// num_experts_per_tok, moe_intermediate_size as the experts' width and norm_topk_prob, default
// false; per layer mlp.gate.weight [experts, hidden_size] and
// mlp.experts.E.{gate,up,down}_proj.weight; decoder_sparse_step must be 1 and mlp_only_layers
// empty: every layer sparse).
//
// RoPE layout: Hugging Face's Llama rotates halves (rotate_half pairs dimension i of a head with
// i + head_dim/2), and transformers' convert_llama_weights_to_hf.py permutes Meta's interleaved
// query and key rows into that order; llama.cpp's convert_hf_to_gguf.py permutes them back. The
// loader does the same: q_proj and k_proj become interleaved pairs (what LlamaModel uses) as owned
// FP32 copies, and so do Qwen2's q_proj and k_proj biases and Qwen3's q_norm and k_norm gains (as
// one head's rows). The other FP32 tensors are views into
// the memory-mapped file (copies when the data is not 4-byte aligned); F16 and BF16 tensors are
// converted to FP32 copies the model owns.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "llm/llama2c.h"

namespace seedchip::llm {

// Within each head of head_dim = rows / n_heads rows (each `cols` long): the rotate-half row i
// (i < head_dim/2) becomes interleaved row 2i, and row head_dim/2 + i becomes row 2i + 1. `in` and
// `out` hold rows * cols floats and do not overlap.
void rotate_half_to_interleaved(std::span<const float> in, std::span<float> out, int64_t n_heads,
                                int64_t cols);
// The inverse: interleaved row 2i + j becomes rotate-half row j * head_dim/2 + i.
void interleaved_to_rotate_half(std::span<const float> in, std::span<float> out, int64_t n_heads,
                                int64_t cols);

// `path` is the .safetensors file; `config_path` defaults to config.json in its directory. Throws
// InputError naming the file, the tensor or key, and what was expected: truncation, a header
// length beyond the file, a header that is not JSON or lacks a field, an unsupported dtype, data
// offsets outside the data or disagreeing with the shape, a missing tensor or a shape that
// disagrees with the configuration, a missing or mistyped config key, an unsupported feature
// (rope_scaling, an activation other than silu, a head_dim other than hidden_size / heads outside
// Qwen3, Qwen3-MoE's dense layers).
LlamaModel load_safetensors(const std::string& path, const std::string& config_path = "");

// load_safetensors on a checkpoint already in memory (load_safetensors reads config.json, maps the
// .safetensors file and calls the same code; the fuzz target calls this): `file` is the
// .safetensors image, named `path` in the messages, and `config_json` the text of config.json,
// named `config_path`; nothing is read from either path. Any bytes either load or raise InputError
// naming one of the two paths: no other exception, and no allocation beyond a small multiple of
// the input's size. FP32 tensors may be views into `file`, which must outlive the model.
LlamaModel load_safetensors_bytes(std::span<const uint8_t> file, const std::string& path,
                                  std::string_view config_json, const std::string& config_path);

}  // namespace seedchip::llm
