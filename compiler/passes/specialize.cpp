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

// Values that a length is computed from, through any nodes but Shape and Size (which read only
// dims): a Loop's trip count M and condition, which must be known to unroll it (unroll_loops.h),
// and Range's start, limit and delta. Function bodies compute these from graph inputs (Range's
// body its trip count from start, limit and delta; a window's body Range's limit from the size).
std::vector<bool> fix_lengths(const ir::Graph& graph) {
  std::vector<bool> fixes(graph.values.size(), false);
  std::vector<ir::ValueId> pending;
  for (const ir::Node& node : graph.nodes) {
    if (!node.domain.empty() || (node.op != "Loop" && node.op != "Range")) continue;
    for (size_t i = 0; i < (node.op == "Loop" ? 2 : 3) && i < node.inputs.size(); ++i)
      if (node.inputs[i] != ir::kNoValue) pending.push_back(node.inputs[i]);
  }
  const std::vector<int> producers = graph.producers();
  while (!pending.empty()) {
    const ir::ValueId id = pending.back();
    pending.pop_back();
    if (fixes[static_cast<size_t>(id)]) continue;
    fixes[static_cast<size_t>(id)] = true;
    const int p = producers[static_cast<size_t>(id)];
    if (p < 0) continue;
    const ir::Node& producer = graph.nodes[static_cast<size_t>(p)];
    if (producer.op == "Shape" || producer.op == "Size") continue;
    for (ir::ValueId in : producer.inputs)
      if (in != ir::kNoValue) pending.push_back(in);
  }
  return fixes;
}

}  // namespace

std::vector<std::string> specialize_shape_inputs(
    ir::Graph& graph, const std::map<std::string, ir::HostTensor>& values) {
  std::vector<std::string> done;
  std::vector<ir::ValueId> kept;
  const std::vector<bool> fixes_length = fix_lengths(graph);
  for (ir::ValueId id : graph.inputs) {
    ir::Value& v = graph.value(id);
    const auto given = values.find(v.name);
    const bool eligible = given != values.end() && given->second.element == v.type.element &&
                          std::count(graph.outputs.begin(), graph.outputs.end(), id) == 0;
    bool qualifies = eligible;
    bool used = false;
    for (const ir::Node& node : graph.nodes)
      for (size_t i = 0; i < node.inputs.size() && qualifies; ++i)
        if (node.inputs[i] == id) {
          used = true;
          qualifies = is_mode_operand(node, i) ||
                      (is_integer(given->second.element) && is_shape_operand(node, i));
        }
    if ((qualifies && used) || (eligible && fixes_length[static_cast<size_t>(id)])) {
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
