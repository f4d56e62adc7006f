#include "llm/graph_builder.h"

#include <cstring>
#include <limits>

namespace seedchip::llm {

namespace {

namespace ir = compiler::ir;

ir::HostTensorPtr tensor_of(ir::ElementType element, std::vector<int64_t> dims, const void* data,
                            size_t bytes) {
  auto t = std::make_shared<ir::HostTensor>();
  t->element = element;
  t->dims = std::move(dims);
  t->bytes.resize(bytes);
  if (bytes) std::memcpy(t->bytes.data(), data, bytes);
  return t;
}

}  // namespace

GraphBuilder::ValueId GraphBuilder::input(const std::string& name, ElementType element,
                                          std::vector<int64_t> dims) {
  const ValueId v = g_.add_value(name, ir::TensorType{element, std::move(dims)});
  g_.inputs.push_back(v);
  return v;
}

void GraphBuilder::output(ValueId v) { g_.outputs.push_back(v); }

GraphBuilder::ValueId GraphBuilder::weights(const std::string& name, std::vector<int64_t> dims,
                                            std::span<const float> w) {
  return g_.add_value(name, ir::TensorType{ir::ElementType::F32, dims},
                      tensor_of(ir::ElementType::F32, dims, w.data(), w.size_bytes()));
}

GraphBuilder::ValueId GraphBuilder::floats(const std::string& name, std::vector<int64_t> dims,
                                           const std::vector<float>& values) {
  return g_.add_value(
      g_.unique_name(name), ir::TensorType{ir::ElementType::F32, dims},
      tensor_of(ir::ElementType::F32, dims, values.data(), values.size() * sizeof(float)));
}

GraphBuilder::ValueId GraphBuilder::ints(const std::string& name, std::vector<int64_t> dims,
                                         const std::vector<int64_t>& values) {
  return g_.add_value(
      g_.unique_name(name), ir::TensorType{ir::ElementType::I64, dims},
      tensor_of(ir::ElementType::I64, dims, values.data(), values.size() * sizeof(int64_t)));
}

GraphBuilder::ValueId GraphBuilder::int32s(const std::string& name, std::vector<int64_t> dims,
                                           const std::vector<int32_t>& values) {
  return g_.add_value(
      g_.unique_name(name), ir::TensorType{ir::ElementType::I32, dims},
      tensor_of(ir::ElementType::I32, dims, values.data(), values.size() * sizeof(int32_t)));
}

GraphBuilder::ValueId GraphBuilder::shape(const std::vector<int64_t>& dims) {
  return ints("shape", {static_cast<int64_t>(dims.size())}, dims);
}

GraphBuilder::ValueId GraphBuilder::op(const std::string& type, std::vector<ValueId> inputs,
                                       std::map<std::string, ir::AttributeValue> attributes,
                                       const std::string& output) {
  ir::Node n;
  n.op = type;
  n.inputs = std::move(inputs);
  n.attributes = std::move(attributes);
  const ValueId out = g_.add_value(output.empty() ? g_.unique_name(type) : output, {});
  n.outputs = {out};
  g_.nodes.push_back(std::move(n));
  return out;
}

GraphBuilder::ValueId GraphBuilder::reshape(ValueId x, const std::vector<int64_t>& dims) {
  return op("Reshape", {x, shape(dims)});
}

GraphBuilder::ValueId GraphBuilder::transpose(ValueId x, const std::vector<int64_t>& perm) {
  return op("Transpose", {x}, {{"perm", perm}});
}

GraphBuilder::ValueId GraphBuilder::project(ValueId x, ValueId w) {
  return op("Gemm", {x, w}, {{"transB", int64_t{1}}});
}

GraphBuilder::ValueId GraphBuilder::project(ValueId x, ValueId w, ValueId bias) {
  return op("Gemm", {x, w, bias}, {{"transB", int64_t{1}}});
}

GraphBuilder::ValueId GraphBuilder::rms_norm(ValueId x, ValueId weight, float eps) {
  const ValueId mean_square =
      op("ReduceMean", {op("Mul", {x, x})}, {{"axes", std::vector<int64_t>{-1}}});
  const ValueId inverse =
      op("Reciprocal", {op("Sqrt", {op("Add", {mean_square, floats("eps", {}, {eps})})})});
  return op("Mul", {op("Mul", {x, inverse}), weight});
}

GraphBuilder::ValueId GraphBuilder::rope(ValueId x, int64_t rows, int64_t heads, int64_t head_dim,
                                         ValueId cos, ValueId sin) {
  const ValueId pairs = reshape(x, {rows, heads, head_dim / 2, 2});
  const ValueId swapped = op("Slice", {pairs, ints("start", {1}, {1}),
                                       ints("end", {1}, {std::numeric_limits<int64_t>::min()}),
                                       ints("axis", {1}, {3}), ints("step", {1}, {-1})});
  const ValueId rotated = op("Add", {op("Mul", {pairs, cos}), op("Mul", {swapped, sin})});
  return reshape(rotated, {rows, heads * head_dim});
}

GraphBuilder::ValueId GraphBuilder::fused(const std::string& type, std::vector<ValueId> inputs,
                                          std::map<std::string, ir::AttributeValue> attributes,
                                          ir::TensorType output_type, const std::string& output) {
  ir::Node n;
  n.op = type;
  n.domain = "seedchip";
  n.inputs = std::move(inputs);
  n.attributes = std::move(attributes);
  const ValueId out =
      g_.add_value(output.empty() ? g_.unique_name(type) : output, std::move(output_type));
  n.outputs = {out};
  g_.nodes.push_back(std::move(n));
  return out;
}

GraphBuilder::ValueId GraphBuilder::columns(ValueId x, int64_t begin, int64_t end) {
  return op("Slice",
            {x, ints("start", {1}, {begin}), ints("end", {1}, {end}), ints("axis", {1}, {1})});
}

}  // namespace seedchip::llm
