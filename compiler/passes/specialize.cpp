#include "compiler/passes/specialize.h"

#include <algorithm>
#include <memory>
#include <set>

namespace seedchip::compiler::passes {

namespace {

// Operand positions that fix an output shape or the axes an op works on, by op.
bool is_shape_operand(const ir::Node& node, size_t input) {
  if (!node.domain.empty()) return false;
  if (node.op == "ConstantOfShape" || node.op == "HannWindow" || node.op == "HammingWindow" ||
      node.op == "BlackmanWindow")
    return input == 0;
  if (input == 0) return false;
  static const std::set<std::string> kSecondOnly = {
      "Reshape",   "Expand",     "Tile",         "Squeeze",         "Unsqueeze",
      "Split",     "Trilu",      "TopK",         "CumSum",          "OneHot",
      "ReduceSum", "ReduceMean", "ReduceMax",    "ReduceMin",       "ReduceProd",
      "ReduceL1",  "ReduceL2",   "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare"};
  if (kSecondOnly.count(node.op)) return input == 1;
  if (node.op == "Slice") return input >= 1 && input <= 4;
  if (node.op == "Pad") return input == 1 || input == 3;
  if (node.op == "Resize") return input >= 1 && input <= 3;
  if (node.op == "Upsample") return input == 1;
  return false;
}

// Operand positions of any type that decide what an op does, by op: Dropout's ratio and
// training_mode, which make it the identity or a random mask; the float roi and scales of Resize
// and Upsample, which fix the output shape and the interpolation coefficients; Range's operands,
// which fix its length.
bool is_mode_operand(const ir::Node& node, size_t input) {
  if (!node.domain.empty()) return false;
  if (node.op == "Dropout") return input == 1 || input == 2;
  if (node.op == "Resize") return input == 1 || input == 2;
  if (node.op == "Upsample") return input == 1;
  if (node.op == "Range") return input <= 2;   // start, limit and delta fix the length
  if (node.op == "OneHot") return input == 1;  // depth, often a float
  return false;
}

bool is_integer(ir::ElementType t) {
  return t == ir::ElementType::I64 || t == ir::ElementType::I32;
}

}  // namespace

std::vector<std::string> specialize_shape_inputs(
    ir::Graph& graph, const std::map<std::string, ir::HostTensor>& values) {
  std::vector<std::string> done;
  std::vector<ir::ValueId> kept;
  for (ir::ValueId id : graph.inputs) {
    ir::Value& v = graph.value(id);
    const auto given = values.find(v.name);
    bool qualifies = given != values.end() && given->second.element == v.type.element &&
                     std::count(graph.outputs.begin(), graph.outputs.end(), id) == 0;
    bool used = false;
    for (const ir::Node& node : graph.nodes)
      for (size_t i = 0; i < node.inputs.size() && qualifies; ++i)
        if (node.inputs[i] == id) {
          used = true;
          qualifies = is_mode_operand(node, i) ||
                      (is_integer(given->second.element) && is_shape_operand(node, i));
        }
    if (qualifies && used) {
      v.constant = std::make_shared<const ir::HostTensor>(given->second);
      v.type = given->second.type();
      done.push_back(v.name);
    } else {
      kept.push_back(id);
    }
  }
  graph.inputs = kept;
  return done;
}

}  // namespace seedchip::compiler::passes
