#pragma once
// ONNX operators evaluated on the host, for constant folding: mostly the shape arithmetic that
// exported models do (a Reshape target computed by Shape -> Gather -> Unsqueeze -> Concat) and the
// preprocessing of constant weights (Transpose, Cast, Reshape of initializers). Semantics follow
// https://onnx.ai/onnx/operators/ at the graph's opset, attribute and input forms alike.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace seedchip::compiler::passes {

// The largest tensor the evaluator produces, in elements; a node whose result would be larger is
// left to run on the chip. Checked before anything is allocated, so that a crafted model cannot
// make the compiler allocate more.
inline constexpr int64_t kMaxFoldedElements = int64_t{1} << 24;

// Evaluates one ONNX node on the host from constant inputs (kNoValue inputs are omitted optional
// ones, passed as nullptr). Returns nullopt when the op (or this dtype / attribute combination)
// is not implemented here, or when a result would exceed kMaxFoldedElements; throws
// seedchip::InputError (arch/error.h) naming the node when the inputs are invalid for the op
// (shape mismatch, bad axis, out-of-range index). Shape and Size read only their input's dims, so
// for them a tensor without data stands for a non-constant input of known shape.
std::optional<std::vector<ir::HostTensor>> evaluate_on_host(
    const ir::Graph& graph, size_t node_index, const std::vector<const ir::HostTensor*>& inputs);

// The operators evaluate_on_host implements, sorted (for docs).
const std::vector<std::string>& host_eval_ops();

}  // namespace seedchip::compiler::passes
