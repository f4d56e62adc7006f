#pragma once
// Specialisation of a graph to the values of inputs that fix shapes or axes. ONNX lets Reshape's
// target, Slice's starts and ends, a reduction's axes, Trilu's k and the like arrive as graph
// inputs; SeedChip programs are compiled for static shapes, so such inputs are made constants
// with the values a run provides, and the program is compiled for them (a run with other values
// needs another compilation). Only inputs of an integer type whose every use is such an operand
// qualify, and inputs of any type that select an op's mode (Dropout's ratio and training_mode) or
// fix a shape through floats (Resize's roi and scales, Range's operands), and inputs of any type
// that a Loop's trip count or condition, or Range's operands, are computed from (the function
// bodies of Range and the window operators): a tensor the chip computes with is otherwise never
// turned into a constant.
#include <map>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace seedchip::compiler::passes {

// Turns each qualifying input named in `values` into a constant (removed from graph.inputs) and
// returns their names. A value whose type differs from the input's declared type is left alone.
std::vector<std::string> specialize_shape_inputs(
    ir::Graph& graph, const std::map<std::string, ir::HostTensor>& values);

}  // namespace seedchip::compiler::passes
