#include "compiler/passes/demote_f64.h"

#include <cstring>

namespace seedchip::compiler::passes {

namespace {

// ONNX TensorProto data types, as the attributes that name a type store them.
constexpr int64_t kOnnxFloat = 1;
constexpr int64_t kOnnxDouble = 11;

ir::HostTensorPtr demoted(const ir::HostTensorPtr& t) {
  if (!t || t->element != ir::ElementType::F64) return t;
  auto out = std::make_shared<ir::HostTensor>();
  out->element = ir::ElementType::F32;
  out->dims = t->dims;
  const size_t n = t->bytes.size() / 8;
  out->bytes.resize(n * 4);
  for (size_t i = 0; i < n; ++i) {
    double x;
    std::memcpy(&x, t->bytes.data() + i * 8, 8);
    const auto f = static_cast<float>(x);
    std::memcpy(out->bytes.data() + i * 4, &f, 4);
  }
  return out;
}

void demote_attribute(const std::string& key, ir::AttributeValue& value) {
  if (auto* code = std::get_if<int64_t>(&value)) {
    if ((key == "to" || key == "dtype") && *code == kOnnxDouble) *code = kOnnxFloat;
  } else if (auto* tensor = std::get_if<ir::HostTensorPtr>(&value)) {
    *tensor = demoted(*tensor);
  } else if (auto* tensors = std::get_if<std::vector<ir::HostTensorPtr>>(&value)) {
    for (ir::HostTensorPtr& t : *tensors) t = demoted(t);
  } else if (auto* graph = std::get_if<ir::GraphPtr>(&value)) {
    auto copy = std::make_shared<ir::Graph>(**graph);
    demote_f64(*copy);
    *graph = std::move(copy);
  } else if (auto* graphs = std::get_if<std::vector<ir::GraphPtr>>(&value)) {
    for (ir::GraphPtr& g : *graphs) {
      auto copy = std::make_shared<ir::Graph>(*g);
      demote_f64(*copy);
      g = std::move(copy);
    }
  }
}

}  // namespace

void demote_f64(ir::Graph& graph) {
  for (ir::Value& v : graph.values) {
    if (v.type.element != ir::ElementType::F64) continue;
    v.type.element = ir::ElementType::F32;
    v.constant = demoted(v.constant);
  }
  for (ir::Node& n : graph.nodes)
    for (auto& [key, value] : n.attributes) demote_attribute(key, value);
}

}  // namespace seedchip::compiler::passes
