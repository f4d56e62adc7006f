#pragma once
// Appends ONNX-standard nodes to a graph for the model builders in llm/: fresh value names,
// constants from host data, graph inputs and outputs, and the composite forms the Llama family
// shares (RMSNorm, RoPE on interleaved pairs). Shapes are left to the compiler's shape inference.
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace seedchip::llm {

class GraphBuilder {
 public:
  using ValueId = compiler::ir::ValueId;
  using ElementType = compiler::ir::ElementType;

  explicit GraphBuilder(compiler::ir::Graph& g) : g_(g) {}

  ValueId input(const std::string& name, ElementType element, std::vector<int64_t> dims);
  void output(ValueId v);
  // Constants: copies of the host data.
  ValueId weights(const std::string& name, std::vector<int64_t> dims, std::span<const float> w);
  ValueId floats(const std::string& name, std::vector<int64_t> dims,
                 const std::vector<float>& values);
  ValueId ints(const std::string& name, std::vector<int64_t> dims,
               const std::vector<int64_t>& values);
  ValueId int32s(const std::string& name, std::vector<int64_t> dims,
                 const std::vector<int32_t>& values);
  ValueId shape(const std::vector<int64_t>& dims);

  // A node of `type` with one output, named `output` or a fresh name.
  ValueId op(const std::string& type, std::vector<ValueId> inputs,
             std::map<std::string, compiler::ir::AttributeValue> attributes = {},
             const std::string& output = "");

  ValueId reshape(ValueId x, const std::vector<int64_t>& dims);
  ValueId transpose(ValueId x, const std::vector<int64_t>& perm);
  // x @ W^T for W stored [out, in], as llama2.c and GGUF store projections.
  ValueId project(ValueId x, ValueId w);
  // x @ W^T + bias (bias [out], Gemm's C input).
  ValueId project(ValueId x, ValueId w, ValueId bias);
  // x / sqrt(mean(x^2 over the last axis) + eps) * weight.
  ValueId rms_norm(ValueId x, ValueId weight, float eps);
  // Rotates each interleaved pair (a, b) of `x` ([rows, heads * head_dim]) to
  // (a c - b s, b c + a s) as x * cos + swapped(x) * sin, where `swapped` exchanges the members of
  // each pair (a reversed slice) and the table rows ([rows, 1, head_dim / 2, 2]) hold (c, c) and
  // (-s, s). Since x + (-y) is x - y exactly, these are run.c's numbers, in two multiplies and one
  // add.
  ValueId rope(ValueId x, int64_t rows, int64_t heads, int64_t head_dim, ValueId cos, ValueId sin);
  // An operator of the compiler's own domain ("seedchip"; see docs/compiler.md), which shape
  // inference does not know: its output type is given.
  ValueId fused(const std::string& type, std::vector<ValueId> inputs,
                std::map<std::string, compiler::ir::AttributeValue> attributes,
                compiler::ir::TensorType output_type, const std::string& output = "");
  // Columns [begin, end) of a [rows, columns] value.
  ValueId columns(ValueId x, int64_t begin, int64_t end);

 private:
  compiler::ir::Graph& g_;
};

}  // namespace seedchip::llm
