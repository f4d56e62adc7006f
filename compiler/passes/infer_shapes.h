#pragma once
// Shape inference: the element type and dims of every node output, from ONNX's operator semantics
// (https://onnx.ai/onnx/operators/) at the graph's opset. Later passes (the mapper, the code
// generator, constant folding) need them; an ONNX file declares them only for some tensors.
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace seedchip::compiler::passes {

// Infers the element type and dims of every node output from its inputs' types (and constant
// inputs' values where the shape depends on them, e.g. Reshape's shape). Known facts are never
// overwritten by unknowns; an inferred type that contradicts a declared one, or inputs that cannot
// go together (e.g. MatMul inner dims 3 vs 4, broadcasting [2,3] with [4]), throw
// seedchip::InputError (arch/error.h) naming the node (Node::label(index)), the tensors and dims.
//
// Constant inputs are initializers and Constant nodes' values; a graph input with a default value
// is not one, since the caller may override it. Small integer tensors computed from shapes (Shape,
// Gather, Concat, Slice, arithmetic) are followed too, entry by entry, so that Reshape(x,
// Shape(y)) learns y's known dims even when y's batch dim is unknown.
void infer_shapes(ir::Graph& graph);

// The ops infer_shapes understands (for docs and for the conformance report).
const std::vector<std::string>& shape_inference_ops();

}  // namespace seedchip::compiler::passes
