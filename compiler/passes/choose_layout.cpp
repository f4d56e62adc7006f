#include "compiler/passes/choose_layout.h"

#include <algorithm>
#include <numeric>

namespace seedchip::compiler::passes {

namespace {

bool is_onnx(const ir::Node& n, std::string_view op) {
  return (n.domain.empty() || n.domain == "ai.onnx") && n.op == op;
}

bool is_seedchip(const ir::Node& n, std::string_view op) {
  return n.domain == "seedchip" && n.op == op;
}

// Whether `reader` takes its operand `k` through any strided view (see the header). Each case is
// a lowering that reads the operand with OpContext::view and no dense-only step (reshaped, raw
// addresses): the product's split pass (codegen/lower_matmul.cpp), the attention kernel's block
// loads (codegen/lower_attention.cpp) and the VPU stream of binary elementwise operators.
bool reads_through_views(const ir::Graph& g, const ir::Node& reader, size_t k) {
  const ir::ElementType element = g.value(reader.inputs[k]).type.element;
  if (element != ir::ElementType::F32) return false;
  if (is_onnx(reader, "MatMul")) return k < 2;
  if (is_seedchip(reader, "FusedMatMul")) {
    const std::string* b_layout = reader.attribute<std::string>("b_layout");
    return k == 0 || (k == 1 && (!b_layout || *b_layout == "row_major"));
  }
  if (is_seedchip(reader, "Attention")) return k < 3;
  if (is_seedchip(reader, "TransposeView")) return true;  // its readers take the view in turn
  return is_onnx(reader, "Add") || is_onnx(reader, "Sub") || is_onnx(reader, "Mul") ||
         is_onnx(reader, "Div");
}

// The permutation of a Transpose, its default (reversed axes) spelled out.
std::vector<int64_t> permutation(const ir::Node& n, size_t rank) {
  if (const auto* perm = n.attribute<std::vector<int64_t>>("perm")) return *perm;
  std::vector<int64_t> reversed(rank);
  std::iota(reversed.rbegin(), reversed.rend(), 0);
  return reversed;
}

}  // namespace

int choose_layout(ir::Graph& graph) {
  std::vector<std::vector<std::pair<size_t, size_t>>> readers(graph.values.size());
  for (size_t i = 0; i < graph.nodes.size(); ++i)
    for (size_t k = 0; k < graph.nodes[i].inputs.size(); ++k)
      if (graph.nodes[i].inputs[k] != ir::kNoValue)
        readers[static_cast<size_t>(graph.nodes[i].inputs[k])].push_back({i, k});
  int views = 0;
  // Last node first: a Transpose read only by views becomes a view once they are.
  for (auto it = graph.nodes.rbegin(); it != graph.nodes.rend(); ++it) {
    ir::Node& n = *it;
    if (!is_onnx(n, "Transpose") || n.inputs.size() != 1 || n.outputs.size() != 1) continue;
    const ir::ValueId x = n.inputs[0], y = n.outputs[0];
    if (x == ir::kNoValue || graph.value(x).constant) continue;
    const ir::TensorType& type = graph.value(x).type;
    if (!type.dims || type.dims->empty()) continue;
    if (std::count(graph.outputs.begin(), graph.outputs.end(), y) > 0) continue;
    const std::vector<int64_t> perm = permutation(n, type.dims->size());
    if (perm.back() != static_cast<int64_t>(perm.size()) - 1) continue;
    const auto& uses = readers[static_cast<size_t>(y)];
    if (uses.empty() || !std::all_of(uses.begin(), uses.end(), [&](const auto& use) {
          return reads_through_views(graph, graph.nodes[use.first], use.second);
        }))
      continue;
    n.op = "TransposeView";
    n.domain = "seedchip";
    n.attributes = {{"perm", perm}};
    ++views;
  }
  if (views > 0) graph.opset.emplace("seedchip", 1);
  return views;
}

}  // namespace seedchip::compiler::passes
