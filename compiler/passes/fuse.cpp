#include "compiler/passes/fuse.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace seedchip::compiler::passes {

namespace {

using ir::ValueId;

constexpr const char* kDomain = "seedchip";

class Matcher {
 public:
  explicit Matcher(const ir::Graph& g)
      : g_(g),
        producer_(g.producers()),
        readers_(g.values.size(), 0),
        last_reader_(g.values.size(), -1) {
    for (size_t i = 0; i < g.nodes.size(); ++i)
      for (ValueId v : g.nodes[i].inputs)
        if (v != ir::kNoValue) {
          ++readers_[static_cast<size_t>(v)];
          last_reader_[static_cast<size_t>(v)] = static_cast<int>(i);
        }
    for (ValueId v : g.outputs) {
      ++readers_[static_cast<size_t>(v)];
      last_reader_[static_cast<size_t>(v)] = -1;
    }
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
  // The node that is the only reader of `v` (not a graph output), or -1.
  int sole_reader(ValueId v) const {
    if (v == ir::kNoValue) return -1;
    return readers_[static_cast<size_t>(v)] == 1 ? last_reader_[static_cast<size_t>(v)] : -1;
  }
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
  std::vector<int> last_reader_;  // a graph output counts as a reader that is no node (-1)
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

// The activations a FusedMatMul epilogue runs, by operator.
const char* epilogue_activation(const ir::Node& n) {
  if (!n.domain.empty() && n.domain != "ai.onnx") return nullptr;
  if (n.op == "Relu") return "relu";
  if (n.op == "Tanh") return "tanh";
  if (n.op == "Sigmoid") return "sigmoid";
  return nullptr;
}

// Whether `bias` is a row of `y`'s last axis: f32 [.., 1, N] of no greater rank, N = y's columns.
bool is_bias_row(const Matcher& m, ValueId bias, ValueId y) {
  if (!m.is_f32(bias) || m.dims(bias).empty() || m.dims(bias).size() > m.dims(y).size())
    return false;
  const std::vector<int64_t>& d = m.dims(bias);
  return d.back() == m.dims(y).back() &&
         std::all_of(d.begin(), d.end() - 1, [](int64_t x) { return x == 1; });
}

// Node `i` as the product of a FusedMatMul: MatMul with a B of rank 2 or more, or Gemm with alpha
// 1, A not transposed and C, if any, a bias row (with beta 1). Returns the fused node with its
// inputs (A, B and Gemm's C) and attributes, or nullopt.
std::optional<ir::Node> epilogue_product(const Matcher& m, int i, ValueId fused_output) {
  if (i < 0) return std::nullopt;
  const ir::Node& n = m.node(i);
  const ValueId y = n.outputs.at(0);
  if (!m.is_f32(y) || m.dims(y).empty()) return std::nullopt;
  ir::Node fused = fused_node("FusedMatMul", {n.inputs.at(0), n.inputs.at(1)}, fused_output);
  if (n.op == "MatMul") {
    if (n.inputs.size() != 2 || m.dims(n.inputs[1]).size() < 2) return std::nullopt;
    if (const std::string* layout = n.attribute<std::string>("b_layout"))
      fused.attributes["b_layout"] = *layout;
    return fused;
  }
  const auto attr = [&](const char* key, float fallback) {
    const float* v = n.attribute<float>(key);
    return v ? *v : fallback;
  };
  const int64_t* trans_a = n.attribute<int64_t>("transA");
  if (attr("alpha", 1) != 1 || (trans_a && *trans_a)) return std::nullopt;
  if (n.inputs.size() > 2 && n.inputs[2] != ir::kNoValue) {
    if (attr("beta", 1) != 1 || !is_bias_row(m, n.inputs[2], y)) return std::nullopt;
    fused.inputs.push_back(n.inputs[2]);
  }
  if (const int64_t* trans_b = n.attribute<int64_t>("transB"))
    fused.attributes["transB"] = *trans_b;
  return fused;
}

// The MatMul or Gemm producing `v` (its only reader being the pattern), or -1.
int only_product(const Matcher& m, ValueId v) {
  const int matmul = m.only(v, "MatMul");
  return matmul >= 0 ? matmul : m.only(v, "Gemm");
}

// A product, then Add of a bias row (only after a product without its own C), then Relu, Tanh or
// Sigmoid, with the Add or the activation or both; or a Gemm with a bias row C alone. Matched from
// its last node; a product or Add whose only reader is an activation is left for that node.
std::optional<Fusion> match_fused_matmul(const Matcher& m, int out_index) {
  const ir::Node& out = m.node(out_index);
  if (out.outputs.empty() || out.outputs[0] == ir::kNoValue) return std::nullopt;
  const ValueId y = out.outputs[0];
  const char* activation = epilogue_activation(out);
  if (!activation) {
    const int reader = m.sole_reader(y);
    if (reader >= 0 && epilogue_activation(m.node(reader))) return std::nullopt;
  } else if (out.inputs.size() != 1) {
    return std::nullopt;
  }
  std::vector<int> nodes = {out_index};
  // The value before the activation, and the Add that may produce it.
  const ValueId x = activation ? out.inputs[0] : y;
  const int add =
      activation ? m.only(x, "Add") : (out.op == "Add" && out.domain.empty() ? out_index : -1);
  if (add >= 0 && m.node(add).inputs.size() == 2) {
    const ir::Node& a = m.node(add);
    for (size_t side = 0; side < 2; ++side) {
      const ValueId p = a.inputs[side], row = a.inputs[1 - side];
      std::optional<ir::Node> fused = epilogue_product(m, only_product(m, p), y);
      if (!fused || fused->inputs.size() != 2 || !is_bias_row(m, row, p) ||
          m.dims(a.outputs[0]) != m.dims(p))
        continue;
      fused->inputs.push_back(row);
      if (activation) fused->attributes["activation"] = std::string(activation);
      if (add != out_index) nodes.push_back(add);
      nodes.push_back(only_product(m, p));
      return Fusion{nodes, std::move(*fused)};
    }
  }
  if (!activation) {
    std::optional<ir::Node> fused =
        out.op == "Gemm" ? epilogue_product(m, out_index, y) : std::nullopt;
    if (!fused || fused->inputs.size() != 3) return std::nullopt;
    return Fusion{nodes, std::move(*fused)};
  }
  const int product = only_product(m, x);
  std::optional<ir::Node> fused = epilogue_product(m, product, y);
  if (!fused) return std::nullopt;
  fused->attributes["activation"] = std::string(activation);
  nodes.push_back(product);
  return Fusion{nodes, std::move(*fused)};
}

// Attention's scores: MatMul(Q, K) alone (scale 1), or scaled by Mul with a scalar constant or
// Div by one. K is as stored: [..., head_dim, context].
struct Scores {
  std::vector<int> nodes;
  ValueId q = ir::kNoValue, k = ir::kNoValue;
  float scale = 1;
};

std::optional<Scores> scaled_product(const Matcher& m, ValueId v) {
  auto product = [&](ValueId p, float scale, std::vector<int> nodes) -> std::optional<Scores> {
    const int mm = m.only(p, "MatMul");
    if (mm < 0 || m.node(mm).inputs.size() != 2 || !m.node(mm).attributes.empty())
      return std::nullopt;
    nodes.push_back(mm);
    return Scores{nodes, m.node(mm).inputs[0], m.node(mm).inputs[1], scale};
  };
  if (const int i = m.only(v, "Mul"); i >= 0 && m.node(i).inputs.size() == 2)
    for (int side = 0; side < 2; ++side)
      if (const auto c = m.scalar(m.node(i).inputs[static_cast<size_t>(1 - side)]))
        if (auto s = product(m.node(i).inputs[static_cast<size_t>(side)], *c, {i})) return s;
  if (const int i = m.only(v, "Div"); i >= 0 && m.node(i).inputs.size() == 2)
    if (const auto c = m.scalar(m.node(i).inputs[1]); c && *c != 0)
      return product(m.node(i).inputs[0], 1.0f / *c, {i});
  return product(v, 1.0f, {});
}

// Where(cond, scores, -inf): the scores' match, and cond in `cond`.
std::optional<Scores> masked_scores(const Matcher& m, ValueId v, ValueId& cond) {
  const int i = m.only(v, "Where");
  if (i < 0 || m.node(i).inputs.size() != 3) return std::nullopt;
  const auto fill = m.scalar(m.node(i).inputs[2]);
  if (!fill || !std::isinf(*fill) || *fill > 0) return std::nullopt;
  std::optional<Scores> s = scaled_product(m, m.node(i).inputs[1]);
  if (!s) return std::nullopt;
  s->nodes.push_back(i);
  cond = m.node(i).inputs[0];
  return s;
}

// Whether `dims` broadcasts to `to` without growing it.
bool broadcasts_to(const std::vector<int64_t>& dims, const std::vector<int64_t>& to) {
  if (dims.size() > to.size()) return false;
  for (size_t i = 0; i < dims.size(); ++i) {
    const int64_t d = dims[dims.size() - 1 - i];
    if (d != 1 && d != to[to.size() - 1 - i]) return false;
  }
  return true;
}

std::optional<Fusion> match_attention(const Matcher& m, const ir::Graph& g, int out_index) {
  const ir::Node& out = m.node(out_index);
  if (out.op != "MatMul" || !out.domain.empty() || out.inputs.size() != 2 ||
      !out.attributes.empty())
    return std::nullopt;
  const int softmax = m.only(out.inputs[0], "Softmax");
  if (softmax < 0) return std::nullopt;
  const ValueId scores = m.node(softmax).inputs.at(0), v = out.inputs[1];
  if (!m.is_f32(scores)) return std::nullopt;
  const auto rank = static_cast<int64_t>(m.dims(scores).size());
  const int64_t* axis = m.node(softmax).attribute<int64_t>("axis");
  if (axis ? (*axis != -1 && *axis != rank - 1) : g.opset_version("") < 13) return std::nullopt;
  std::vector<int> nodes = {out_index, softmax};
  ValueId cond = ir::kNoValue, additive = ir::kNoValue;
  std::optional<Scores> s;
  if (const int add = m.only(scores, "Add"); add >= 0 && m.node(add).inputs.size() == 2) {
    for (int side = 0; side < 2 && !s; ++side) {
      const ValueId inner = m.node(add).inputs[static_cast<size_t>(side)];
      s = masked_scores(m, inner, cond);
      if (!s) s = scaled_product(m, inner);
      if (s) additive = m.node(add).inputs[static_cast<size_t>(1 - side)];
    }
    if (s) nodes.push_back(add);
  }
  if (!s) s = masked_scores(m, scores, cond);
  if (!s) s = scaled_product(m, scores);
  if (!s) return std::nullopt;
  nodes.insert(nodes.end(), s->nodes.begin(), s->nodes.end());
  // Q f32 [..., rows, hd], K [..., hd, context] and V [..., context, hd] (f32, or bf16 as a KV
  // cache is stored), every tensor's shape known and the scores exactly [batch..., rows, context].
  const auto known = [&](ValueId x, std::initializer_list<ir::ElementType> types) {
    const ir::TensorType& t = g.value(x).type;
    return t.fully_known() && t.dims->size() >= 2 &&
           std::find(types.begin(), types.end(), t.element) != types.end();
  };
  using ir::ElementType;
  if (!known(s->q, {ElementType::F32}) || !known(s->k, {ElementType::F32, ElementType::BF16}) ||
      !known(v, {ElementType::F32, ElementType::BF16}) || !m.is_f32(out.outputs[0]))
    return std::nullopt;
  const std::vector<int64_t>& sd = m.dims(scores);
  const std::vector<int64_t>& od = m.dims(out.outputs[0]);
  if (rank < 2 || od.size() != sd.size() || !std::equal(od.begin(), od.end() - 1, sd.begin()) ||
      od.back() != m.dims(v).back() || m.dims(s->q).back() != od.back())
    return std::nullopt;
  if (cond != ir::kNoValue) {
    const ir::TensorType& t = g.value(cond).type;
    if (t.element != ElementType::Bool || !t.fully_known() || !broadcasts_to(*t.dims, sd))
      return std::nullopt;
  }
  if (additive != ir::kNoValue && (!m.is_f32(additive) || !broadcasts_to(m.dims(additive), sd)))
    return std::nullopt;
  // V made by a Transpose that keeps the innermost axis (values gathered as [b, context, kv, hd]
  // and read [b, kv, context, hd]) is read through the permutation: its rows stay contiguous.
  std::vector<int64_t> v_perm;
  ValueId v_source = v;
  if (const int t = m.only(v, "Transpose"); t >= 0) {
    const auto* perm = m.node(t).attribute<std::vector<int64_t>>("perm");
    const ValueId x = m.node(t).inputs.at(0);
    if (perm && !perm->empty() && perm->back() == static_cast<int64_t>(perm->size()) - 1 &&
        g.value(x).type.fully_known()) {
      v_perm = *perm;
      v_source = x;
      nodes.push_back(t);
    }
  }
  std::vector<ValueId> inputs = {s->q, s->k, v_source};
  if (cond != ir::kNoValue) inputs.push_back(cond);
  if (additive != ir::kNoValue) inputs.push_back(additive);
  Fusion f{nodes, fused_node("Attention", inputs, out.outputs[0])};
  f.fused.attributes["scale"] = s->scale;
  if (!v_perm.empty()) f.fused.attributes["v_perm"] = v_perm;
  f.fused.attributes["mask"] =
      std::string(cond != ir::kNoValue ? (additive != ir::kNoValue ? "where_add" : "where")
                                       : (additive != ir::kNoValue ? "add" : "none"));
  return f;
}

// Conv, then Relu, Tanh or Sigmoid: the activation joins the pass that adds the bias and lays the
// products out.
std::optional<Fusion> match_fused_conv(const Matcher& m, int out_index) {
  const ir::Node& out = m.node(out_index);
  const char* activation = epilogue_activation(out);
  if (!activation || out.inputs.size() != 1) return std::nullopt;
  const int conv = m.only(out.inputs[0], "Conv");
  if (conv < 0 || !m.is_f32(out.inputs[0])) return std::nullopt;
  ir::Node fused = fused_node("FusedConv", m.node(conv).inputs, out.outputs.at(0));
  fused.attributes = m.node(conv).attributes;
  fused.attributes["activation"] = std::string(activation);
  return Fusion{{out_index, conv}, std::move(fused)};
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
    if (!f) f = match_attention(m, graph, i);
    if (!f) f = match_fused_matmul(m, i);
    if (!f) f = match_fused_conv(m, i);
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
