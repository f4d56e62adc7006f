#pragma once
// The fuse pass: operator patterns that the code generator runs as one kernel, replaced by one
// node of SeedChip's own domain ("seedchip"), so that their intermediates never go through HBM
// and the chip-wide barrier between operators is paid once:
//
//   seedchip::RMSNormalization(x, w) {epsilon}   x * 1/sqrt(mean(x^2 over the last axis) + eps) * w
//       from Mul(x, x) or Pow(x, 2) -> ReduceMean(last axis, keepdims) -> Add(eps) -> Sqrt ->
//       Reciprocal -> Mul(x, .) -> Mul(., w), w of the last axis' length
//   seedchip::Silu(x)                            x * sigmoid(x), from Mul(x, Sigmoid(x))
//
// A pattern is fused only where its intermediates have no other reader and every tensor is f32.
// The fused kernels compute the same operations in the same order as the lowerings of the nodes
// they replace, so results do not change.
#include "compiler/ir/graph.h"

namespace seedchip::compiler::passes {

// Returns the number of patterns fused. Runs after shape inference (it reads the tensors' types).
int fuse(ir::Graph& graph);

}  // namespace seedchip::compiler::passes
