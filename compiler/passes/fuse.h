#pragma once
// The fuse pass: operator patterns that the code generator runs as one kernel, replaced by one
// node of SeedChip's own domain ("seedchip"), so that their intermediates never go through HBM
// and the chip-wide barrier between operators is paid once:
//
//   seedchip::RMSNormalization(x, w) {epsilon}   x * 1/sqrt(mean(x^2 over the last axis) + eps) * w
//       from Mul(x, x) or Pow(x, 2) -> ReduceMean(last axis, keepdims) -> Add(eps) -> Sqrt ->
//       Reciprocal -> Mul(x, .) -> Mul(., w), w of the last axis' length
//   seedchip::Silu(x)                            x * sigmoid(x), from Mul(x, Sigmoid(x))
//   seedchip::Attention(Q, K, V, cond?, mask?) {scale, mask, v_perm?}
//                                                softmax(scale Q K [masked]) V, from MatMul(Q, K)
//       -> Mul by a scalar constant (or Div by one; neither: scale 1) -> Where(cond, ., -inf)
//       (mask "where") and/or Add(., mask) ("add"; both: "where_add") -> Softmax(last axis) ->
//       MatMul(., V). Q is f32 [..., rows, hd], K [..., hd, context] as a KV cache stores keys
//       (transposed), V [..., context, hd], K and V f32 or bf16; cond (bool) and mask (f32)
//       broadcast to the scores without growing them; a Transpose making V that keeps its last
//       axis is fused too, V read through it (attribute v_perm). A flash-attention kernel runs it
//       (codegen/lower_attention.cpp): the scores never reach HBM; its online softmax sums in
//       another order, so its results match the replaced nodes' to FP32 rounding, not bit for bit
//   seedchip::FusedMatMul(A, B, bias?) {transB, activation, b_layout}
//                                                activation(A B + bias), from MatMul(A, B) or
//       Gemm(A, B, C) (alpha 1, no transA, C a bias row with beta 1), then Add of a bias row (f32
//       [.., 1, N] over the product's columns; only after a product without its own C), then
//       Relu, Tanh or Sigmoid: the Add or the activation or both, or a Gemm with a bias row
//       alone. The GEMM kernel applies them to C in SRAM before storing it (GemmEpilogue).
//   seedchip::FusedConv(x, w, bias?) {Conv's attributes, activation}
//                                                activation(Conv(x, w, bias)), from Conv then
//       Relu, Tanh or Sigmoid: the activation runs in the pass that adds the bias to the products
//
// A pattern is fused only where its intermediates have no other reader and every tensor is f32
// (a FusedMatMul's B and Attention's K and V may be bf16, as MatMul's B may).
// Except for Attention, the fused kernels compute the same operations in the same order as the
// lowerings of the nodes they replace, so results do not change.
#include "compiler/ir/graph.h"

namespace seedchip::compiler::passes {

// Returns the number of patterns fused. Runs after shape inference (it reads the tensors' types).
int fuse(ir::Graph& graph);

}  // namespace seedchip::compiler::passes
