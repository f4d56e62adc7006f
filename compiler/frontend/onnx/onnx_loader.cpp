#include "compiler/frontend/onnx/onnx_loader.h"

#include <onnx/onnx-data_pb.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <unordered_set>

#include "arch/error.h"

namespace seedchip::compiler::frontend {

namespace {

namespace fs = std::filesystem;
using ir::ElementType;
using ir::HostTensor;

// Nested subgraphs (If inside Loop inside If...) are followed to this depth; deeper is refused
// rather than risking the stack on a crafted file.
constexpr int kMaxGraphDepth = 32;
// Sequences of optionals of sequences...: the same for nested values.
constexpr int kMaxContainerDepth = 32;

// Every message starts with where: the file, then the part of it.
struct Where {
  std::string file;
  std::string base_dir;

  [[noreturn]] void fail(const std::string& what) const { throw InputError(file + ": " + what); }
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot open file");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw InputError(path + ": read error");
  return bytes.str();
}

std::string dims_text(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? "," : "") + std::to_string(dims[i]);
  return s + "]";
}

ElementType element_of(int onnx_type) {
  switch (onnx_type) {
    case onnx::TensorProto::FLOAT:
      return ElementType::F32;
    case onnx::TensorProto::UINT8:
      return ElementType::U8;
    case onnx::TensorProto::INT8:
      return ElementType::I8;
    case onnx::TensorProto::UINT16:
      return ElementType::U16;
    case onnx::TensorProto::INT16:
      return ElementType::I16;
    case onnx::TensorProto::INT32:
      return ElementType::I32;
    case onnx::TensorProto::INT64:
      return ElementType::I64;
    case onnx::TensorProto::STRING:
      return ElementType::String;
    case onnx::TensorProto::BOOL:
      return ElementType::Bool;
    case onnx::TensorProto::FLOAT16:
      return ElementType::F16;
    case onnx::TensorProto::DOUBLE:
      return ElementType::F64;
    case onnx::TensorProto::UINT32:
      return ElementType::U32;
    case onnx::TensorProto::UINT64:
      return ElementType::U64;
    case onnx::TensorProto::COMPLEX64:
      return ElementType::C64;
    case onnx::TensorProto::COMPLEX128:
      return ElementType::C128;
    case onnx::TensorProto::BFLOAT16:
      return ElementType::BF16;
    default:
      return ElementType::Undefined;
  }
}

int onnx_type_of(ElementType t) {
  switch (t) {
    case ElementType::F32:
      return onnx::TensorProto::FLOAT;
    case ElementType::U8:
      return onnx::TensorProto::UINT8;
    case ElementType::I8:
      return onnx::TensorProto::INT8;
    case ElementType::U16:
      return onnx::TensorProto::UINT16;
    case ElementType::I16:
      return onnx::TensorProto::INT16;
    case ElementType::I32:
      return onnx::TensorProto::INT32;
    case ElementType::I64:
      return onnx::TensorProto::INT64;
    case ElementType::String:
      return onnx::TensorProto::STRING;
    case ElementType::Bool:
      return onnx::TensorProto::BOOL;
    case ElementType::F16:
      return onnx::TensorProto::FLOAT16;
    case ElementType::F64:
      return onnx::TensorProto::DOUBLE;
    case ElementType::U32:
      return onnx::TensorProto::UINT32;
    case ElementType::U64:
      return onnx::TensorProto::UINT64;
    case ElementType::C64:
      return onnx::TensorProto::COMPLEX64;
    case ElementType::C128:
      return onnx::TensorProto::COMPLEX128;
    case ElementType::BF16:
      return onnx::TensorProto::BFLOAT16;
    case ElementType::Undefined:
      break;
  }
  return onnx::TensorProto::UNDEFINED;
}

// Appends n values of type Wire, narrowed to Stored, little-endian.
template <class Stored, class Repeated>
void append_narrowed(const Repeated& field, std::vector<uint8_t>& out) {
  const size_t start = out.size();
  out.resize(start + static_cast<size_t>(field.size()) * sizeof(Stored));
  for (int i = 0; i < field.size(); ++i) {
    const auto v = static_cast<Stored>(field.Get(i));
    std::memcpy(out.data() + start + static_cast<size_t>(i) * sizeof(Stored), &v, sizeof(Stored));
  }
}

class TensorReader {
 public:
  explicit TensorReader(const Where& where) : where_(where) {}

  HostTensor read(const onnx::TensorProto& t, const std::string& what) const {
    const std::string ctx = what + " '" + t.name() + "'";
    HostTensor out;
    out.element = element_of(t.data_type());
    if (out.element == ElementType::Undefined)
      where_.fail(ctx + ": data type " + std::to_string(t.data_type()) +
                  " is not one ONNX 1.12 defines (expected 1-16)");
    if (t.has_segment()) where_.fail(ctx + ": segmented tensors are not supported");
    uint64_t count = 1;
    for (int64_t d : t.dims()) {
      if (d < 0) where_.fail(ctx + ": negative dimension " + std::to_string(d));
      out.dims.push_back(d);
      if (d != 0 && count > std::numeric_limits<uint64_t>::max() / 16 / static_cast<uint64_t>(d))
        where_.fail(ctx + ": dims " + dims_text(out.dims) + " are too large");
      count *= static_cast<uint64_t>(d);
    }
    const size_t elem = ir::element_bytes(out.element);
    const uint64_t want_bytes = count * elem;
    const std::string need = ctx + ": dims " + dims_text(out.dims) + " need " +
                             std::to_string(count) + " " +
                             std::string(ir::element_name(out.element)) + " elements";
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      if (out.element == ElementType::String) where_.fail(ctx + ": external string data");
      out.bytes = read_external(t, ctx, want_bytes);
      return out;
    }
    if (t.has_raw_data()) {
      if (out.element == ElementType::String)
        where_.fail(ctx + ": string tensors cannot use raw_data");
      if (t.raw_data().size() != want_bytes)
        where_.fail(need + " (" + std::to_string(want_bytes) + " bytes), raw_data holds " +
                    std::to_string(t.raw_data().size()) + " bytes");
      out.bytes.assign(t.raw_data().begin(), t.raw_data().end());
      return out;
    }
    uint64_t held = 0;  // elements the typed field holds
    switch (out.element) {
      case ElementType::F32:
        append_narrowed<float>(t.float_data(), out.bytes);
        held = static_cast<uint64_t>(t.float_data_size());
        break;
      case ElementType::C64:
        append_narrowed<float>(t.float_data(), out.bytes);
        held = static_cast<uint64_t>(t.float_data_size()) / 2;
        if (t.float_data_size() % 2) where_.fail(ctx + ": complex data with an odd float count");
        break;
      case ElementType::F64:
        append_narrowed<double>(t.double_data(), out.bytes);
        held = static_cast<uint64_t>(t.double_data_size());
        break;
      case ElementType::C128:
        append_narrowed<double>(t.double_data(), out.bytes);
        held = static_cast<uint64_t>(t.double_data_size()) / 2;
        if (t.double_data_size() % 2) where_.fail(ctx + ": complex data with an odd double count");
        break;
      case ElementType::I64:
        append_narrowed<int64_t>(t.int64_data(), out.bytes);
        held = static_cast<uint64_t>(t.int64_data_size());
        break;
      case ElementType::U32:
        append_narrowed<uint32_t>(t.uint64_data(), out.bytes);
        held = static_cast<uint64_t>(t.uint64_data_size());
        break;
      case ElementType::U64:
        append_narrowed<uint64_t>(t.uint64_data(), out.bytes);
        held = static_cast<uint64_t>(t.uint64_data_size());
        break;
      case ElementType::I32:
        append_narrowed<int32_t>(t.int32_data(), out.bytes);
        held = static_cast<uint64_t>(t.int32_data_size());
        break;
      case ElementType::I16:
        append_narrowed<int16_t>(t.int32_data(), out.bytes);
        held = static_cast<uint64_t>(t.int32_data_size());
        break;
      case ElementType::U16:
      case ElementType::F16:
      case ElementType::BF16:  // 16-bit floats travel as their bit patterns in int32_data
        append_narrowed<uint16_t>(t.int32_data(), out.bytes);
        held = static_cast<uint64_t>(t.int32_data_size());
        break;
      case ElementType::I8:
        append_narrowed<int8_t>(t.int32_data(), out.bytes);
        held = static_cast<uint64_t>(t.int32_data_size());
        break;
      case ElementType::U8:
        append_narrowed<uint8_t>(t.int32_data(), out.bytes);
        held = static_cast<uint64_t>(t.int32_data_size());
        break;
      case ElementType::Bool:
        for (int i = 0; i < t.int32_data_size(); ++i)
          out.bytes.push_back(t.int32_data(i) != 0 ? 1 : 0);
        held = static_cast<uint64_t>(t.int32_data_size());
        break;
      case ElementType::String:
        out.strings.assign(t.string_data().begin(), t.string_data().end());
        held = out.strings.size();
        break;
      case ElementType::Undefined:
        break;
    }
    if (held != count) where_.fail(need + ", the file holds " + std::to_string(held));
    return out;
  }

 private:
  std::vector<uint8_t> read_external(const onnx::TensorProto& t, const std::string& ctx,
                                     uint64_t want_bytes) const {
    std::string location;
    uint64_t offset = 0, length = want_bytes;
    bool has_length = false;
    for (const auto& kv : t.external_data()) {
      try {
        if (kv.key() == "location") {
          location = kv.value();
        } else if (kv.key() == "offset") {
          offset = std::stoull(kv.value());
        } else if (kv.key() == "length") {
          length = std::stoull(kv.value());
          has_length = true;
        }
      } catch (const std::exception&) {
        where_.fail(ctx + ": external_data '" + kv.key() + "' is not a number: '" + kv.value() +
                    "'");
      }
    }
    if (location.empty()) where_.fail(ctx + ": external data without a location");
    if (where_.base_dir.empty())
      where_.fail(ctx + ": external data '" + location + "' cannot be resolved here");
    const fs::path rel(location);
    for (const auto& part : rel)
      if (part == "..") where_.fail(ctx + ": external data path '" + location + "' climbs out");
    if (rel.is_absolute()) where_.fail(ctx + ": external data path '" + location + "' is absolute");
    if (has_length && length != want_bytes)
      where_.fail(ctx + ": external data length " + std::to_string(length) + " but dims need " +
                  std::to_string(want_bytes) + " bytes");
    const fs::path path = fs::path(where_.base_dir) / rel;
    std::ifstream in(path, std::ios::binary);
    if (!in) where_.fail(ctx + ": cannot open external data file " + path.string());
    in.seekg(0, std::ios::end);
    const auto size = static_cast<uint64_t>(in.tellg());
    if (offset > size || want_bytes > size - offset)
      where_.fail(ctx + ": external data file " + path.string() + " has " + std::to_string(size) +
                  " bytes, the tensor needs " + std::to_string(want_bytes) + " from offset " +
                  std::to_string(offset));
    std::vector<uint8_t> bytes(want_bytes);
    in.seekg(static_cast<std::streamoff>(offset));
    in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(want_bytes));
    if (!in) where_.fail(ctx + ": read error in external data file " + path.string());
    return bytes;
  }

  const Where& where_;
};

ir::TensorType type_of(const onnx::TypeProto& t) {
  if (t.has_sequence_type() || t.has_optional_type()) {
    const bool sequence = t.has_sequence_type();
    const onnx::TypeProto& inner =
        sequence ? t.sequence_type().elem_type() : t.optional_type().elem_type();
    if (!inner.has_tensor_type() && !inner.has_sequence_type() && !inner.has_optional_type())
      return {};  // of maps or sparse tensors: nothing the compiler handles
    ir::TensorType out = type_of(inner);
    out.containers.insert(out.containers.begin(),
                          sequence ? ir::Container::Sequence : ir::Container::Optional);
    return out;
  }
  if (!t.has_tensor_type()) return {};  // a map or a sparse tensor
  ir::TensorType out;
  out.element = element_of(t.tensor_type().elem_type());
  if (!t.tensor_type().has_shape()) return out;
  std::vector<int64_t> dims;
  for (const auto& d : t.tensor_type().shape().dim())
    dims.push_back(d.has_dim_value() && d.dim_value() >= 0 ? d.dim_value() : ir::kUnknownDim);
  out.dims = std::move(dims);
  return out;
}

class GraphReader {
 public:
  explicit GraphReader(const Where& where) : where_(where), tensors_(where) {}

  // `nested`: a subgraph, whose names may refer to the enclosing graph.
  ir::Graph read(const onnx::GraphProto& g, const std::map<std::string, int64_t>& opset,
                 int depth) const {
    if (depth > kMaxGraphDepth)
      where_.fail("subgraphs nested deeper than " + std::to_string(kMaxGraphDepth));
    const bool nested = depth > 0;
    ir::Graph out;
    out.name = g.name();
    out.opset = opset;
    const std::string in_graph = nested ? "subgraph '" + g.name() + "': " : "";
    if (g.sparse_initializer_size() > 0)
      where_.fail(in_graph + "sparse initializer '" + g.sparse_initializer(0).values().name() +
                  "' is not supported");
    for (const auto& init : g.initializer()) {
      if (init.name().empty()) where_.fail(in_graph + "an initializer has no name");
      auto tensor = std::make_shared<HostTensor>(tensors_.read(init, in_graph + "initializer"));
      add(out, init.name(), tensor->type(), in_graph + "initializer", tensor);
    }
    for (const auto& input : g.input()) {
      const ir::ValueId existing = out.find(input.name());
      if (existing != ir::kNoValue) {  // an initializer listed as an input: a default value
        out.inputs.push_back(existing);
        continue;
      }
      out.inputs.push_back(add(out, input.name(), type_of(input.type()), in_graph + "graph input"));
    }
    // Node outputs are created before any input is resolved, so that a file listing nodes out of
    // order still loads (and is sorted below) while a name nothing defines is caught.
    for (int n = 0; n < g.node_size(); ++n) {
      const auto& node = g.node(n);
      for (const auto& name : node.output())
        if (!name.empty()) add(out, name, {}, in_graph + label(node, n) + " output");
    }
    // Declared types of intermediate values and outputs, where the file has them.
    auto declare = [&](const onnx::ValueInfoProto& info) {
      const ir::ValueId id = out.find(info.name());
      if (id != ir::kNoValue && !out.value(id).constant && info.has_type())
        out.value(id).type = type_of(info.type());
    };
    for (const auto& info : g.value_info()) declare(info);
    for (const auto& info : g.output()) declare(info);
    for (int n = 0; n < g.node_size(); ++n)
      out.nodes.push_back(node_of(out, g.node(n), n, opset, depth));
    for (const auto& output : g.output()) {
      const ir::ValueId id = out.find(output.name());
      if (id == ir::kNoValue) {
        if (!nested)
          where_.fail("graph output '" + output.name() + "' is not computed by any node");
        out.outputs.push_back(add(out, output.name(), type_of(output.type()), in_graph + "output"));
        continue;
      }
      out.outputs.push_back(id);
    }
    if (!nested) {
      try {
        ir::sort_topologically(out);
        ir::verify(out);
      } catch (const InputError& e) {
        where_.fail(e.what());
      }
    }
    return out;
  }

 private:
  static std::string label(const onnx::NodeProto& node, int index) {
    if (!node.name().empty()) return "node '" + node.name() + "' (" + node.op_type() + ")";
    return "node #" + std::to_string(index) + " (" + node.op_type() + ")";
  }

  ir::ValueId add(ir::Graph& g, const std::string& name, ir::TensorType type,
                  const std::string& what, ir::HostTensorPtr constant = nullptr) const {
    if (name.empty()) where_.fail(what + " has an empty name");
    if (g.find(name) != ir::kNoValue)
      where_.fail(what + " '" + name + "' reuses a name that is already defined");
    return g.add_value(name, std::move(type), std::move(constant));
  }

  ir::Node node_of(ir::Graph& g, const onnx::NodeProto& node, int index,
                   const std::map<std::string, int64_t>& opset, int depth) const {
    const bool nested = depth > 0;
    ir::Node out;
    out.op = node.op_type();
    out.domain = node.domain() == "ai.onnx" ? "" : node.domain();
    out.name = node.name();
    const std::string ctx = label(node, index);
    if (out.op.empty()) where_.fail(ctx + " has no op_type");
    for (const auto& name : node.input()) {
      if (name.empty()) {
        out.inputs.push_back(ir::kNoValue);
        continue;
      }
      ir::ValueId id = g.find(name);
      if (id == ir::kNoValue) {
        if (!nested)
          where_.fail(ctx + " input '" + name +
                      "' is not a graph input, an initializer or any node's output");
        id = g.add_value(name, {});  // defined by the enclosing graph
      }
      out.inputs.push_back(id);
    }
    for (const auto& name : node.output())
      out.outputs.push_back(name.empty() ? ir::kNoValue : g.find(name));
    for (const auto& attr : node.attribute()) {
      const std::string actx = ctx + " attribute '" + attr.name() + "'";
      if (attr.name().empty()) where_.fail(ctx + " has an attribute without a name");
      if (!attr.ref_attr_name().empty())
        where_.fail(actx + " refers to a function attribute outside a function");
      if (!out.attributes.emplace(attr.name(), attribute_of(attr, actx, opset, depth)).second)
        where_.fail(actx + " is given twice");
    }
    return out;
  }

  ir::AttributeValue attribute_of(const onnx::AttributeProto& a, const std::string& ctx,
                                  const std::map<std::string, int64_t>& opset, int depth) const {
    auto graph = [&](const onnx::GraphProto& sub) {
      return std::make_shared<const ir::Graph>(read(sub, opset, depth + 1));
    };
    auto tensor = [&](const onnx::TensorProto& t) {
      return std::make_shared<const HostTensor>(tensors_.read(t, ctx + " tensor"));
    };
    switch (a.type()) {
      case onnx::AttributeProto::INT:
        return a.i();
      case onnx::AttributeProto::FLOAT:
        return a.f();
      case onnx::AttributeProto::STRING:
        return a.s();
      case onnx::AttributeProto::TENSOR:
        return ir::HostTensorPtr(tensor(a.t()));
      case onnx::AttributeProto::GRAPH:
        return ir::GraphPtr(graph(a.g()));
      case onnx::AttributeProto::INTS:
        return std::vector<int64_t>(a.ints().begin(), a.ints().end());
      case onnx::AttributeProto::FLOATS:
        return std::vector<float>(a.floats().begin(), a.floats().end());
      case onnx::AttributeProto::STRINGS:
        return std::vector<std::string>(a.strings().begin(), a.strings().end());
      case onnx::AttributeProto::TENSORS: {
        std::vector<ir::HostTensorPtr> v;
        for (const auto& t : a.tensors()) v.push_back(tensor(t));
        return v;
      }
      case onnx::AttributeProto::GRAPHS: {
        std::vector<ir::GraphPtr> v;
        for (const auto& g : a.graphs()) v.push_back(graph(g));
        return v;
      }
      default:
        where_.fail(ctx + " has attribute type " + std::to_string(a.type()) +
                    ", which is not supported (sparse tensors, type protos)");
    }
  }

  const Where& where_;
  TensorReader tensors_;
};

ir::Graph model_from(const onnx::ModelProto& model, const Where& where) {
  if (!model.has_graph()) where.fail("the model has no graph (is this an ONNX model file?)");
  std::map<std::string, int64_t> opset;
  for (const auto& imp : model.opset_import()) {
    const std::string domain = imp.domain() == "ai.onnx" ? "" : imp.domain();
    if (imp.version() <= 0)
      where.fail("opset_import for domain '" + imp.domain() + "' has version " +
                 std::to_string(imp.version()) + " (expected >= 1)");
    opset[domain] = imp.version();
  }
  const bool uses_default_domain = std::any_of(
      model.graph().node().begin(), model.graph().node().end(),
      [](const onnx::NodeProto& n) { return n.domain().empty() || n.domain() == "ai.onnx"; });
  if (uses_default_domain && !opset.count(""))
    where.fail("opset_import has no entry for the default ONNX domain (expected e.g. version 13)");
  return GraphReader(where).read(model.graph(), opset, 0);
}

// Sequence and optional values (SequenceProto, OptionalProto), read by the elem_type they give:
// tensors, or sequences and optionals nested in turn. Maps and sparse tensors are refused.
class ContainerReader {
 public:
  explicit ContainerReader(const Where& where) : where_(where), tensors_(where) {}

  HostTensor sequence(const onnx::SequenceProto& s, const std::string& ctx, int depth) const {
    check_depth(ctx, depth);
    HostTensor out;
    out.container = ir::Container::Sequence;
    const int held[] = {s.tensor_values_size(), s.sparse_tensor_values_size(),
                        s.sequence_values_size(), s.map_values_size(), s.optional_values_size()};
    check_elem_type(s.elem_type(), held, ctx);
    for (int i = 0; i < s.tensor_values_size(); ++i)
      out.items.push_back(tensors_.read(s.tensor_values(i), item(ctx, i) + " tensor"));
    for (int i = 0; i < s.sequence_values_size(); ++i)
      out.items.push_back(sequence(s.sequence_values(i), item(ctx, i), depth + 1));
    for (int i = 0; i < s.optional_values_size(); ++i)
      out.items.push_back(optional(s.optional_values(i), item(ctx, i), depth + 1));
    return out;
  }

  HostTensor optional(const onnx::OptionalProto& o, const std::string& ctx, int depth) const {
    check_depth(ctx, depth);
    HostTensor out;
    out.container = ir::Container::Optional;
    const int held[] = {o.has_tensor_value(), o.has_sparse_tensor_value(), o.has_sequence_value(),
                        o.has_map_value(), o.has_optional_value()};
    check_elem_type(o.elem_type(), held, ctx);
    if (o.has_tensor_value()) out.items.push_back(tensors_.read(o.tensor_value(), ctx + " tensor"));
    if (o.has_sequence_value()) out.items.push_back(sequence(o.sequence_value(), ctx, depth + 1));
    if (o.has_optional_value()) out.items.push_back(optional(o.optional_value(), ctx, depth + 1));
    return out;
  }

 private:
  static std::string item(const std::string& ctx, int i) {
    return ctx + " item " + std::to_string(i);
  }

  void check_depth(const std::string& ctx, int depth) const {
    if (depth > kMaxContainerDepth)
      where_.fail(ctx + ": values nested deeper than " + std::to_string(kMaxContainerDepth));
  }

  // `held`: how many values of each kind the message holds, in elem_type's order from TENSOR.
  // Only those of its elem_type may be there, and only kinds the compiler passes through.
  void check_elem_type(int elem_type, const int (&held)[5], const std::string& ctx) const {
    static constexpr const char* kKinds[] = {"tensor", "sparse tensor", "sequence", "map",
                                             "optional"};
    if (elem_type < 0 || elem_type > 5)
      where_.fail(ctx + ": elem_type " + std::to_string(elem_type) +
                  " is not one ONNX defines (expected 0-5)");
    if (elem_type == onnx::SequenceProto::SPARSE_TENSOR || elem_type == onnx::SequenceProto::MAP)
      where_.fail(ctx + ": " + kKinds[elem_type - 1] + " values are not supported");
    for (int kind = 1; kind <= 5; ++kind)
      if (held[kind - 1] > 0 && kind != elem_type)
        where_.fail(ctx + ": holds a " + kKinds[kind - 1] + " value but its elem_type is " +
                    (elem_type == 0 ? std::string("undefined") : kKinds[elem_type - 1]));
  }

  const Where& where_;
  TensorReader tensors_;
};

template <class Proto>
void parse_or_fail(Proto& proto, const void* data, size_t size, const std::string& label,
                   const char* what) {
  if (size > static_cast<size_t>(std::numeric_limits<int>::max()))
    throw InputError(label + ": " + std::to_string(size) +
                     " bytes is beyond protobuf's 2 GiB limit (use external data)");
  if (!proto.ParseFromArray(data, static_cast<int>(size)))
    throw InputError(label + ": not a valid " + what +
                     " (protobuf parsing failed: truncated or corrupt file?)");
}

}  // namespace

ir::Graph load_onnx_model_bytes(const void* data, size_t size, const std::string& label,
                                const std::string& base_dir) {
  onnx::ModelProto model;
  parse_or_fail(model, data, size, label, "ONNX model");
  return model_from(model, Where{label, base_dir});
}

ir::Graph load_onnx_model(const std::string& path) {
  const std::string bytes = read_file(path);
  const std::string dir = fs::path(path).parent_path().string();
  return load_onnx_model_bytes(bytes.data(), bytes.size(), path, dir.empty() ? "." : dir);
}

ir::HostTensor load_onnx_tensor_bytes(const void* data, size_t size, const std::string& label,
                                      std::string* name) {
  onnx::TensorProto proto;
  parse_or_fail(proto, data, size, label, "ONNX TensorProto");
  const Where where{label, ""};
  ir::HostTensor t = TensorReader(where).read(proto, "tensor");
  if (name) *name = proto.name();
  return t;
}

ir::HostTensor load_onnx_tensor(const std::string& path, std::string* name) {
  const std::string bytes = read_file(path);
  return load_onnx_tensor_bytes(bytes.data(), bytes.size(), path, name);
}

ir::HostTensor load_onnx_value_bytes(const void* data, size_t size, const std::string& label,
                                     const ir::TensorType& declared, std::string* name) {
  if (declared.containers.empty()) return load_onnx_tensor_bytes(data, size, label, name);
  const Where where{label, ""};
  const ContainerReader reader(where);
  if (declared.containers.front() == ir::Container::Sequence) {
    onnx::SequenceProto proto;
    parse_or_fail(proto, data, size, label, "ONNX SequenceProto");
    if (name) *name = proto.name();
    return reader.sequence(proto, "sequence '" + proto.name() + "'", 0);
  }
  onnx::OptionalProto proto;
  parse_or_fail(proto, data, size, label, "ONNX OptionalProto");
  if (name) *name = proto.name();
  return reader.optional(proto, "optional '" + proto.name() + "'", 0);
}

ir::HostTensor load_onnx_value(const std::string& path, const ir::TensorType& declared,
                               std::string* name) {
  const std::string bytes = read_file(path);
  return load_onnx_value_bytes(bytes.data(), bytes.size(), path, declared, name);
}

void save_onnx_tensor(const ir::HostTensor& tensor, const std::string& name,
                      const std::string& path) {
  onnx::TensorProto proto;
  proto.set_name(name);
  proto.set_data_type(onnx_type_of(tensor.element));
  for (int64_t d : tensor.dims) proto.add_dims(d);
  if (tensor.element == ElementType::String) {
    for (const std::string& s : tensor.strings) proto.add_string_data(s);
  } else {
    proto.set_raw_data(tensor.bytes.data(), tensor.bytes.size());
  }
  std::ofstream out(path, std::ios::binary);
  if (!out || !proto.SerializeToOstream(&out)) throw InputError(path + ": cannot write tensor");
}

}  // namespace seedchip::compiler::frontend
