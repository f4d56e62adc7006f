#include "compiler/passes/fuse.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <vector>

namespace seedchip::compiler::passes {

namespace {

using ir::ValueId;

constexpr const char* kDomain = "seedchip";

class Matcher {
 public:
  explicit Matcher(const ir::Graph& g)
      : g_(g), producer_(g.producers()), readers_(g.values.size(), 0) {
    for (const ir::Node& n : g.nodes)
      for (ValueId v : n.inputs)
        if (v != ir::kNoValue) ++readers_[static_cast<size_t>(v)];
    for (ValueId v : g.outputs) ++readers_[static_cast<size_t>(v)];
  }

  // The index of the node producing `v` if it is `op` of the default domain, not yet claimed by
  // another fusion, and `v` has no other reader; else -1.
  int only(ValueId v, const char* op) const {
    if (v == ir::kNoValue) return -1;
    const int p = producer_[static_cast<size_t>(v)];
    if (p < 0 || readers_[static_cast<size_t>(v)] != 1 || claimed_.count(p)) return -1;
    const ir::Node& n = g_.nodes[static_cast<size_t>(p)];
    return n.op == op && (n.domain.empty() || n.domain == "ai.onnx") ? p : -1;
  }
  const ir::Node& node(int i) const { return g_.nodes[static_cast<size_t>(i)]; }
  void claim(const std::vector<int>& nodes) { claimed_.insert(nodes.begin(), nodes.end()); }
  bool claimed(int i) const { return claimed_.count(i) > 0; }

  bool is_f32(ValueId v) const {
    const ir::TensorType& t = g_.value(v).type;
    return t.element == ir::ElementType::F32 && t.fully_known();
  }
  const std::vector<int64_t>& dims(ValueId v) const { return *g_.value(v).type.dims; }
  // The value of a constant f32 tensor of one element.
  std::optional<float> scalar(ValueId v) const {
    const ir::HostTensor* t = g_.value(v).constant.get();
    if (!t || t->element != ir::ElementType::F32 || t->bytes.size() != 4) return std::nullopt;
    float x;
    std::memcpy(&x, t->bytes.data(), 4);
    return x;
  }

 private:
  const ir::Graph& g_;
  std::vector<int> producer_;
  std::vector<int> readers_;
  std::set<int> claimed_;
};

// A match: the nodes it replaces (the last in graph order gets `fused`'s place).
struct Fusion {
  std::vector<int> nodes;
  ir::Node fused;
};

ir::Node fused_node(const char* op, std::vector<ValueId> inputs, ValueId output) {
  ir::Node n;
  n.op = op;
  n.domain = kDomain;
  n.inputs = std::move(inputs);
  n.outputs = {output};
  return n;
}

// Mul(x, x) or Pow(x, 2) producing `v`: its node, and x in `x`.
int square(const Matcher& m, ValueId v, ValueId& x) {
  if (const int i = m.only(v, "Mul"); i >= 0) {
    const ir::Node& n = m.node(i);
    if (n.inputs.size() == 2 && n.inputs[0] == n.inputs[1]) {
      x = n.inputs[0];
      return i;
    }
  }
  if (const int i = m.only(v, "Pow"); i >= 0) {
    const ir::Node& n = m.node(i);
    if (n.inputs.size() == 2 && m.scalar(n.inputs[1]) == 2.0f) {
      x = n.inputs[0];
      return i;
    }
  }
  return -1;
}

std::optional<Fusion> match_rms_norm(const Matcher& m, int out_index) {
  const ir::Node& out = m.node(out_index);
  if (out.op != "Mul" || !out.domain.empty() || out.inputs.size() != 2) return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    const ValueId normed = out.inputs[static_cast<size_t>(side)];
    const ValueId w = out.inputs[static_cast<size_t>(1 - side)];
    std::vector<int> nodes = {out_index};
    ValueId x = ir::kNoValue, root = ir::kNoValue;
    if (const int mul = m.only(normed, "Mul"); mul >= 0) {
      const ir::Node& n = m.node(mul);
      for (int s = 0; s < 2 && root == ir::kNoValue && n.inputs.size() == 2; ++s)
        if (const int inv = m.only(n.inputs[static_cast<size_t>(1 - s)], "Reciprocal"); inv >= 0) {
          x = n.inputs[static_cast<size_t>(s)];
          root = m.node(inv).inputs.at(0);
          nodes.insert(nodes.end(), {mul, inv});
        }
    }
    const int sqrt = m.only(root, "Sqrt");
    if (sqrt < 0) continue;
    const int add = m.only(m.node(sqrt).inputs.at(0), "Add");
    if (add < 0 || m.node(add).inputs.size() != 2) continue;
    std::optional<float> eps;
    int mean = -1;
    for (int s = 0; s < 2 && mean < 0; ++s) {
      eps = m.scalar(m.node(add).inputs[static_cast<size_t>(1 - s)]);
      if (eps) mean = m.only(m.node(add).inputs[static_cast<size_t>(s)], "ReduceMean");
    }
    if (mean < 0 || m.node(mean).inputs.size() != 1) continue;
    ValueId squared = ir::kNoValue;
    const int sq = square(m, m.node(mean).inputs[0], squared);
    if (sq < 0 || squared != x) continue;
    if (!m.is_f32(x) || !m.is_f32(w) || !m.is_f32(out.outputs[0])) continue;
    // The mean runs over the last axis only and keeps it; w spans that axis.
    const auto rank = static_cast<int64_t>(m.dims(x).size());
    const auto* axes = m.node(mean).attribute<std::vector<int64_t>>("axes");
    const int64_t* keep = m.node(mean).attribute<int64_t>("keepdims");
    if (!axes || axes->size() != 1 || (keep && *keep == 0) || rank == 0) continue;
    if ((*axes)[0] != -1 && (*axes)[0] != rank - 1) continue;
    if (m.dims(w).size() != 1 || m.dims(w)[0] != m.dims(x).back()) continue;
    if (m.dims(out.outputs[0]) != m.dims(x)) continue;
    nodes.insert(nodes.end(), {sqrt, add, mean, sq});
    Fusion f{nodes, fused_node("RMSNormalization", {x, w}, out.outputs[0])};
    f.fused.attributes["epsilon"] = *eps;
    return f;
  }
  return std::nullopt;
}

std::optional<Fusion> match_silu(const Matcher& m, int out_index) {
  const ir::Node& out = m.node(out_index);
  if (out.op != "Mul" || !out.domain.empty() || out.inputs.size() != 2) return std::nullopt;
  for (int side = 0; side < 2; ++side) {
    const ValueId x = out.inputs[static_cast<size_t>(side)];
    const int sigmoid = m.only(out.inputs[static_cast<size_t>(1 - side)], "Sigmoid");
    if (sigmoid < 0 || m.node(sigmoid).inputs.at(0) != x) continue;
    if (!m.is_f32(x) || m.dims(out.outputs[0]) != m.dims(x)) continue;
    return Fusion{{out_index, sigmoid}, fused_node("Silu", {x}, out.outputs[0])};
  }
  return std::nullopt;
}

}  // namespace

int fuse(ir::Graph& graph) {
  Matcher m(graph);
  std::vector<Fusion> fusions;
  // Each pattern is matched from its last node, in graph order.
  for (int i = 0; i < static_cast<int>(graph.nodes.size()); ++i) {
    if (m.claimed(i)) continue;
    std::optional<Fusion> f = match_rms_norm(m, i);
    if (!f) f = match_silu(m, i);
    if (!f) continue;
    m.claim(f->nodes);
    fusions.push_back(std::move(*f));
  }
  if (fusions.empty()) return 0;
  // Each fused node takes the place of the last node it replaces: its inputs are defined before
  // the pattern starts, and its output is read only after the pattern ends.
  std::vector<int> replaced_by(graph.nodes.size(), -1);  // -2: removed
  for (size_t f = 0; f < fusions.size(); ++f) {
    const std::vector<int>& nodes = fusions[f].nodes;
    for (int n : nodes) replaced_by[static_cast<size_t>(n)] = -2;
    replaced_by[static_cast<size_t>(*std::max_element(nodes.begin(), nodes.end()))] =
        static_cast<int>(f);
  }
  std::vector<ir::Node> kept;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (replaced_by[i] == -1)
      kept.push_back(std::move(graph.nodes[i]));
    else if (replaced_by[i] >= 0)
      kept.push_back(std::move(fusions[static_cast<size_t>(replaced_by[i])].fused));
  }
  graph.nodes = std::move(kept);
  graph.opset.emplace(kDomain, 1);
  return static_cast<int>(fusions.size());
}

}  // namespace seedchip::compiler::passes
