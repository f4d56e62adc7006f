#include "compiler/ir/graph.h"

#include <algorithm>
#include <array>
#include <set>
#include <stdexcept>

#include "arch/error.h"

namespace seedchip::compiler::ir {

namespace {

struct ElementInfo {
  ElementType type;
  std::string_view name;
  size_t bytes;
};

constexpr std::array<ElementInfo, 17> kElements = {{
    {ElementType::Undefined, "undefined", 0},
    {ElementType::F32, "f32", 4},
    {ElementType::F64, "f64", 8},
    {ElementType::F16, "f16", 2},
    {ElementType::BF16, "bf16", 2},
    {ElementType::I8, "i8", 1},
    {ElementType::I16, "i16", 2},
    {ElementType::I32, "i32", 4},
    {ElementType::I64, "i64", 8},
    {ElementType::U8, "u8", 1},
    {ElementType::U16, "u16", 2},
    {ElementType::U32, "u32", 4},
    {ElementType::U64, "u64", 8},
    {ElementType::Bool, "bool", 1},
    {ElementType::String, "string", 0},
    {ElementType::C64, "c64", 8},
    {ElementType::C128, "c128", 16},
}};

const ElementInfo& info(ElementType t) {
  for (const ElementInfo& e : kElements)
    if (e.type == t) return e;
  return kElements[0];
}

std::string graph_label(const Graph& g) { return "graph '" + g.name + "'"; }

// The product of dims, or nullopt when one is negative or the product overflows int64.
std::optional<int64_t> checked_product(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return std::nullopt;
  }
  return n;
}

}  // namespace

std::string_view element_name(ElementType t) { return info(t).name; }

std::string_view container_name(Container c) {
  return c == Container::Sequence ? "seq" : "optional";
}

std::string type_text(const TensorType& type) {
  std::string s;
  for (Container c : type.containers) s += std::string(container_name(c)) + "(";
  s += element_name(type.element);
  if (!type.dims) {
    s += "[*]";
  } else {
    s += '[';
    for (size_t i = 0; i < type.dims->size(); ++i) {
      if (i) s += ',';
      s += (*type.dims)[i] == kUnknownDim ? "?" : std::to_string((*type.dims)[i]);
    }
    s += ']';
  }
  return s + std::string(type.containers.size(), ')');
}

std::string type_mismatch(const HostTensor& value, const TensorType& declared) {
  const std::string want = type_text(declared);
  if (!declared.containers.empty()) {
    const Container outer = declared.containers.front();
    if (value.container != outer)
      return "expected " + want + ", the value is not a " + std::string(container_name(outer));
    if (outer == Container::Optional && value.items.size() > 1)
      return "an optional holds at most one value, this one " + std::to_string(value.items.size());
    TensorType inner = declared;
    inner.containers.erase(inner.containers.begin());
    for (size_t i = 0; i < value.items.size(); ++i) {
      const std::string item = type_mismatch(value.items[i], inner);
      if (!item.empty())
        return std::string(container_name(outer)) + " item " + std::to_string(i) + ": " + item;
    }
    return "";
  }
  if (value.container)
    return "expected " + want + ", the value is a " + std::string(container_name(*value.container));
  bool agrees = declared.element == ElementType::Undefined || value.element == declared.element;
  if (declared.dims) {
    agrees &= declared.dims->size() == value.dims.size();
    for (size_t i = 0; agrees && i < value.dims.size(); ++i)
      agrees = (*declared.dims)[i] == kUnknownDim || (*declared.dims)[i] == value.dims[i];
  }
  return agrees ? "" : "expected " + want + ", the value is " + type_text(value.type());
}

std::optional<ElementType> element_from_name(std::string_view name) {
  for (const ElementInfo& e : kElements)
    if (e.name == name) return e.type;
  return std::nullopt;
}

size_t element_bytes(ElementType t) { return info(t).bytes; }

bool TensorType::fully_known() const {
  if (element == ElementType::Undefined || !dims || !containers.empty()) return false;
  return std::none_of(dims->begin(), dims->end(), [](int64_t d) { return d < 0; });
}

int64_t TensorType::element_count() const {
  if (!fully_known()) return -1;
  return checked_product(*dims).value_or(-1);
}

int64_t HostTensor::element_count() const { return checked_product(dims).value_or(-1); }

std::string_view attribute_kind_name(const AttributeValue& v) {
  static constexpr std::array<std::string_view, 10> kNames = {
      "int",  "float",  "string",  "tensor",  "graph",
      "ints", "floats", "strings", "tensors", "graphs"};
  return kNames.at(v.index());
}

std::string Node::label(size_t index) const {
  if (!name.empty()) return "node '" + name + "' (" + op + ")";
  return "node #" + std::to_string(index) + " (" + op + ")";
}

ValueId Graph::add_value(std::string value_name, TensorType type, HostTensorPtr constant) {
  if (by_name_.count(value_name))
    throw std::invalid_argument("value name '" + value_name + "' is already used");
  const auto id = static_cast<ValueId>(values.size());
  by_name_.emplace(value_name, id);
  values.push_back({std::move(value_name), std::move(type), std::move(constant)});
  return id;
}

ValueId Graph::find(std::string_view value_name) const {
  auto it = by_name_.find(value_name);
  return it == by_name_.end() ? kNoValue : it->second;
}

std::string Graph::unique_name(std::string_view base) const {
  std::string candidate(base);
  for (int i = 1; by_name_.count(candidate); ++i)
    candidate = std::string(base) + "_" + std::to_string(i);
  return candidate;
}

int64_t Graph::opset_version(std::string_view domain) const {
  const std::string key = domain == "ai.onnx" ? "" : std::string(domain);
  auto it = opset.find(key);
  return it == opset.end() ? 0 : it->second;
}

std::vector<int> Graph::producers() const {
  std::vector<int> producer(values.size(), -1);
  for (size_t i = 0; i < nodes.size(); ++i)
    for (ValueId out : nodes[i].outputs)
      if (out != kNoValue) producer.at(static_cast<size_t>(out)) = static_cast<int>(i);
  return producer;
}

void Graph::reindex() {
  by_name_.clear();
  for (size_t i = 0; i < values.size(); ++i) {
    if (!by_name_.emplace(values[i].name, static_cast<ValueId>(i)).second)
      throw std::invalid_argument("value name '" + values[i].name + "' is used twice");
  }
}

void verify(const Graph& g) {
  const auto fail = [&](const std::string& what) {
    throw InputError(graph_label(g) + ": " + what);
  };
  const auto valid = [&](ValueId id) {
    return id >= 0 && static_cast<size_t>(id) < g.values.size();
  };
  std::set<std::string_view> names;
  for (const Value& v : g.values) {
    if (!names.insert(v.name).second) fail("tensor name '" + v.name + "' is used twice");
    if (!v.constant) continue;
    const HostTensor& c = *v.constant;
    if (c.type() != v.type)
      fail("constant '" + v.name + "' holds a tensor of another type than declared");
    const int64_t count = c.element_count();
    int64_t bytes = 0;
    const bool sized =
        count >= 0 &&
        !__builtin_mul_overflow(count, static_cast<int64_t>(element_bytes(c.element)), &bytes);
    const bool dense_ok = c.element == ElementType::String
                              ? static_cast<int64_t>(c.strings.size()) == count
                              : static_cast<int64_t>(c.bytes.size()) == bytes;
    if (!sized || !dense_ok)
      fail("constant '" + v.name + "' has a data size that does not match its dims");
  }
  std::vector<bool> defined(g.values.size(), false);
  for (ValueId id : g.inputs) {
    if (!valid(id)) fail("graph input refers to no tensor");
    if (defined[static_cast<size_t>(id)])
      fail("'" + g.value(id).name + "' is listed twice as a graph input");
    defined[static_cast<size_t>(id)] = true;
  }
  for (size_t i = 0; i < g.values.size(); ++i)
    if (g.values[i].constant) defined[i] = true;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    const Node& node = g.nodes[n];
    if (node.op.empty()) fail(node.label(n) + " has no operator name");
    for (ValueId in : node.inputs) {
      if (in == kNoValue) continue;
      if (!valid(in)) fail(node.label(n) + " refers to a tensor that does not exist");
      if (!defined[static_cast<size_t>(in)])
        fail(node.label(n) + " reads '" + g.value(in).name +
             "', which no graph input, constant or earlier node defines");
    }
    for (ValueId out : node.outputs) {
      if (out == kNoValue) continue;
      if (!valid(out)) fail(node.label(n) + " writes a tensor that does not exist");
      if (defined[static_cast<size_t>(out)])
        fail(node.label(n) + " writes '" + g.value(out).name +
             "', which is already defined by an input, a constant or another node");
      defined[static_cast<size_t>(out)] = true;
    }
  }
  for (ValueId out : g.outputs) {
    if (!valid(out)) fail("graph output refers to no tensor");
    if (!defined[static_cast<size_t>(out)])
      fail("graph output '" + g.value(out).name + "' is never computed");
  }
}

void sort_topologically(Graph& g) {
  const size_t n = g.nodes.size();
  std::vector<int> producer(g.values.size(), -1);
  for (size_t i = 0; i < n; ++i) {
    for (ValueId out : g.nodes[i].outputs) {
      if (out == kNoValue) continue;
      int& p = producer.at(static_cast<size_t>(out));
      if (p >= 0)
        throw InputError(graph_label(g) + ": '" + g.value(out).name + "' is written by both " +
                         g.nodes[static_cast<size_t>(p)].label(static_cast<size_t>(p)) + " and " +
                         g.nodes[i].label(i));
      p = static_cast<int>(i);
    }
  }
  std::vector<bool> is_input(g.values.size(), false);
  for (ValueId id : g.inputs) {
    if (id < 0 || static_cast<size_t>(id) >= g.values.size())
      throw InputError(graph_label(g) + ": a graph input refers to no tensor");
    is_input[static_cast<size_t>(id)] = true;
  }
  // Kahn's algorithm, always taking the earliest ready node so a valid order is kept as is.
  std::vector<int> missing(n, 0);
  std::vector<std::vector<size_t>> users(n);
  for (size_t i = 0; i < n; ++i) {
    for (ValueId in : g.nodes[i].inputs) {
      if (in == kNoValue) continue;
      const size_t v = static_cast<size_t>(in);
      if (producer.at(v) >= 0) {
        ++missing[i];
        users[static_cast<size_t>(producer[v])].push_back(i);
      } else if (!is_input[v] && !g.values[v].constant) {
        throw InputError(graph_label(g) + ": " + g.nodes[i].label(i) + " reads '" +
                         g.values[v].name +
                         "', which is not a graph input, an initializer or any node's output");
      }
    }
  }
  std::set<size_t> ready;
  for (size_t i = 0; i < n; ++i)
    if (missing[i] == 0) ready.insert(i);
  std::vector<size_t> order;
  order.reserve(n);
  std::vector<bool> placed(n, false);
  while (!ready.empty()) {
    const size_t i = *ready.begin();
    ready.erase(ready.begin());
    placed[i] = true;
    order.push_back(i);
    for (size_t u : users[i])
      if (--missing[u] == 0) ready.insert(u);
  }
  if (order.size() != n) {
    std::string cycle;
    for (size_t i = 0; i < n && cycle.size() < 400; ++i)
      if (!placed[i]) cycle += (cycle.empty() ? "" : ", ") + g.nodes[i].label(i);
    throw InputError(graph_label(g) +
                     ": the graph has a cycle; these nodes can never run: " + cycle);
  }
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (size_t i : order) sorted.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(sorted);
}

}  // namespace seedchip::compiler::ir
