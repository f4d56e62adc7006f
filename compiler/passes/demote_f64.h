#pragma once
// The demote-f64 pass: SeedChip has no FP64 arithmetic, so f64 tensors are stored and computed as
// f32 (the host-side constant folding before it still runs in f64). Graph inputs and outputs keep
// their f64 interface: the compiler records it (TensorSlot::host_element) and the runtime converts
// at the boundary. Results carry FP32 precision, which the ONNX backend tests' tolerances
// (rtol 1e-3) accept; a model that needs more than FP32 gives wrong answers here.
#include "compiler/ir/graph.h"

namespace seedchip::compiler::passes {

// Rewrites every f64 value to f32 (constants rounded to nearest), and the attributes that name
// the element type an op produces (`to` of Cast, `dtype` of EyeLike and friends, a tensor-valued
// attribute such as ConstantOfShape's `value`) from DOUBLE to FLOAT. Nested graphs included.
void demote_f64(ir::Graph& graph);

}  // namespace seedchip::compiler::passes
