#include "compiler/passes/unroll_loops.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "arch/error.h"

namespace seedchip::compiler::passes {

namespace {

bool is_loop(const ir::Node& node) {
  return node.op == "Loop" && (node.domain.empty() || node.domain == "ai.onnx");
}

// A constant value's single element, if it has exactly one; graph inputs with a default value
// are not constants (a run may give another value).
const ir::HostTensor* scalar_constant(const ir::Graph& graph, ir::ValueId id) {
  const ir::Value& v = graph.value(id);
  if (!v.constant || v.constant->element_count() != 1 ||
      std::count(graph.inputs.begin(), graph.inputs.end(), id) != 0)
    return nullptr;
  return v.constant.get();
}

std::optional<bool> truth(const ir::HostTensor& t) {
  if (t.element != ir::ElementType::Bool || t.bytes.size() != 1) return std::nullopt;
  return t.bytes[0] != 0;
}

// What the body's condition output is: its condition input passed through (nullopt) or a
// constant (the value); `computed` is set when it is neither.
struct Condition {
  std::optional<bool> constant;
  bool computed = false;
};

Condition body_condition(const ir::Graph& body) {
  const std::vector<int> producers = body.producers();
  ir::ValueId id = body.outputs.at(0);
  // Identity chains are short; a cycle would be a malformed body, which the bound stops.
  for (size_t hops = 0; hops <= body.nodes.size(); ++hops) {
    if (id == body.inputs.at(1)) return {};
    if (const ir::Value& v = body.value(id); v.constant) {
      if (const auto t = v.constant->element_count() == 1 ? truth(*v.constant) : std::nullopt)
        return {*t, false};
      return {std::nullopt, true};
    }
    const int p = producers.at(static_cast<size_t>(id));
    if (p < 0 || body.nodes[static_cast<size_t>(p)].op != "Identity") break;
    id = body.nodes[static_cast<size_t>(p)].inputs.at(0);
  }
  return {std::nullopt, true};
}

struct Plan {
  const ir::Graph* body = nullptr;
  int64_t trips = 0;
  size_t carried = 0, scans = 0;
};

// The plan for unrolling graph.nodes[index], or the reason it cannot be unrolled.
std::pair<std::optional<Plan>, std::string> plan(const ir::Graph& graph, size_t index) {
  const ir::Node& node = graph.nodes.at(index);
  const std::string loop = node.label(index) + ": ";
  const auto refuse = [&](const std::string& why) {
    return std::pair<std::optional<Plan>, std::string>{std::nullopt, loop + why};
  };
  const ir::GraphPtr* body_attribute = node.attribute<ir::GraphPtr>("body");
  if (!body_attribute || !*body_attribute) throw InputError(loop + "has no 'body' graph attribute");
  const ir::Graph& body = **body_attribute;
  if (node.inputs.size() < 2)
    throw InputError(loop + "needs the inputs M and cond (either may be omitted as '')");
  const size_t carried = node.inputs.size() - 2;
  if (body.inputs.size() != 2 + carried)
    throw InputError(loop + "the body has " + std::to_string(body.inputs.size()) + " inputs; 2 + " +
                     std::to_string(carried) + " loop-carried values expected");
  if (body.outputs.size() < 1 + carried || node.outputs.size() > body.outputs.size() - 1)
    throw InputError(loop + "the body has " + std::to_string(body.outputs.size()) +
                     " outputs for " + std::to_string(carried) + " loop-carried values and " +
                     std::to_string(node.outputs.size()) + " Loop outputs");
  Plan p{&body, 0, carried, body.outputs.size() - 1 - carried};

  if (node.inputs[0] == ir::kNoValue)
    return refuse("no trip count M: a loop bounded by its condition alone is not unrolled");
  const ir::HostTensor* m = scalar_constant(graph, node.inputs[0]);
  if (!m || m->element != ir::ElementType::I64)
    return refuse("trip count '" + graph.value(node.inputs[0]).name +
                  "' is not a compile-time constant i64 scalar");
  const int64_t max_trips = std::max<int64_t>(ir::host_values<int64_t>(*m).at(0), 0);

  bool initially = true;
  if (node.inputs[1] != ir::kNoValue) {
    const ir::HostTensor* c = scalar_constant(graph, node.inputs[1]);
    const std::optional<bool> value = c ? truth(*c) : std::nullopt;
    if (!value)
      return refuse("condition '" + graph.value(node.inputs[1]).name +
                    "' is not a compile-time constant bool");
    initially = *value;
  }
  const Condition condition = body_condition(body);
  if (condition.computed)
    return refuse("the body computes its condition output '" + body.value(body.outputs[0]).name +
                  "'; only a constant one or the condition input passed through is unrolled");
  p.trips = !initially                    ? 0
            : condition.constant == false ? std::min<int64_t>(max_trips, 1)
                                          : max_trips;

  for (size_t i = 0; i < body.nodes.size(); ++i)
    for (const auto& [key, attribute] : body.nodes[i].attributes)
      if (std::holds_alternative<ir::GraphPtr>(attribute) ||
          std::holds_alternative<std::vector<ir::GraphPtr>>(attribute))
        return refuse("the body's node " + body.nodes[i].label(i) +
                      " holds a subgraph (attribute '" + key +
                      "'), whose names unrolling does not rename");
  // An empty body counts as one node: each iteration still costs the pass a round.
  const auto per_iteration = static_cast<int64_t>(std::max<size_t>(body.nodes.size(), 1));
  if (p.trips > kMaxUnrolledNodes / per_iteration)
    return refuse(std::to_string(p.trips) + " iterations of " + std::to_string(body.nodes.size()) +
                  " nodes exceed the " + std::to_string(kMaxUnrolledNodes) +
                  " nodes unrolling may add");
  if (p.trips == 0)
    for (size_t k = 0; k < p.scans && carried + k < node.outputs.size(); ++k) {
      const ir::Value& scan = body.value(body.outputs[1 + carried + k]);
      if (node.outputs[carried + k] != ir::kNoValue && !scan.type.fully_known())
        return refuse("no iterations, and the type of scan output '" + scan.name +
                      "' is not fully known, which its empty result needs");
    }
  return {p, ""};
}

ir::ValueId add_constant(ir::Graph& graph, std::string_view base, ir::HostTensor t) {
  const ir::TensorType type = t.type();
  return graph.add_value(graph.unique_name(base), type,
                         std::make_shared<const ir::HostTensor>(std::move(t)));
}

// Appends to `out` the nodes that replace graph.nodes[index] under `p`.
void unroll(ir::Graph& graph, size_t index, const Plan& p, std::vector<ir::Node>& out) {
  const ir::Node loop = graph.nodes[index];
  const std::string loop_label = loop.label(index);
  const ir::Graph& body = *p.body;
  const std::vector<int> producers = body.producers();

  // Body values that the copies read: the condition output only feeds the next iteration's
  // condition input, so constants for an unread iteration number or condition are not made.
  std::vector<bool> read(body.values.size(), false), is_input(body.values.size(), false);
  for (const ir::Node& inner : body.nodes)
    for (ir::ValueId id : inner.inputs)
      if (id != ir::kNoValue) read[static_cast<size_t>(id)] = true;
  for (size_t o = 1; o < body.outputs.size(); ++o)
    read[static_cast<size_t>(body.outputs[o])] = true;
  for (ir::ValueId id : body.inputs) is_input[static_cast<size_t>(id)] = true;
  const auto iteration = static_cast<size_t>(body.inputs[0]);

  std::vector<ir::ValueId> carried(loop.inputs.begin() + 2, loop.inputs.end());
  ir::ValueId condition = loop.inputs[1];
  if (condition == ir::kNoValue && read[static_cast<size_t>(body.inputs[1])])
    condition = add_constant(graph, body.value(body.inputs[1]).name,
                             ir::host_tensor<uint8_t>(ir::ElementType::Bool, {}, {1}));
  std::vector<std::vector<ir::ValueId>> scans(p.scans);
  for (int64_t k = 0; k < p.trips; ++k) {
    std::vector<ir::ValueId> map(body.values.size(), ir::kNoValue);
    if (read[iteration])
      map[iteration] = add_constant(graph, body.value(body.inputs[0]).name,
                                    ir::host_tensor<int64_t>(ir::ElementType::I64, {}, {k}));
    map[static_cast<size_t>(body.inputs[1])] = condition;
    for (size_t j = 0; j < p.carried; ++j)
      map[static_cast<size_t>(body.inputs[2 + j])] = carried[j];
    for (size_t v = 0; v < body.values.size(); ++v) {
      if (is_input[v]) continue;
      const ir::Value& value = body.values[v];
      if (value.constant) {
        if (read[v])
          map[v] = graph.add_value(graph.unique_name(value.name), value.type, value.constant);
      } else if (producers[v] >= 0) {
        map[v] = graph.add_value(graph.unique_name(value.name), value.type);
      } else if (read[v]) {
        map[v] = graph.find(value.name);
        if (map[v] == ir::kNoValue)
          throw InputError(loop_label + ": the body reads '" + value.name +
                           "', which no enclosing graph defines");
      }
    }
    for (const ir::Node& inner : body.nodes) {
      ir::Node copy = inner;
      for (ir::ValueId& id : copy.inputs)
        if (id != ir::kNoValue) id = map[static_cast<size_t>(id)];
      for (ir::ValueId& id : copy.outputs)
        if (id != ir::kNoValue) id = map[static_cast<size_t>(id)];
      copy.name = (loop.name.empty() ? "Loop" : loop.name) + "/" + std::to_string(k) + "/" +
                  (inner.name.empty() ? inner.op : inner.name);
      out.push_back(std::move(copy));
    }
    condition = map[static_cast<size_t>(body.outputs[0])];
    for (size_t j = 0; j < p.carried; ++j)
      carried[j] = map[static_cast<size_t>(body.outputs[1 + j])];
    for (size_t s = 0; s < p.scans; ++s)
      scans[s].push_back(map[static_cast<size_t>(body.outputs[1 + p.carried + s])]);
  }

  const std::string prefix = (loop.name.empty() ? "Loop" : loop.name) + "/";
  for (size_t j = 0; j < p.carried && j < loop.outputs.size(); ++j)
    if (loop.outputs[j] != ir::kNoValue)
      out.push_back({"Identity", "", prefix + "final", {carried[j]}, {loop.outputs[j]}, {}});
  // Unsqueeze's axes are an input from opset 13 on, an attribute before.
  const bool axes_input = graph.opset_version() >= 13;
  const ir::ValueId axes =
      axes_input && p.trips > 0 && p.scans > 0
          ? add_constant(graph, "axes", ir::host_tensor<int64_t>(ir::ElementType::I64, {1}, {0}))
          : ir::kNoValue;
  for (size_t s = 0; s < p.scans && p.carried + s < loop.outputs.size(); ++s) {
    const ir::ValueId result = loop.outputs[p.carried + s];
    if (result == ir::kNoValue) continue;
    if (p.trips == 0) {
      const ir::TensorType& each = body.value(body.outputs[1 + p.carried + s]).type;
      ir::HostTensor empty{each.element, {0}, {}, {}};
      empty.dims.insert(empty.dims.end(), each.dims->begin(), each.dims->end());
      graph.value(result).type = empty.type();
      graph.value(result).constant = std::make_shared<const ir::HostTensor>(std::move(empty));
      continue;
    }
    ir::Node concat{"Concat", "", prefix + "scan", {}, {result}, {{"axis", int64_t{0}}}};
    for (ir::ValueId v : scans[s]) {
      const ir::ValueId row = graph.add_value(graph.unique_name(graph.value(v).name + "_row"), {});
      ir::Node unsqueeze{"Unsqueeze", "", prefix + "scan", {v}, {row}, {}};
      if (axes_input)
        unsqueeze.inputs.push_back(axes);
      else
        unsqueeze.attributes["axes"] = std::vector<int64_t>{0};
      out.push_back(std::move(unsqueeze));
      concat.inputs.push_back(row);
    }
    out.push_back(std::move(concat));
  }
}

}  // namespace

std::string unroll_blocker(const ir::Graph& graph, size_t node_index) {
  if (!is_loop(graph.nodes.at(node_index)))
    return graph.nodes[node_index].label(node_index) + ": not a Loop";
  return plan(graph, node_index).second;
}

bool unroll_loops(ir::Graph& graph) {
  std::vector<ir::Node> nodes;
  bool changed = false;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (is_loop(graph.nodes[n])) {
      if (const std::optional<Plan> p = plan(graph, n).first) {
        unroll(graph, n, *p, nodes);
        changed = true;
        continue;
      }
    }
    nodes.push_back(std::move(graph.nodes[n]));
  }
  graph.nodes = std::move(nodes);
  // A body's nodes need not be in order (ONNX does not require it of subgraphs).
  if (changed) ir::sort_topologically(graph);
  return changed;
}

}  // namespace seedchip::compiler::passes
