#pragma once
// ONNX frontend: model files (ModelProto) into the graph IR, and TensorProto files (.pb, as in the
// ONNX backend test data) into host tensors. Parsing is protobuf's, through Debian's libonnx-dev
// classes; what this file adds is the translation and the checks, so that a bad file gives one
// InputError naming the file and the initializer, node, attribute or tensor at fault, never a
// crash.
//
// Conventions: initializers become constants (an initializer also listed as a graph input stays an
// input, with the initializer as its default); an empty input name is an omitted optional input;
// nodes are sorted topologically (the file's order is kept where it is valid) and cycles are
// reported. Tensor data may live in external files named relative to the model's folder (paths
// that are absolute or climb out of it are refused). Subgraph attributes (If, Loop, Scan) are
// converted without verification: their references to the enclosing graph become values with no
// definition. Sequence and optional types of tensors load as ir::Container types; maps and sparse
// tensors as values of unknown type.
#include <cstddef>
#include <string>

#include "compiler/ir/graph.h"

namespace seedchip::compiler::frontend {

// Loads and verifies the model at `path`.
ir::Graph load_onnx_model(const std::string& path);

// The same from bytes in memory; `label` names them in messages. External data is resolved
// against `base_dir`, and refused when base_dir is empty.
ir::Graph load_onnx_model_bytes(const void* data, size_t size, const std::string& label,
                                const std::string& base_dir = "");

// A serialized TensorProto file. `name` receives the tensor's name when not null.
ir::HostTensor load_onnx_tensor(const std::string& path, std::string* name = nullptr);
ir::HostTensor load_onnx_tensor_bytes(const void* data, size_t size, const std::string& label,
                                      std::string* name = nullptr);

// A serialized value of the type `declared`: a TensorProto file, or for a sequence or optional type
// a SequenceProto or OptionalProto file, whose nested values are read by the elem_type they give
// (a HostTensor with `container` set). Whether the value has the declared type is for its user to
// check (ir::type_mismatch): a test's expected value is read this way, whatever it holds.
ir::HostTensor load_onnx_value(const std::string& path, const ir::TensorType& declared,
                               std::string* name = nullptr);
ir::HostTensor load_onnx_value_bytes(const void* data, size_t size, const std::string& label,
                                     const ir::TensorType& declared, std::string* name = nullptr);

// Writes `tensor` as a TensorProto file (raw_data little-endian; string_data for strings).
void save_onnx_tensor(const ir::HostTensor& tensor, const std::string& name,
                      const std::string& path);

}  // namespace seedchip::compiler::frontend
