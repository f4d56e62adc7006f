#pragma once
// The Llama family as a graph for the compiler: one decode step of a batch of sequences, each with
// one new token at its own run-time position, over a paged KV cache: per layer one pool of K rows
// and one of V rows, in which every sequence owns fixed-size pages (runtime/paged_kv.h says which).
// The graph is built from standard ONNX operators (Gather, Gemm, MatMul, ScatterND, Softmax,
// Where, ...), so it goes through the same passes and lowerings as any imported model:
//
//   inputs   token i32[B], pos i32[B] (each sequence's position),
//            slots i32[B, context] (the pool row of each sequence's positions 0..context-1; rows
//            after its `pos` are masked, so any valid row will do there),
//            write_slot i64[B, 1] (the pool row its new K and V go to: slots[b][pos[b]]),
//            k_pool.L and v_pool.L f32[pool_rows, kv_dim] per layer L
//   outputs  logits f32[B, vocab], k_pool_next.L and v_pool_next.L (the pools with each sequence's
//            new row written), which the runtime compiles in place over the pools
//            (CompileOptions::in_place, decode_in_place()) so that a step writes B rows per pool
//            and the pools stay in the chip's HBM from step to step
//
// RMSNorm is x / sqrt(mean(x^2) + eps) * w; RoPE rotates interleaved pairs (llama2.c's and GGUF's
// layout) by angles read from constant cos/sin tables at each sequence's `pos`; attention gathers
// each sequence's rows from the pools and masks the positions after its `pos`; grouped-query
// attention is one product batched over sequences and K/V heads, each with its group of query
// heads as rows. Qwen3's per-head query and key RMSNorms come before RoPE; a mixture of experts is
// routed by a rank of the router logits (the compiler has no TopK) and computed as ExpertForm says.
#include <cstdint>
#include <map>
#include <string>

#include "compiler/ir/graph.h"
#include "llm/llama2c.h"

namespace seedchip::llm {

struct DecodeGraphNames {
  static std::string k_pool(int64_t layer) { return "k_pool." + std::to_string(layer); }
  static std::string v_pool(int64_t layer) { return "v_pool." + std::to_string(layer); }
  static std::string k_next(int64_t layer) { return "k_pool_next." + std::to_string(layer); }
  static std::string v_next(int64_t layer) { return "v_pool_next." + std::to_string(layer); }
  // The residual stream [B, dim] after a layer, an output only when asked for (for checking
  // against the host reference layer by layer).
  static std::string layer_output(int64_t layer) { return "layer_out." + std::to_string(layer); }
};

// How the decode step computes a mixture of experts (both give the reference's numbers within
// float rounding). kSparse: only each token's chosen experts, their matrices gathered from the
// stacked experts by run-time index (Gather, dma.gather) and multiplied by batched MatMuls over the
// (token, expert) pairs, so a token reads experts_per_token experts' weights. kDense: every expert
// on every token, the unchosen weighted by exact zeros (all n_experts experts' weights read); kept
// as the baseline the sparse form is measured and checked against.
enum class ExpertForm { kSparse, kDense };
// The form that moves fewer expert weight bytes for a step of `batch` tokens: the sparse form
// copies each (token, expert) pair's matrices before its products read them (read, written and
// read again: three experts' bytes per pair), the dense one reads every expert once. Sparse when
// 3 x batch x experts_per_token < n_experts (Qwen3-235B-A22B up to batch 5, Mixtral 8x7B at
// batch 1 only). tests/runtime/generate_variants_test.cpp measures both forms.
ExpertForm cheaper_expert_form(const LlamaConfig& config, int64_t batch);

struct DecodeShape {
  int64_t batch = 1;
  int64_t context = 0;    // positions a sequence may reach, <= config.seq_len
  int64_t pool_rows = 0;  // rows of each K and V pool (pages x page rows), >= 1
};

// The weights are copied once into the graph's constants (the classifier shares the embedding's
// constant when the model shares them). InputError for a shape outside the model's limits.
compiler::ir::Graph build_decode_graph(const LlamaModel& model, const DecodeShape& shape,
                                       bool layer_outputs = false,
                                       ExpertForm expert_form = ExpertForm::kSparse);

// Each pool's next value over the pool itself: CompileOptions::in_place for build_decode_graph.
std::map<std::string, std::string> decode_in_place(const LlamaConfig& config);

}  // namespace seedchip::llm
