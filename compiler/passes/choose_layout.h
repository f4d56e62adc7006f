#pragma once
// The choose-layout pass: where a tensor lives in HBM in another order than its readers want, it
// decides whether the reordering is stored (a copy: a pass over HBM and a chip-wide barrier) or
// left to the readers, which then take the tensor's bytes through a strided view:
//
//   seedchip::TransposeView(x) {perm}   y = Transpose(x, perm), with no code of its own
//
// A Transpose becomes a view when
//   * its permutation keeps the last axis last, so a reader's DMA still moves whole rows of the
//     last axis (a permutation that moves it would turn each row into element-sized transfers,
//     16 times the HBM bursts for f32: copying once is cheaper);
//   * every reader takes that operand through a strided view: an f32 operand of MatMul or of
//     seedchip::FusedMatMul (A, or B outside the tile-major layout), Q, K or V of
//     seedchip::Attention, an operand of f32 Add, Sub, Mul or Div, or another view (the pass
//     walks the graph from its end, so a chain of such Transposes becomes views together);
//   * it is not a graph output (the caller reads outputs as dense row-major tensors), and x is not
//     a constant (fold-constants stores a constant's transpose instead).
// The code generator treats the view as an alias of x (compiler/codegen/compile.cpp): x's bytes
// live until the view's last reader, whose operand is x's view permuted (TensorView::permuted).
// Runs after fuse, whose patterns match Transpose nodes.
#include "compiler/ir/graph.h"

namespace seedchip::compiler::passes {

// Returns the number of Transpose nodes made views. Needs the tensors' types (after infer-shapes).
int choose_layout(ir::Graph& graph);

}  // namespace seedchip::compiler::passes
