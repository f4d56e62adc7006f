#pragma once
// The Llama family as a graph for the compiler: one decode step (a batch of one new token at a
// run-time position) over a KV cache of `context` positions per layer. The graph is built from
// standard ONNX operators (Gather, Gemm, MatMul, Softmax, Where, ...), so it goes through the same
// passes and lowerings as any imported model, and the runtime runs it once per token:
//
//   inputs   token i32[1], pos i32[1], k_cache.L and v_cache.L f32[context, kv_dim] per layer L
//   outputs  logits f32[1, vocab], k_cache_next.L and v_cache_next.L (the caches with row `pos`
//            written), which the caller feeds back as the next step's caches
//
// RMSNorm is x / sqrt(mean(x^2) + eps) * w; RoPE rotates interleaved pairs (llama2.c's and GGUF's
// layout) by angles read from constant cos/sin tables at `pos`; attention masks the positions after
// `pos`; grouped-query attention is one product batched over the K/V heads, each with its group
// of query heads as rows.
#include <cstdint>
#include <string>

#include "compiler/ir/graph.h"
#include "llm/llama2c.h"

namespace seedchip::llm {

struct DecodeGraphNames {
  static std::string k_cache(int64_t layer) { return "k_cache." + std::to_string(layer); }
  static std::string v_cache(int64_t layer) { return "v_cache." + std::to_string(layer); }
  static std::string k_next(int64_t layer) { return "k_cache_next." + std::to_string(layer); }
  static std::string v_next(int64_t layer) { return "v_cache_next." + std::to_string(layer); }
  // The residual stream [1, dim] after a layer, an output only when asked for (for checking
  // against the host reference layer by layer).
  static std::string layer_output(int64_t layer) { return "layer_out." + std::to_string(layer); }
};

// `context` <= config.seq_len positions. The weights are copied once into the graph's constants
// (the classifier shares the embedding's constant when the model shares them).
compiler::ir::Graph build_decode_graph(const LlamaModel& model, int64_t context,
                                       bool layer_outputs = false);

}  // namespace seedchip::llm
