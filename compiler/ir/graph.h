#pragma once
// The compiler's graph IR: typed tensors of any rank, operators with attributes, in topological
// order. Model frontends (ONNX, the LLM loaders) build it; passes rewrite it; the mapper and
// code generator read it. Operator names and attribute meanings follow ONNX (the op set named by
// Graph::opset), so a frontend translates file formats, not semantics.
//
// Invariants (checked by verify(), run between passes): every node input is a graph input, a
// constant, or an output of an earlier node; every value is produced at most once; names are
// unique; graph outputs are defined; constants match their declared type.
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace seedchip::compiler::ir {

// Element types a model may carry. Only some run on the chip (see the mapper); the rest exist so
// that a model loads, verifies and reports precisely what it cannot run.
enum class ElementType : uint8_t {
  Undefined,
  F32,
  F64,
  F16,
  BF16,
  I8,
  I16,
  I32,
  I64,
  U8,
  U16,
  U32,
  U64,
  Bool,
  String,
  C64,
  C128,
};

std::string_view element_name(ElementType t);  // "f32", "bf16", "i64", "bool", ...
std::optional<ElementType> element_from_name(std::string_view name);
// Bytes per element in a dense buffer; 0 for Undefined and String (held as std::string).
size_t element_bytes(ElementType t);

// What ONNX wraps tensors in. The chip holds neither: a model may only pass such a value from a
// graph input to a graph output, which the runtime does on the host (compile.h).
enum class Container : uint8_t { Sequence, Optional };
std::string_view container_name(Container c);  // "seq", "optional"

// A value's static type. dims == nullopt: rank unknown; a dim of kUnknownDim: size unknown.
inline constexpr int64_t kUnknownDim = -1;
struct TensorType {
  ElementType element = ElementType::Undefined;
  std::optional<std::vector<int64_t>> dims;
  // Around the tensor, outermost first: optional(seq(f32[5])) is {Optional, Sequence} around
  // f32[5]. Empty for a plain tensor.
  std::vector<Container> containers = {};

  bool fully_known() const;       // a plain tensor whose element, rank and every dim are known
  int64_t element_count() const;  // product of dims; -1 unless fully_known()
  bool operator==(const TensorType&) const = default;
};
// As the IR text format writes it (text.h): "f32[2,?]" with ? for a dim of unknown size,
// "f32[*]" for an unknown rank, "optional(seq(f32[5]))" for containers.
std::string type_text(const TensorType& type);

// Tensor data on the host: constants, test inputs and outputs. Dense little-endian row-major bytes,
// or `strings` for String tensors. A sequence or optional value (`container` set) holds its
// tensors, or its one value if the optional has one, in `items`, and nothing else.
struct HostTensor {
  ElementType element = ElementType::Undefined;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
  std::vector<std::string> strings;
  std::optional<Container> container = std::nullopt;
  std::vector<HostTensor> items = {};

  int64_t element_count() const;  // product of dims (1 for a scalar)
  TensorType type() const { return {element, dims}; }
};

// Empty when `value` has the type `declared`: the same containers (an optional may be empty), and
// tensors of its element type whose dims agree with the known ones; else what differs, for a
// message.
std::string type_mismatch(const HostTensor& value, const TensorType& declared);
using HostTensorPtr = std::shared_ptr<const HostTensor>;

// A dense tensor holding `values`, T being the element's C++ type (float for f32, int64_t for
// i64, uint8_t for bool, uint16_t for the bits of f16 and bf16); values.size() is dims' product.
template <class T>
HostTensor host_tensor(ElementType element, std::vector<int64_t> dims,
                       const std::vector<T>& values) {
  HostTensor t{element, std::move(dims), std::vector<uint8_t>(values.size() * sizeof(T)), {}};
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}
// A dense tensor's elements as T (as above).
template <class T>
std::vector<T> host_values(const HostTensor& t) {
  std::vector<T> out(t.bytes.size() / sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), t.bytes.data(), out.size() * sizeof(T));
  return out;
}

struct Graph;
using GraphPtr = std::shared_ptr<const Graph>;

// An attribute value, in ONNX's kinds. Integers are int64 and floats are float, as ONNX stores
// them.
using AttributeValue =
    std::variant<int64_t, float, std::string, HostTensorPtr, GraphPtr, std::vector<int64_t>,
                 std::vector<float>, std::vector<std::string>, std::vector<HostTensorPtr>,
                 std::vector<GraphPtr>>;
std::string_view attribute_kind_name(const AttributeValue& v);  // "int", "floats", "graph", ...

using ValueId = int32_t;
inline constexpr ValueId kNoValue = -1;  // an omitted optional input or output

struct Value {
  std::string name;
  TensorType type;
  HostTensorPtr constant;  // set for initializers and folded constants
};

struct Node {
  std::string op;      // ONNX operator name, or a fused operator of ours (see passes/)
  std::string domain;  // "" is the default ONNX domain
  std::string name;    // as in the model; may be empty
  std::vector<ValueId> inputs, outputs;
  std::map<std::string, AttributeValue> attributes;

  // The attribute `key` if present and of kind T; nullptr otherwise.
  template <class T>
  const T* attribute(const std::string& key) const {
    auto it = attributes.find(key);
    return it == attributes.end() ? nullptr : std::get_if<T>(&it->second);
  }
  // How a node names itself in messages: its name if it has one, else "#index Op".
  std::string label(size_t index) const;
};

struct Graph {
  std::string name;
  std::map<std::string, int64_t> opset;  // domain -> version; "" is the default ONNX domain
  std::vector<Value> values;
  std::vector<Node> nodes;  // topological order
  std::vector<ValueId> inputs, outputs;

  // Adds a value; throws std::invalid_argument if the name is taken.
  ValueId add_value(std::string name, TensorType type, HostTensorPtr constant = nullptr);
  // The value of that name, or kNoValue.
  ValueId find(std::string_view name) const;
  // A name not yet used, from `base` ("base", "base_1", ...).
  std::string unique_name(std::string_view base) const;
  const Value& value(ValueId id) const { return values.at(static_cast<size_t>(id)); }
  Value& value(ValueId id) { return values.at(static_cast<size_t>(id)); }
  // The opset version of a domain ("" and "ai.onnx" are the same), 0 if not imported.
  int64_t opset_version(std::string_view domain = "") const;
  // For each value, the index of the node producing it, or -1 (inputs, constants, unused).
  std::vector<int> producers() const;
  // Rebuilds the by-name lookup after values were renamed or replaced directly.
  void reindex();

 private:
  std::map<std::string, ValueId, std::less<>> by_name_;
};

// Checks the invariants above; throws InputError naming the graph, the node and the tensor.
void verify(const Graph& graph);

// Sorts nodes topologically (stable: the file's order where it is already valid). Throws InputError
// naming the nodes on a cycle, or the first node input that nothing defines.
void sort_topologically(Graph& graph);

}  // namespace seedchip::compiler::ir
