#include "compiler/passes/fold_constants.h"

#include <memory>
#include <set>
#include <string>
#include <vector>

namespace seedchip::compiler::passes {
namespace {

bool reads_dims_only(const ir::Node& node) {
  return (node.op == "Shape" || node.op == "Size") &&
         (node.domain.empty() || node.domain == "ai.onnx");
}

// Names a nested graph (an If branch, a Loop body) may read from the graphs around it: they are
// resolved by name, not by ValueId, so they count as uses of the outer graph's constants.
void collect_nested_names(const ir::Graph& graph, std::set<std::string>& names) {
  const auto visit = [&](const ir::GraphPtr& sub) {
    if (!sub) return;
    for (const ir::Value& v : sub->values) names.insert(v.name);
    collect_nested_names(*sub, names);
  };
  for (const ir::Node& node : graph.nodes) {
    for (const auto& [key, attribute] : node.attributes) {
      if (const auto* sub = std::get_if<ir::GraphPtr>(&attribute)) visit(*sub);
      if (const auto* subs = std::get_if<std::vector<ir::GraphPtr>>(&attribute))
        for (const ir::GraphPtr& sub : *subs) visit(sub);
    }
  }
}

bool remove_dead_constants(ir::Graph& graph) {
  std::vector<bool> used(graph.values.size(), false);
  const auto use = [&](ir::ValueId id) {
    if (id != ir::kNoValue) used.at(static_cast<size_t>(id)) = true;
  };
  for (const ir::Node& node : graph.nodes) {
    for (ir::ValueId id : node.inputs) use(id);
    for (ir::ValueId id : node.outputs) use(id);
  }
  for (ir::ValueId id : graph.inputs) use(id);
  for (ir::ValueId id : graph.outputs) use(id);
  std::set<std::string> nested;
  collect_nested_names(graph, nested);

  std::vector<ir::ValueId> renumbered(graph.values.size(), ir::kNoValue);
  ir::ValueId next = 0;
  for (size_t i = 0; i < graph.values.size(); ++i) {
    const ir::Value& v = graph.values[i];
    if (!v.constant || used[i] || nested.count(v.name)) renumbered[i] = next++;
  }
  if (static_cast<size_t>(next) == graph.values.size()) return false;
  const auto renumber = [&](std::vector<ir::ValueId>& ids) {
    for (ir::ValueId& id : ids)
      if (id != ir::kNoValue) id = renumbered[static_cast<size_t>(id)];
  };
  for (ir::Node& node : graph.nodes) {
    renumber(node.inputs);
    renumber(node.outputs);
  }
  renumber(graph.inputs);
  renumber(graph.outputs);
  std::vector<ir::Value> kept;
  kept.reserve(static_cast<size_t>(next));
  for (size_t i = 0; i < graph.values.size(); ++i)
    if (renumbered[i] != ir::kNoValue) kept.push_back(std::move(graph.values[i]));
  graph.values = std::move(kept);
  graph.reindex();
  return true;
}

}  // namespace

bool fold_constants(ir::Graph& graph) {
  std::vector<bool> is_input(graph.values.size(), false);
  for (ir::ValueId id : graph.inputs) is_input.at(static_cast<size_t>(id)) = true;
  std::vector<bool> folded(graph.nodes.size(), false);
  bool changed = false;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const ir::Node& node = graph.nodes[n];
    // Stand-ins for non-constant inputs whose dims are all Shape and Size read; reserved so
    // that the pointers into it stay valid.
    std::vector<ir::HostTensor> dims_only;
    dims_only.reserve(node.inputs.size());
    std::vector<const ir::HostTensor*> args;
    bool known = true;
    for (size_t i = 0; known && i < node.inputs.size(); ++i) {
      const ir::ValueId id = node.inputs[i];
      if (id == ir::kNoValue) {
        args.push_back(nullptr);
        continue;
      }
      const ir::Value& v = graph.value(id);
      if (v.constant && !is_input[static_cast<size_t>(id)]) {
        args.push_back(v.constant.get());
      } else if (i == 0 && reads_dims_only(node) && v.type.fully_known()) {
        dims_only.push_back({v.type.element, *v.type.dims, {}, {}});
        args.push_back(&dims_only.back());
      } else {
        known = false;
      }
    }
    if (!known) continue;
    std::optional<std::vector<ir::HostTensor>> results = evaluate_on_host(graph, n, args);
    if (!results) continue;
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      if (node.outputs[o] == ir::kNoValue) continue;
      ir::Value& v = graph.value(node.outputs[o]);
      v.type = (*results)[o].type();
      v.constant = std::make_shared<const ir::HostTensor>(std::move((*results)[o]));
    }
    folded[n] = true;
    changed = true;
  }
  if (changed) {
    std::vector<ir::Node> remaining;
    for (size_t n = 0; n < graph.nodes.size(); ++n)
      if (!folded[n]) remaining.push_back(std::move(graph.nodes[n]));
    graph.nodes = std::move(remaining);
  }
  return remove_dead_constants(graph) || changed;
}

}  // namespace seedchip::compiler::passes
