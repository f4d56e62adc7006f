#pragma once
// GGUF version 3 (ggml's docs/gguf.md), little-endian: "GGUF", uint32 version, uint64 tensor
// count, uint64 metadata count; the metadata as key (uint64 length + bytes), uint32 value type,
// value (the 13 GGUF value types, arrays nested or not); the tensor infos as name, uint32 n_dims,
// n_dims uint64 extents ne[] innermost first (a row-major [out, in] matrix is ne = [in, out]),
// uint32 ggml type, uint64 offset; then the data section, which starts at the next multiple of
// general.alignment (default 32) and where each offset is a multiple of it.
//
// load_gguf reads general.architecture "llama" (what llama.cpp's converters write for Llama 1-3,
// TinyLlama, and llama2.c exports): llama.context_length, .embedding_length, .block_count,
// .feed_forward_length, .attention.head_count, .attention.head_count_kv (default head_count),
// .rope.freq_base (default 10000), .attention.layer_norm_rms_epsilon, .rope.dimension_count (if
// present, the head dimension); the tensors token_embd.weight, blk.N.{attn_norm, attn_q, attn_k,
// attn_v, attn_output, ffn_norm, ffn_gate, ffn_down, ffn_up}.weight, output_norm.weight and
// output.weight (absent: the classifier is token_embd). Rope scaling is refused.
//
// Mixtral is general.architecture "llama" with llama.expert_count and llama.expert_used_count, as
// llama.cpp writes it: per layer blk.N.ffn_gate_inp.weight (the router, ne = [embedding,
// experts]) and the experts stacked in 3-D tensors blk.N.ffn_gate_exps / ffn_up_exps (ne =
// [embedding, feed_forward, experts]) and ffn_down_exps (ne = [feed_forward, embedding, experts])
// in place of ffn_gate / ffn_up / ffn_down. general.architecture "qwen2" (Qwen2 / Qwen2.5) has the
// same keys under qwen2.* and the tensors of a dense llama plus blk.N.attn_{q,k,v}.bias; experts
// under qwen2 and biases under llama are refused. "qwen3" (Qwen3) has qwen3.* keys, with
// .attention.key_length (and .value_length, equal) as the head width, which may differ from
// embedding_length / head_count, no biases, and per layer blk.N.attn_q_norm / attn_k_norm.weight
// (ne = [key_length]); "qwen3moe" (Qwen3-MoE) adds .expert_count, .expert_used_count and
// .expert_feed_forward_length (the experts' width; feed_forward_length is not read) with Mixtral's
// router and stacked expert tensors. llama.cpp renormalises Qwen3-MoE's chosen probabilities, so
// the model's expert_gating is kChosenOfSoftmaxNormalized.
//
// RoPE layout: llama.cpp's convert_hf_to_gguf.py permutes the query and key rows of Hugging Face
// Llama checkpoints (rotate-half) into the interleaved pairs of Meta's original layout, which is
// what llama.cpp's LLAMA rope (GGML_ROPE_TYPE_NORM) rotates and what llama2.c and LlamaModel use,
// so a llama GGUF's attn_q / attn_k are taken as they are. Qwen2 and Qwen3 are rotated by halves in
// llama.cpp (GGML_ROPE_TYPE_NEOX) and converted without the permutation, so the loader permutes
// their attn_q / attn_k rows, biases and q/k norm gains to interleaved pairs (owned copies), and
// write_gguf does the inverse.
//
// Tensor types: F32, F16, BF16, Q8_0 (blocks of 32: FP16 scale d, 32 int8 q; x = q * d) and Q4_0
// (blocks of 32: FP16 scale d, 16 bytes whose low nibbles are elements 0..15 and high nibbles
// 16..31; x = (q - 8) * d). The file is memory-mapped: F32 tensors are views into it; the others
// are dequantized to FP32 once, into buffers the model owns.
//
// The embedded tokenizer (tokenizer.ggml.model "llama": .tokens, .scores, .token_type,
// .bos_token_id 1, .eos_token_id 2) becomes the model's Tokenizer. SentencePiece pieces mark
// spaces with U+2581 and name BOS/EOS "<s>"/"</s>", where llama2.c's tokenizer.bin (tokenizer.py's
// export) has ' ' and "\n<s>\n"/"\n</s>\n": piece_from_gguf and piece_to_gguf map one to the other.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "llm/llama2c.h"

namespace seedchip::llm {

constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint32_t kGgufVersion = 3;
constexpr uint64_t kGgufDefaultAlignment = 32;

// Metadata value types, numbered as in the spec.
enum GgufValueType : uint32_t {
  kGgufU8,
  kGgufI8,
  kGgufU16,
  kGgufI16,
  kGgufU32,
  kGgufI32,
  kGgufF32,
  kGgufBool,
  kGgufString,
  kGgufArray,
  kGgufU64,
  kGgufI64,
  kGgufF64,
  kGgufValueTypes
};

// The tensor types read (ggml_type numbers).
enum class GgmlType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30 };

constexpr int64_t kQuantBlock = 32;      // elements per Q8_0 / Q4_0 block
constexpr int64_t kQ8_0BlockBytes = 34;  // FP16 scale + 32 int8
constexpr int64_t kQ4_0BlockBytes = 18;  // FP16 scale + 16 bytes of nibbles

std::string_view ggml_type_name(GgmlType t);  // "F32", "Q8_0", ...
// The bytes of `elements` values (a whole number of blocks for Q8_0 / Q4_0).
uint64_t ggml_tensor_bytes(GgmlType t, uint64_t elements);

// n is a multiple of kQuantBlock. The quantizers are ggml's reference ones (quantize_row_q8_0_ref:
// d = max|x| / 127, q = round(x / d); quantize_row_q4_0_ref: d = -(the x of largest magnitude) / 8,
// q = min(15, trunc(x / d + 8.5))).
void dequantize_q8_0(const uint8_t* blocks, float* out, size_t n);
void dequantize_q4_0(const uint8_t* blocks, float* out, size_t n);
void quantize_q8_0(const float* in, uint8_t* blocks, size_t n);
void quantize_q4_0(const float* in, uint8_t* blocks, size_t n);

std::string piece_from_gguf(int id, std::string_view piece);
std::string piece_to_gguf(int id, std::string_view piece);

// Throws InputError naming the file, the field or tensor, and what was expected: truncation
// anywhere, a bad magic, a version other than 3, an unknown value or tensor type, a duplicate key
// or tensor, a missing key or tensor, a key of the wrong type, a misaligned or out-of-file tensor,
// dims that disagree with the configuration, a configuration out of range.
LlamaModel load_gguf(const std::string& path);

// load_gguf on a GGUF image already in memory (load_gguf maps the file and calls this; so does the
// fuzz target): `path` names the file in the messages and becomes the model's path; nothing is
// read from it. Any bytes either load or raise InputError naming `path`: no other exception, and no
// allocation beyond a small multiple of the input's size. F32 tensors are views into `bytes` when
// 4-byte aligned (always, for a mapped file), so `bytes` must outlive the model; the rest are
// copies.
LlamaModel load_gguf_bytes(std::span<const uint8_t> bytes, const std::string& path);

}  // namespace seedchip::llm
