#include "compiler/passes/infer_shapes.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "arch/error.h"

namespace seedchip::compiler::passes {
namespace {

using ir::ElementType;
using ir::HostTensor;
using ir::HostTensorPtr;
using ir::kNoValue;
using ir::kUnknownDim;
using ir::TensorType;
using ir::ValueId;
using Dims = std::vector<int64_t>;
// The integral contents of a small tensor (a shape, axes, a scalar), entry by entry where known:
// Shape of a tensor whose batch dim is unknown still tells its other dims.
using Ints = std::vector<std::optional<int64_t>>;

constexpr int64_t kUnknown = kUnknownDim;
// Tensors with more elements are data rather than shapes or parameters; not followed.
constexpr int64_t kMaxTracked = 64;

std::string str(int64_t v) { return std::to_string(v); }

std::string dims_text(const std::optional<Dims>& dims) {
  if (!dims) return "[*]";
  std::string s = "[";
  for (size_t i = 0; i < dims->size(); ++i)
    s += (i ? "," : "") + ((*dims)[i] == kUnknown ? std::string("?") : str((*dims)[i]));
  return s + "]";
}

std::string ints_text(const Ints& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + (v[i] ? str(*v[i]) : "?");
  return s + "]";
}

Ints to_ints(const Dims& d) { return Ints(d.begin(), d.end()); }

std::optional<Dims> all_known(const Ints& v) {
  Dims out;
  for (const auto& e : v) {
    if (!e) return std::nullopt;
    out.push_back(*e);
  }
  return out;
}

bool is_int_index(ElementType e) { return e == ElementType::I32 || e == ElementType::I64; }

// ONNX TensorProto.DataType numbers, as Cast's `to` and the dtype attributes give them.
std::optional<ElementType> element_from_onnx(int64_t code) {
  static constexpr std::array<ElementType, 17> kByCode = {
      ElementType::Undefined, ElementType::F32,  ElementType::U8,  ElementType::I8,
      ElementType::U16,       ElementType::I16,  ElementType::I32, ElementType::I64,
      ElementType::String,    ElementType::Bool, ElementType::F16, ElementType::F64,
      ElementType::U32,       ElementType::U64,  ElementType::C64, ElementType::C128,
      ElementType::BF16};
  if (code < 1 || code >= static_cast<int64_t>(kByCode.size())) return std::nullopt;
  return kByCode[static_cast<size_t>(code)];
}

// The number of elements of `dims`, or nullopt when a dim is negative or the product overflows.
std::optional<int64_t> checked_count(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    if (d < 0 || __builtin_mul_overflow(n, d, &n)) return std::nullopt;
  return n;
}

uint64_t load_le(const uint8_t* p, size_t width) {
  uint64_t v = 0;
  for (size_t i = 0; i < width; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

// The raw little-endian elements of a small dense tensor, or nullopt when it is large, not dense,
// or its bytes do not match its dims.
std::optional<std::vector<uint64_t>> raw_elements(const HostTensor& t) {
  const std::optional<int64_t> count = checked_count(t.dims);
  const size_t width = ir::element_bytes(t.element);
  if (!count || *count > kMaxTracked || width == 0 || width > 8 ||
      t.bytes.size() != static_cast<size_t>(*count) * width)
    return std::nullopt;
  std::vector<uint64_t> out;
  for (size_t i = 0; i < static_cast<size_t>(*count); ++i)
    out.push_back(load_le(t.bytes.data() + i * width, width));
  return out;
}

std::optional<std::vector<double>> numbers_of(const HostTensor& t) {
  const auto raw = raw_elements(t);
  if (!raw) return std::nullopt;
  std::vector<double> out;
  for (uint64_t r : *raw) {
    switch (t.element) {
      case ElementType::F32:
        out.push_back(std::bit_cast<float>(static_cast<uint32_t>(r)));
        break;
      case ElementType::F64:
        out.push_back(std::bit_cast<double>(r));
        break;
      case ElementType::I8:
        out.push_back(static_cast<int8_t>(r));
        break;
      case ElementType::I16:
        out.push_back(static_cast<int16_t>(r));
        break;
      case ElementType::I32:
        out.push_back(static_cast<int32_t>(r));
        break;
      case ElementType::I64:
        out.push_back(static_cast<double>(static_cast<int64_t>(r)));
        break;
      case ElementType::U8:
      case ElementType::U16:
      case ElementType::U32:
      case ElementType::U64:
      case ElementType::Bool:
        out.push_back(static_cast<double>(r));
        break;
      default:  // 16-bit floats and complex numbers never size a tensor
        return std::nullopt;
    }
  }
  return out;
}

// Float tensors count too: the expansions of ONNX functions compute sizes in f32 (a window's
// length through Cast and Range), and their integral values are exact.
bool tracks_contents(ElementType e) {
  return is_int_index(e) || e == ElementType::F32 || e == ElementType::F64;
}

// Whether `e` holds `v` exactly.
bool exact_in(ElementType e, int64_t v) {
  const int64_t limit = e == ElementType::F32   ? int64_t{1} << 24
                        : e == ElementType::F64 ? int64_t{1} << 53
                        : e == ElementType::I32 ? std::numeric_limits<int32_t>::max()
                                                : std::numeric_limits<int64_t>::max();
  return v >= -limit && v <= limit;
}

std::optional<Ints> ints_of(const HostTensor& t) {
  if (!tracks_contents(t.element) || t.dims.size() > 1) return std::nullopt;
  const auto raw = raw_elements(t);
  if (!raw) return std::nullopt;
  Ints out;
  if (is_int_index(t.element)) {
    for (uint64_t r : *raw)
      out.emplace_back(t.element == ElementType::I32
                           ? static_cast<int32_t>(static_cast<uint32_t>(r))
                           : static_cast<int64_t>(r));
    return out;
  }
  const auto numbers = numbers_of(t);  // a named optional: *temporary would dangle in the loop
  if (!numbers) return std::nullopt;
  for (double v : *numbers) {
    const bool integral = std::floor(v) == v && std::abs(v) <= 0x1p53;
    out.push_back(integral ? std::optional<int64_t>(static_cast<int64_t>(v)) : std::nullopt);
  }
  return out;
}

template <class T>
HostTensorPtr tensor_of(ElementType element, Dims dims, const std::vector<T>& values) {
  auto t = std::make_shared<HostTensor>();
  t->element = element;
  t->dims = std::move(dims);
  for (T v : values) {
    uint64_t bits = 0;
    if constexpr (std::is_same_v<T, float>)
      bits = std::bit_cast<uint32_t>(v);
    else
      bits = static_cast<uint64_t>(v);
    for (size_t i = 0; i < sizeof(T); ++i)
      t->bytes.push_back(static_cast<uint8_t>(bits >> (8 * i)));
  }
  return t;
}

// The elements a slice takes from a dim of `size`: the first index and how many, with ONNX's
// clamping of out-of-range starts and ends.
std::pair<int64_t, int64_t> slice_range(int64_t start, int64_t end, int64_t step, int64_t size) {
  if (start < 0) start += size;
  if (end < 0) end += size;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, size);
    end = std::clamp<int64_t>(end, 0, size);
    return {start, end <= start ? 0 : (end - start - 1) / step + 1};
  }
  if (size == 0) return {0, 0};
  start = std::clamp<int64_t>(start, 0, size - 1);
  end = std::clamp<int64_t>(end, -1, size - 1);
  if (start <= end) return {start, 0};
  // -step may not fit in int64 (INT64_MIN reverses with a single element).
  const uint64_t magnitude = static_cast<uint64_t>(-(step + 1)) + 1;
  return {start, static_cast<int64_t>((static_cast<uint64_t>(start - end) - 1) / magnitude + 1)};
}

// A list of ints given as an attribute (older opsets) or as an input (newer ones).
struct IntsArg {
  bool given = false;
  std::optional<Dims> values;  // nullopt when an input whose value is not known here gives it
};

// An operand of broadcasting, named for messages.
struct Shaped {
  std::string what;
  std::optional<Dims> dims;
};

class Inference;

// What one node's rule sees and produces.
class NodeInference {
 public:
  NodeInference(const Inference& pass, const ir::Graph& graph, const ir::Node& node,
                std::string label)
      : node(node),
        label(std::move(label)),
        out(node.outputs.size()),
        out_contents(node.outputs.size()),
        pass_(pass),
        graph_(graph) {}

  const ir::Node& node;
  const std::string label;
  std::vector<TensorType> out;
  std::vector<std::optional<Ints>> out_contents;
  HostTensorPtr out_tensor;  // a Constant node's value

  [[noreturn]] void fail(const std::string& what) const { throw InputError(label + ": " + what); }

  int64_t opset() const;

  bool has(size_t i) const { return i < node.inputs.size() && node.inputs[i] != kNoValue; }
  size_t inputs() const { return node.inputs.size(); }
  const TensorType& type(size_t i) const {
    static const TensorType kNone;
    return has(i) ? graph_.value(node.inputs[i]).type : kNone;
  }
  ElementType element(size_t i) const { return type(i).element; }
  const std::optional<Dims>& dims(size_t i) const { return type(i).dims; }
  std::optional<size_t> rank(size_t i) const {
    return dims(i) ? std::optional<size_t>(dims(i)->size()) : std::nullopt;
  }
  std::string name(size_t i) const { return "'" + graph_.value(node.inputs[i]).name + "'"; }
  std::string describe(size_t i) const { return name(i) + " " + type_text(type(i)); }
  Shaped operand(size_t i) const { return {name(i), dims(i)}; }

  void need(size_t count) const {
    for (size_t i = 0; i < count; ++i)
      if (!has(i))
        fail("input " + str(static_cast<int64_t>(i)) + " is required but " +
             (i < inputs() ? "omitted" : "missing"));
  }
  std::vector<size_t> present() const {
    std::vector<size_t> v;
    for (size_t i = 0; i < inputs(); ++i)
      if (has(i)) v.push_back(i);
    return v;
  }

  // Input contents, when known here (constants, and what shapes computed).
  std::optional<Ints> contents(size_t i) const;
  std::optional<Dims> known_ints(size_t i) const {
    auto c = contents(i);
    return c ? all_known(*c) : std::nullopt;
  }
  std::optional<std::vector<double>> numbers(size_t i) const;
  std::optional<double> scalar_number(size_t i) const {
    auto v = numbers(i);
    return v && v->size() == 1 ? std::optional<double>((*v)[0]) : std::nullopt;
  }
  IntsArg ints_arg(size_t input, const std::string& attribute) const {
    if (has(input)) return {true, known_ints(input)};
    if (const auto* v = attr<std::vector<int64_t>>(attribute, "ints")) return {true, *v};
    return {};
  }

  template <class T>
  const T* attr(const std::string& key, std::string_view kind) const {
    auto it = node.attributes.find(key);
    if (it == node.attributes.end()) return nullptr;
    if (const T* v = std::get_if<T>(&it->second)) return v;
    fail("attribute '" + key + "' is of kind " + std::string(ir::attribute_kind_name(it->second)) +
         "; expected " + std::string(kind));
  }
  int64_t int_attr(const std::string& key, int64_t fallback) const {
    const int64_t* v = attr<int64_t>(key, "int");
    return v ? *v : fallback;
  }
  std::string string_attr(const std::string& key, const std::string& fallback) const {
    const std::string* v = attr<std::string>(key, "string");
    return v ? *v : fallback;
  }
  // An int list attribute of exactly `size` values >= `min`, or `size` copies of `fallback`.
  Dims ints_attr(const std::string& key, size_t size, int64_t fallback, int64_t min) const {
    const auto* v = attr<std::vector<int64_t>>(key, "ints");
    if (!v) return Dims(size, fallback);
    if (v->size() != size)
      fail("attribute '" + key + "' has " + str(static_cast<int64_t>(v->size())) +
           " values; expected " + str(static_cast<int64_t>(size)));
    for (int64_t x : *v)
      if (x < min)
        fail("attribute '" + key + "' holds " + str(x) + " (expected >= " + str(min) + ")");
    return *v;
  }
  ElementType element_attr(const std::string& key, ElementType fallback) const {
    const int64_t* code = attr<int64_t>(key, "int");
    if (!code) return fallback;
    if (auto e = element_from_onnx(*code)) return *e;
    // Newer ONNX types (float8, int4) are valid but have no IR element type.
    if (*code > 16) return ElementType::Undefined;
    fail("attribute '" + key + "' is " + str(*code) + ", which is not an ONNX data type");
  }

  // `a` in [-rank, rank) as an index.
  size_t axis(int64_t a, size_t rank, const std::string& what = "axis") const {
    const auto r = static_cast<int64_t>(rank);
    if (a < -r || a >= r)
      fail(what + " " + str(a) + " is out of range for rank " + str(r) + " (expected [" + str(-r) +
           ", " + str(r) + "))");
    return static_cast<size_t>(a < 0 ? a + r : a);
  }

  int64_t mul(int64_t a, int64_t b) const {
    if (a == 0 || b == 0) return 0;
    if (a < 0 || b < 0) return kUnknown;
    int64_t r = 0;
    if (__builtin_mul_overflow(a, b, &r))
      fail("dims multiply beyond 2^63 (" + str(a) + " x " + str(b) + ")");
    return r;
  }
  int64_t add(int64_t a, int64_t b) const {
    if (a < 0 || b < 0) return kUnknown;
    int64_t r = 0;
    if (__builtin_add_overflow(a, b, &r))
      fail("dims add up beyond 2^63 (" + str(a) + " + " + str(b) + ")");
    return r;
  }
  int64_t product(const Dims& d, size_t begin, size_t end) const {
    int64_t p = 1;
    for (size_t i = begin; i < end; ++i) p = mul(p, d[i]);
    return p;
  }

  // NumPy multidirectional broadcasting. A dim of unknown size against 1 stays unknown; against
  // n > 1 it is n, the only size that goes together.
  std::optional<Dims> broadcast(const std::vector<Shaped>& operands) const {
    size_t rank = 0;
    for (const Shaped& o : operands) {
      if (!o.dims) return std::nullopt;
      rank = std::max(rank, o.dims->size());
    }
    Dims result(rank);
    for (size_t k = 0; k < rank; ++k) {
      const Shaped* setter = nullptr;
      bool unknown = false;
      for (const Shaped& o : operands) {
        const size_t r = o.dims->size();
        if (k >= r) continue;
        const int64_t d = (*o.dims)[r - 1 - k];
        if (d == kUnknown) {
          unknown = true;
        } else if (d != 1) {
          if (setter && (*setter->dims)[setter->dims->size() - 1 - k] != d)
            fail("cannot broadcast " + setter->what + " " + dims_text(setter->dims) + " with " +
                 o.what + " " + dims_text(o.dims));
          setter = &o;
        }
      }
      result[rank - 1 - k] =
          setter ? (*setter->dims)[setter->dims->size() - 1 - k] : (unknown ? kUnknown : 1);
    }
    return result;
  }
  std::optional<Dims> broadcast_inputs(const std::vector<size_t>& indices) const {
    std::vector<Shaped> operands;
    for (size_t i : indices) operands.push_back(operand(i));
    return broadcast(operands);
  }

  // The element type the inputs share, failing when two known ones differ.
  ElementType common_element(const std::vector<size_t>& indices) const {
    ElementType e = ElementType::Undefined;
    size_t first = 0;
    for (size_t i : indices) {
      if (!has(i) || element(i) == ElementType::Undefined) continue;
      if (e == ElementType::Undefined) {
        e = element(i);
        first = i;
      } else if (element(i) != e) {
        fail("inputs " + describe(first) + " and " + describe(i) +
             " must have the same element type");
      }
    }
    return e;
  }

  void set(size_t k, TensorType t) {
    if (k < out.size()) out[k] = std::move(t);
  }
  void set(size_t k, ElementType e, std::optional<Dims> d) { set(k, TensorType{e, std::move(d)}); }

 private:
  const Inference& pass_;
  const ir::Graph& graph_;
};

// The pass over one graph: the state that outlives a node.
class Inference {
 public:
  explicit Inference(ir::Graph& graph)
      : graph_(graph),
        overridable_(graph.values.size(), false),
        contents_(graph.values.size()),
        constants_(graph.values.size()) {
    for (ValueId id : graph.inputs)
      if (id >= 0 && static_cast<size_t>(id) < graph.values.size())
        overridable_[static_cast<size_t>(id)] = true;
    opset_ = graph.opset_version("");
    // A graph built in code without an opset import gets the newest semantics.
    if (opset_ == 0) opset_ = std::numeric_limits<int64_t>::max();
  }

  int64_t opset() const { return opset_; }

  const HostTensor* tensor(ValueId id) const {
    const auto i = static_cast<size_t>(id);
    if (overridable_.at(i)) return nullptr;
    if (graph_.values[i].constant) return graph_.values[i].constant.get();
    return constants_[i].get();
  }
  std::optional<Ints> contents(ValueId id) const {
    const auto i = static_cast<size_t>(id);
    if (contents_.at(i)) return contents_[i];
    const HostTensor* t = tensor(id);
    return t ? ints_of(*t) : std::nullopt;
  }

  void run(size_t index);

 private:
  void refine(ValueId id, const TensorType& inferred, const std::string& label);
  void record(ValueId id, const std::optional<Ints>& c, const HostTensorPtr& t);

  ir::Graph& graph_;
  std::vector<bool> overridable_;
  std::vector<std::optional<Ints>> contents_;
  std::vector<HostTensorPtr> constants_;  // values of Constant nodes
  int64_t opset_ = 0;
};

int64_t NodeInference::opset() const { return pass_.opset(); }

std::optional<Ints> NodeInference::contents(size_t i) const {
  return has(i) ? pass_.contents(node.inputs[i]) : std::nullopt;
}

std::optional<std::vector<double>> NodeInference::numbers(size_t i) const {
  const HostTensor* t = has(i) ? pass_.tensor(node.inputs[i]) : nullptr;
  if (t) return numbers_of(*t);
  auto c = known_ints(i);
  return c ? std::optional<std::vector<double>>(std::vector<double>(c->begin(), c->end()))
           : std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Elementwise

void same_as_input(NodeInference& n) {
  n.need(1);
  n.set(0, n.type(0));
}

void softmax(NodeInference& n) {
  n.need(1);
  if (auto r = n.rank(0)) n.axis(n.int_attr("axis", n.opset() >= 13 ? -1 : 1), *r);
  n.set(0, n.type(0));
}

void to_bool(NodeInference& n) {
  n.need(1);
  n.set(0, ElementType::Bool, n.dims(0));
}

void dropout(NodeInference& n) {
  n.need(1);
  n.set(0, n.type(0));
  n.set(1, n.opset() >= 10 ? ElementType::Bool : n.element(0), n.dims(0));
}

void cast(NodeInference& n) {
  n.need(1);
  if (!n.node.attributes.count("to")) n.fail("has no 'to' attribute");
  n.set(0, n.element_attr("to", ElementType::Undefined), n.dims(0));
}

void cast_like(NodeInference& n) {
  n.need(2);
  n.set(0, n.element(1), n.dims(0));
}

// Bernoulli, RandomNormalLike, RandomUniformLike: the input's shape, `dtype` or its element type.
void like_input(NodeInference& n) {
  n.need(1);
  n.set(0, n.element_attr("dtype", n.element(0)), n.dims(0));
}

void eye_like(NodeInference& n) {
  n.need(1);
  if (n.rank(0) && *n.rank(0) != 2) n.fail("input " + n.describe(0) + " must be 2-D");
  n.set(0, n.element_attr("dtype", n.element(0)), n.dims(0));
}

void random_tensor(NodeInference& n) {
  const auto* shape = n.attr<std::vector<int64_t>>("shape", "ints");
  if (!shape) n.fail("has no 'shape' attribute");
  for (int64_t d : *shape)
    if (d < 0) n.fail("attribute 'shape' holds " + str(d));
  n.set(0, n.element_attr("dtype", ElementType::F32), *shape);
}

// Opsets before 7 broadcast only the second operand, to the first's shape.
std::optional<Dims> elementwise_dims(const NodeInference& n, const std::vector<size_t>& inputs) {
  if (n.opset() < 7) return n.dims(0);
  return n.broadcast_inputs(inputs);
}

void binary(NodeInference& n) {
  n.need(2);
  n.set(0, n.common_element({0, 1}), elementwise_dims(n, {0, 1}));
}

void variadic(NodeInference& n) {
  n.need(1);
  const auto all = n.present();
  n.set(0, n.common_element(all), elementwise_dims(n, all));
}

void compare(NodeInference& n) {
  n.need(2);
  n.common_element({0, 1});
  n.set(0, ElementType::Bool, elementwise_dims(n, {0, 1}));
}

void power(NodeInference& n) {
  n.need(2);
  n.set(0, n.element(0), elementwise_dims(n, {0, 1}));
}

void where(NodeInference& n) {
  n.need(3);
  n.set(0, n.common_element({1, 2}), n.broadcast_inputs({0, 1, 2}));
}

// ---------------------------------------------------------------------------------------------
// Matrix products

// NumPy's matmul: a 1-D operand gains a dim of 1 that the result loses; batch dims broadcast.
std::optional<Dims> matmul_dims(const NodeInference& n, size_t a, size_t b) {
  if (!n.dims(a) || !n.dims(b)) return std::nullopt;
  Dims x = *n.dims(a), y = *n.dims(b);
  if (x.empty() || y.empty())
    n.fail("operands must have rank >= 1: " + n.describe(a) + " times " + n.describe(b));
  const bool x_vector = x.size() == 1, y_vector = y.size() == 1;
  if (x_vector) x.insert(x.begin(), 1);
  if (y_vector) y.push_back(1);
  const int64_t k1 = x.back(), k2 = y[y.size() - 2];
  if (k1 >= 0 && k2 >= 0 && k1 != k2)
    n.fail("inner dims " + str(k1) + " vs " + str(k2) + ": " + n.describe(a) + " times " +
           n.describe(b));
  Dims out = *n.broadcast(
      {{n.name(a), Dims(x.begin(), x.end() - 2)}, {n.name(b), Dims(y.begin(), y.end() - 2)}});
  if (!x_vector) out.push_back(x[x.size() - 2]);
  if (!y_vector) out.push_back(y.back());
  return out;
}

// Besides ONNX's same-type operands, SeedChip takes f32 activations times bf16 weights (or a bf16
// KV cache), accumulated and returned in f32: the form of an LLM's step graph (llm/).
void matmul(NodeInference& n) {
  n.need(2);
  const bool f32_times_bf16 = n.element(0) == ElementType::F32 && n.element(1) == ElementType::BF16;
  n.set(0, f32_times_bf16 ? ElementType::F32 : n.common_element({0, 1}), matmul_dims(n, 0, 1));
}

// seedchip::Attention(Q, K, V, mask inputs) (passes/fuse.h): softmax(Q K) V, K stored
// [..., head_dim, context], V read through v_perm when given; f32 [batch..., rows, V's head_dim]
// with the batch dims broadcast.
void attention(NodeInference& n) {
  n.need(3);
  if (n.element(0) != ElementType::F32) n.fail("Q must be f32: " + n.describe(0));
  const std::optional<Dims> scores = matmul_dims(n, 0, 1);
  std::optional<Dims> out;
  if (scores && n.dims(2)) {
    Dims v = *n.dims(2);
    if (const auto* perm = n.attr<std::vector<int64_t>>("v_perm", "ints")) {
      if (perm->size() != v.size()) n.fail("v_perm does not match V's rank: " + n.describe(2));
      Dims permuted;
      for (int64_t axis : *perm) {
        if (axis < 0 || axis >= static_cast<int64_t>(v.size())) n.fail("v_perm is out of range");
        permuted.push_back(v[static_cast<size_t>(axis)]);
      }
      v = permuted;
    }
    if (v.size() < 2 || scores->size() < 2) n.fail("K and V must have rank >= 2");
    const int64_t context = scores->back(), rows = v[v.size() - 2];
    if (context >= 0 && rows >= 0 && context != rows)
      n.fail("K's context " + str(context) + " vs V's " + str(rows) + ": " + n.describe(1) + ", " +
             n.describe(2));
    Dims batch = *n.broadcast({{"scores", Dims(scores->begin(), scores->end() - 2)},
                               {n.name(2), Dims(v.begin(), v.end() - 2)}});
    batch.insert(batch.end(), {(*scores)[scores->size() - 2], v.back()});
    out = batch;
  }
  n.set(0, ElementType::F32, out);
}

void matmul_integer(NodeInference& n) {
  n.need(2);
  n.set(0, ElementType::I32, matmul_dims(n, 0, 1));
}

void qlinear_matmul(NodeInference& n) {
  n.need(8);
  n.set(0, n.element(7), matmul_dims(n, 0, 3));
}

void gemm(NodeInference& n) {
  n.need(2);
  const ElementType e = n.common_element({0, 1, 2});
  for (size_t i : {0, 1})
    if (n.rank(i) && *n.rank(i) != 2) n.fail("input " + n.describe(i) + " must be 2-D");
  const bool ta = n.int_attr("transA", 0) != 0, tb = n.int_attr("transB", 0) != 0;
  int64_t m = kUnknown, k1 = kUnknown, k2 = kUnknown, cols = kUnknown;
  if (const auto& a = n.dims(0)) {
    m = (*a)[ta ? 1 : 0];
    k1 = (*a)[ta ? 0 : 1];
  }
  if (const auto& b = n.dims(1)) {
    k2 = (*b)[tb ? 1 : 0];
    cols = (*b)[tb ? 0 : 1];
  }
  if (k1 >= 0 && k2 >= 0 && k1 != k2)
    n.fail("inner dims " + str(k1) + " vs " + str(k2) + " (transA " + str(ta) + ", transB " +
           str(tb) + "): " + n.describe(0) + " times " + n.describe(1));
  n.set(0, e, Dims{m, cols});
}

void einsum(NodeInference& n) {
  const std::string* equation = n.attr<std::string>("equation", "string");
  if (!equation) n.fail("has no 'equation' attribute");
  // Terms with "..." as '.', blanks dropped.
  std::string eq;
  for (size_t i = 0; i < equation->size(); ++i) {
    const char c = (*equation)[i];
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (c == '.') {
      if (equation->compare(i, 3, "...") != 0)
        n.fail("equation '" + *equation + "' has a '.' outside an ellipsis");
      i += 2;
    }
    eq += c;
  }
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  std::vector<std::string> terms(1);
  for (char c : lhs) {
    if (c == ',')
      terms.emplace_back();
    else
      terms.back() += c;
  }
  const auto bad = [&](const std::string& what) {
    n.fail("equation '" + *equation + "': " + what);
  };
  if (terms.size() != n.inputs()) {
    bad("has " + str(static_cast<int64_t>(terms.size())) + " operands but the node has " +
        str(static_cast<int64_t>(n.inputs())) + " inputs");
  }
  n.need(terms.size());
  std::map<char, int64_t> size;
  std::map<char, int> count;
  std::vector<Shaped> ellipsis_dims;
  bool ellipsis_rank_unknown = false, has_ellipsis = false;
  for (size_t t = 0; t < terms.size(); ++t) {
    const std::string& term = terms[t];
    const auto dots = std::count(term.begin(), term.end(), '.');
    if (dots > 1) bad("operand " + str(static_cast<int64_t>(t)) + " has two ellipses");
    has_ellipsis |= dots == 1;
    for (char c : term) {
      if (c == '.') continue;
      if (!std::isalpha(static_cast<unsigned char>(c)))
        bad(std::string("'") + c + "' is not a letter");
      ++count[c];
      size.try_emplace(c, kUnknown);
    }
    const auto& d = n.dims(t);
    if (!d) {
      ellipsis_rank_unknown |= dots == 1;
      continue;
    }
    const size_t letters = term.size() - static_cast<size_t>(dots);
    if (dots ? d->size() < letters : d->size() != letters)
      bad("operand " + n.describe(t) + " does not have the rank of '" + term + "'");
    const size_t ellipsis_rank = d->size() - letters;
    size_t pos = 0;
    for (char c : term) {
      if (c == '.') {
        ellipsis_dims.push_back(
            {n.name(t), Dims(d->begin() + static_cast<ptrdiff_t>(pos),
                             d->begin() + static_cast<ptrdiff_t>(pos + ellipsis_rank))});
        pos += ellipsis_rank;
        continue;
      }
      const int64_t dim = (*d)[pos++];
      int64_t& known = size[c];
      if (dim == kUnknown) continue;
      if (known != kUnknown && known != dim)
        bad("'" + std::string(1, c) + "' is " + str(known) + " in one place and " + str(dim) +
            " in " + n.describe(t));
      known = dim;
    }
  }
  const std::optional<Dims> ellipsis =
      ellipsis_rank_unknown ? std::nullopt : n.broadcast(ellipsis_dims);
  std::optional<Dims> out = Dims{};
  const auto add_ellipsis = [&] {
    if (!ellipsis || !out)
      out.reset();
    else
      out->insert(out->end(), ellipsis->begin(), ellipsis->end());
  };
  if (arrow != std::string::npos) {
    for (char c : eq.substr(arrow + 2)) {
      if (c == '.') {
        add_ellipsis();
        continue;
      }
      if (!size.count(c)) bad("output letter '" + std::string(1, c) + "' is in no operand");
      if (out) out->push_back(size[c]);
    }
  } else {
    // Implicit output: the broadcast ellipsis dims, then letters used once, in ASCII order.
    if (has_ellipsis) add_ellipsis();
    for (const auto& [c, uses] : count)
      if (uses == 1 && out) out->push_back(size[c]);
  }
  n.set(0, n.element(0), out);
}

// ---------------------------------------------------------------------------------------------
// Convolution and pooling

struct Window {
  Dims kernel, strides, dilations, pads;  // pads: all begins, then all ends
  std::string auto_pad;
};

Window window(const NodeInference& n, size_t spatial, const std::optional<Dims>& weight_kernel) {
  Window w;
  if (n.node.attributes.count("kernel_shape"))
    w.kernel = n.ints_attr("kernel_shape", spatial, 1, 1);
  else if (weight_kernel)
    w.kernel = *weight_kernel;
  else
    n.fail("has no 'kernel_shape' attribute");
  w.strides = n.ints_attr("strides", spatial, 1, 1);
  w.dilations = n.ints_attr("dilations", spatial, 1, 1);
  w.pads = n.ints_attr("pads", 2 * spatial, 0, 0);
  w.auto_pad = n.string_attr("auto_pad", "NOTSET");
  if (w.auto_pad != "NOTSET" && w.auto_pad != "VALID" && w.auto_pad != "SAME_UPPER" &&
      w.auto_pad != "SAME_LOWER")
    n.fail("attribute 'auto_pad' is '" + w.auto_pad +
           "' (expected NOTSET, VALID, SAME_UPPER or SAME_LOWER)");
  return w;
}

bool same_padding(const Window& w) { return w.auto_pad.rfind("SAME", 0) == 0; }

int64_t dilated(const NodeInference& n, const Window& w, size_t i) {
  if (w.kernel[i] < 0) return kUnknown;
  return n.add(n.mul(w.kernel[i] - 1, w.dilations[i]), 1);
}

// The output size of a sliding window over spatial dim `i` of size `in`.
int64_t window_output(const NodeInference& n, const Window& w, size_t i, int64_t in,
                      bool ceil_mode) {
  const int64_t k = dilated(n, w, i), s = w.strides[i];
  if (in < 0) return kUnknown;
  if (same_padding(w)) return in / s + (in % s != 0);
  if (k < 0) return kUnknown;
  const size_t spatial = w.strides.size();
  const int64_t begin = w.auto_pad == "VALID" ? 0 : w.pads[i];
  const int64_t padded = n.add(n.add(in, begin), w.auto_pad == "VALID" ? 0 : w.pads[i + spatial]);
  if (padded < k)
    n.fail("spatial dim " + str(static_cast<int64_t>(i)) + ": the input (" + str(in) +
           ", padded to " + str(padded) + ") is smaller than the kernel (" + str(k) +
           " after dilation)");
  int64_t out = (padded - k) / s + 1;
  if (ceil_mode && (padded - k) % s != 0) {
    ++out;
    // A last window that would start in the end padding is dropped (as PyTorch and ONNX do).
    if ((out - 1) * s >= in + begin) --out;
  }
  return out;
}

void conv_like(NodeInference& n, size_t x, size_t w, ElementType e) {
  const auto &xd = n.dims(x), &wd = n.dims(w);
  if (xd && wd && xd->size() != wd->size())
    n.fail("input " + n.describe(x) + " and weights " + n.describe(w) + " differ in rank");
  const std::optional<size_t> rank = xd ? n.rank(x) : n.rank(w);
  if (!rank) return n.set(0, e, std::nullopt);
  if (*rank < 3) n.fail("input " + n.describe(x) + " needs a batch, a channel and spatial dims");
  const size_t spatial = *rank - 2;
  const int64_t group = n.int_attr("group", 1);
  if (group < 1) n.fail("attribute 'group' is " + str(group));
  const Dims weight_kernel = wd ? Dims(wd->begin() + 2, wd->end()) : Dims(spatial, kUnknown);
  const Window win = window(n, spatial, weight_kernel);
  if (xd && wd && (*xd)[1] >= 0 && (*wd)[1] >= 0 && (*xd)[1] != n.mul((*wd)[1], group))
    n.fail("input " + n.describe(x) + " has " + str((*xd)[1]) + " channels but weights " +
           n.describe(w) + " take " + str((*wd)[1]) + " x group " + str(group));
  if (wd && (*wd)[0] >= 0 && (*wd)[0] % group != 0)
    n.fail("weights " + n.describe(w) + " have " + str((*wd)[0]) +
           " output channels, not a multiple of group " + str(group));
  Dims out(*rank, kUnknown);
  if (xd) out[0] = (*xd)[0];
  if (wd) out[1] = (*wd)[0];
  for (size_t i = 0; i < spatial; ++i)
    out[2 + i] = xd ? window_output(n, win, i, (*xd)[2 + i], false) : kUnknown;
  n.set(0, e, out);
}

void conv(NodeInference& n) {
  n.need(2);
  conv_like(n, 0, 1, n.common_element({0, 1}));
}

void conv_integer(NodeInference& n) {
  n.need(2);
  conv_like(n, 0, 1, ElementType::I32);
}

void qlinear_conv(NodeInference& n) {
  n.need(8);
  conv_like(n, 0, 3, n.element(7));
}

void conv_transpose(NodeInference& n) {
  n.need(2);
  const ElementType e = n.common_element({0, 1});
  const auto &xd = n.dims(0), &wd = n.dims(1);
  if (xd && wd && xd->size() != wd->size())
    n.fail("input " + n.describe(0) + " and weights " + n.describe(1) + " differ in rank");
  const std::optional<size_t> rank = xd ? n.rank(0) : n.rank(1);
  if (!rank) return n.set(0, e, std::nullopt);
  if (*rank < 3) n.fail("input " + n.describe(0) + " needs a batch, a channel and spatial dims");
  const size_t spatial = *rank - 2;
  const int64_t group = n.int_attr("group", 1);
  if (group < 1) n.fail("attribute 'group' is " + str(group));
  const Dims weight_kernel = wd ? Dims(wd->begin() + 2, wd->end()) : Dims(spatial, kUnknown);
  const Window win = window(n, spatial, weight_kernel);
  const Dims output_padding = n.ints_attr("output_padding", spatial, 0, 0);
  if (xd && wd && (*xd)[1] >= 0 && (*wd)[0] >= 0 && (*xd)[1] != (*wd)[0])
    n.fail("input " + n.describe(0) + " has " + str((*xd)[1]) + " channels but weights " +
           n.describe(1) + " take " + str((*wd)[0]));
  std::optional<Dims> output_shape;
  if (const auto* v = n.attr<std::vector<int64_t>>("output_shape", "ints")) {
    // Spatial dims; some exporters write the whole shape.
    if (v->size() == spatial)
      output_shape = *v;
    else if (v->size() == *rank)
      output_shape = Dims(v->begin() + 2, v->end());
    else
      n.fail("attribute 'output_shape' has " + str(static_cast<int64_t>(v->size())) +
             " values for " + str(static_cast<int64_t>(spatial)) + " spatial dims");
    for (int64_t d : *output_shape)
      if (d < 0) n.fail("attribute 'output_shape' holds " + str(d));
  }
  Dims out(*rank, kUnknown);
  if (xd) out[0] = (*xd)[0];
  if (wd) out[1] = n.mul((*wd)[1], group);
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t in = xd ? (*xd)[2 + i] : kUnknown, k = dilated(n, win, i);
    const int64_t s = win.strides[i];
    if (output_shape) {
      out[2 + i] = (*output_shape)[i];
    } else if (same_padding(win)) {
      out[2 + i] = n.mul(in, s);
    } else if (in == 0) {
      n.fail("spatial dim " + str(static_cast<int64_t>(i)) + " of input " + n.describe(0) +
             " is empty");
    } else if (in > 0 && k >= 0) {
      const bool valid = win.auto_pad == "VALID";
      const int64_t full = n.add(n.add(n.mul(in - 1, s), output_padding[i]), k);
      const int64_t o = full - (valid ? 0 : win.pads[i] + win.pads[i + spatial]);
      if (o < 0)
        n.fail("spatial dim " + str(static_cast<int64_t>(i)) + ": the pads take more than the " +
               str(full) + " output elements");
      out[2 + i] = o;
    }
  }
  n.set(0, e, out);
}

void pool(NodeInference& n) {
  n.need(1);
  const auto& xd = n.dims(0);
  if (!xd) {
    n.set(0, n.element(0), std::nullopt);
    n.set(1, ElementType::I64, std::nullopt);
    return;
  }
  if (xd->size() < 3)
    n.fail("input " + n.describe(0) + " needs a batch, a channel and spatial dims");
  const size_t spatial = xd->size() - 2;
  const Window win = window(n, spatial, std::nullopt);
  const bool ceil_mode = n.int_attr("ceil_mode", 0) != 0;
  Dims out = *xd;
  for (size_t i = 0; i < spatial; ++i)
    out[2 + i] = window_output(n, win, i, (*xd)[2 + i], ceil_mode);
  n.set(0, n.element(0), out);
  n.set(1, ElementType::I64, out);
}

void global_pool(NodeInference& n) {
  n.need(1);
  std::optional<Dims> out = n.dims(0);
  if (out) {
    if (out->size() < 2) n.fail("input " + n.describe(0) + " needs a batch and a channel dim");
    std::fill(out->begin() + 2, out->end(), 1);
  }
  n.set(0, n.element(0), out);
}

void max_unpool(NodeInference& n) {
  n.need(2);
  const auto& xd = n.dims(0);
  if (n.has(2)) {
    auto shape = n.contents(2);
    std::optional<Dims> out;
    if (shape) {
      out.emplace();
      for (const auto& v : *shape) out->push_back(v && *v >= 0 ? *v : kUnknown);
    } else if (xd) {
      out = Dims(xd->size(), kUnknown);
    }
    return n.set(0, n.element(0), out);
  }
  if (!xd) return n.set(0, n.element(0), std::nullopt);
  if (xd->size() < 3)
    n.fail("input " + n.describe(0) + " needs a batch, a channel and spatial dims");
  const size_t spatial = xd->size() - 2;
  const Window win = window(n, spatial, std::nullopt);
  Dims out = *xd;
  for (size_t i = 0; i < spatial; ++i) {
    const int64_t in = (*xd)[2 + i];
    if (in <= 0) {
      out[2 + i] = kUnknown;
      continue;
    }
    const int64_t o =
        n.add(n.mul(in - 1, win.strides[i]), win.kernel[i]) - win.pads[i] - win.pads[i + spatial];
    if (o < 0)
      n.fail("spatial dim " + str(static_cast<int64_t>(i)) + ": the pads exceed the output");
    out[2 + i] = o;
  }
  n.set(0, n.element(0), out);
}

void roi_align(NodeInference& n) {
  n.need(3);
  int64_t channels = kUnknown, rois = kUnknown;
  if (const auto& x = n.dims(0)) {
    if (x->size() != 4) n.fail("input " + n.describe(0) + " must be 4-D");
    channels = (*x)[1];
  }
  if (const auto& r = n.dims(1)) {
    if (r->size() != 2) n.fail("rois " + n.describe(1) + " must be 2-D");
    rois = (*r)[0];
  }
  const int64_t height = n.int_attr("output_height", 1), width = n.int_attr("output_width", 1);
  if (height < 1 || width < 1)
    n.fail("output size " + str(height) + " x " + str(width) + " is not positive");
  n.set(0, n.element(0), Dims{rois, channels, height, width});
}

void grid_sample(NodeInference& n) {
  n.need(2);
  const auto &x = n.dims(0), &grid = n.dims(1);
  if (!grid)
    return n.set(0, n.element(0),
                 x ? std::optional<Dims>(Dims(x->size(), kUnknown)) : std::nullopt);
  if (grid->size() < 3 || (x && x->size() != grid->size()))
    n.fail("grid " + n.describe(1) + " does not match input " + n.describe(0));
  Dims out{(*grid)[0], x ? (*x)[1] : kUnknown};
  out.insert(out.end(), grid->begin() + 1, grid->end() - 1);
  n.set(0, n.element(0), out);
}

// ---------------------------------------------------------------------------------------------
// Normalization

void batch_norm(NodeInference& n) {
  n.need(1);
  n.set(0, n.type(0));
  int64_t channels = kUnknown;
  if (n.rank(0) && *n.rank(0) >= 2) channels = (*n.dims(0))[1];
  if (channels < 0 && n.rank(1) == 1u) channels = (*n.dims(1))[0];
  // Running mean and variance have the statistics' type; saved ones (opsets < 9) the input's.
  const ElementType stats = n.has(3) ? n.element(3) : n.element(0);
  for (size_t k = 1; k < n.out.size(); ++k) n.set(k, k <= 2 ? stats : n.element(0), Dims{channels});
}

void layer_norm(NodeInference& n) {
  n.need(1);
  n.set(0, n.type(0));
  std::optional<Dims> stats = n.dims(0);
  if (stats) {
    const size_t a = n.axis(n.int_attr("axis", -1), stats->size());
    std::fill(stats->begin() + static_cast<ptrdiff_t>(a), stats->end(), 1);
  }
  const ElementType e = n.element_attr("stash_type", ElementType::F32);
  n.set(1, e, stats);
  n.set(2, e, stats);
}

// ---------------------------------------------------------------------------------------------
// Reductions

void reduce(NodeInference& n) {
  n.need(1);
  const bool keep = n.int_attr("keepdims", 1) != 0;
  const IntsArg axes = n.ints_arg(1, "axes");
  const auto& d = n.dims(0);
  const ElementType e = n.element(0);
  if (!d) return n.set(0, e, std::nullopt);
  if (axes.given && !axes.values)
    return n.set(0, e, keep ? std::optional<Dims>(Dims(d->size(), kUnknown)) : std::nullopt);
  std::vector<bool> reduced(d->size(), true);
  if (axes.given && !axes.values->empty()) {
    std::fill(reduced.begin(), reduced.end(), false);
    for (int64_t a : *axes.values) reduced[n.axis(a, d->size(), "reduction axis")] = true;
  } else if (n.int_attr("noop_with_empty_axes", 0) != 0) {
    return n.set(0, n.type(0));
  }
  Dims out;
  for (size_t i = 0; i < d->size(); ++i) {
    if (!reduced[i])
      out.push_back((*d)[i]);
    else if (keep)
      out.push_back(1);
  }
  n.set(0, e, out);
}

void arg_reduce(NodeInference& n) {
  n.need(1);
  std::optional<Dims> out = n.dims(0);
  if (out) {
    const size_t a = n.axis(n.int_attr("axis", 0), out->size());
    if (n.int_attr("keepdims", 1) != 0)
      (*out)[a] = 1;
    else
      out->erase(out->begin() + static_cast<ptrdiff_t>(a));
  }
  n.set(0, ElementType::I64, out);
}

// ---------------------------------------------------------------------------------------------
// Shape manipulation

void reshape(NodeInference& n) {
  n.need(1);
  const ElementType e = n.element(0);
  std::optional<Ints> shape;
  if (n.has(1)) {
    shape = n.contents(1);
    if (!shape) {
      // Only the target's length, when its own shape says it.
      std::optional<Dims> out;
      if (n.rank(1) == 1u && (*n.dims(1))[0] >= 0)
        out = Dims(static_cast<size_t>((*n.dims(1))[0]), kUnknown);
      return n.set(0, e, out);
    }
  } else if (const auto* v = n.attr<std::vector<int64_t>>("shape", "ints")) {
    shape = to_ints(*v);
  } else {
    n.fail("has neither a shape input nor a 'shape' attribute");
  }
  const bool allow_zero = n.int_attr("allowzero", 0) != 0;
  const auto& in = n.dims(0);
  Dims out(shape->size(), kUnknown);
  std::optional<size_t> inferred;
  std::vector<bool> copied(shape->size(), false);
  bool has_zero = false;
  for (size_t i = 0; i < shape->size(); ++i) {
    if (!(*shape)[i]) continue;
    const int64_t s = *(*shape)[i];
    if (s == -1) {
      if (inferred) n.fail("shape " + ints_text(*shape) + " has more than one -1");
      inferred = i;
    } else if (s == 0 && !allow_zero) {
      if (in && i >= in->size())
        n.fail("shape " + ints_text(*shape) + " copies dim " + str(static_cast<int64_t>(i)) +
               ", which input " + n.describe(0) + " does not have");
      if (in) out[i] = (*in)[i];
      copied[i] = true;
    } else if (s < 0) {
      n.fail("shape " + ints_text(*shape) + " holds " + str(s));
    } else {
      has_zero |= s == 0;
      out[i] = s;
    }
  }
  if (inferred && has_zero)
    n.fail("shape " + ints_text(*shape) + " has both 0 and -1 with allowzero=1");
  // Dims copied by a 0 are on both sides, so they cancel: [?,3,4] to [0,-1] is [?,12].
  int64_t in_rest = in ? 1 : kUnknown, out_rest = 1;
  for (size_t i = 0; in && i < in->size(); ++i)
    if (i >= copied.size() || !copied[i]) in_rest = n.mul(in_rest, (*in)[i]);
  for (size_t i = 0; i < out.size(); ++i)
    if (i != inferred && !copied[i]) out_rest = n.mul(out_rest, out[i]);
  const int64_t total = in ? n.product(*in, 0, in->size()) : kUnknown;
  const std::string elements = total >= 0 ? " (" + str(total) + " elements)" : "";
  if (inferred) {
    // With a 0 elsewhere, any size fits the -1.
    if (in_rest >= 0 && out_rest > 0) {
      if (in_rest % out_rest != 0)
        n.fail("cannot reshape " + n.describe(0) + elements + " to " + ints_text(*shape));
      out[*inferred] = in_rest / out_rest;
    }
  } else if (in_rest >= 0 && out_rest >= 0 && in_rest != out_rest) {
    n.fail("cannot reshape " + n.describe(0) + elements + " to " + dims_text(out));
  }
  n.set(0, e, out);
}

void flatten(NodeInference& n) {
  n.need(1);
  const auto& d = n.dims(0);
  Dims out{kUnknown, kUnknown};
  if (d) {
    const auto r = static_cast<int64_t>(d->size());
    const int64_t a = n.int_attr("axis", 1);
    if (a < -r || a > r)
      n.fail("axis " + str(a) + " is out of range for rank " + str(r) + " (expected [" + str(-r) +
             ", " + str(r) + "])");
    const auto split = static_cast<size_t>(a < 0 ? a + r : a);
    out = {n.product(*d, 0, split), n.product(*d, split, d->size())};
  }
  n.set(0, n.element(0), out);
}

void squeeze(NodeInference& n) {
  n.need(1);
  const IntsArg axes = n.ints_arg(1, "axes");
  const auto& d = n.dims(0);
  const ElementType e = n.element(0);
  if (!d || (axes.given && !axes.values)) return n.set(0, e, std::nullopt);
  std::vector<bool> drop(d->size(), false);
  if (axes.given && !axes.values->empty()) {
    for (int64_t a : *axes.values) {
      const size_t i = n.axis(a, d->size());
      if ((*d)[i] >= 0 && (*d)[i] != 1)
        n.fail("cannot squeeze axis " + str(a) + " of " + n.describe(0) + ": its size is " +
               str((*d)[i]));
      drop[i] = true;
    }
  } else {
    for (size_t i = 0; i < d->size(); ++i) {
      // Without axes, whether a dim of unknown size goes decides the rank.
      if ((*d)[i] == kUnknown) return n.set(0, e, std::nullopt);
      drop[i] = (*d)[i] == 1;
    }
  }
  Dims out;
  for (size_t i = 0; i < d->size(); ++i)
    if (!drop[i]) out.push_back((*d)[i]);
  n.set(0, e, out);
}

void unsqueeze(NodeInference& n) {
  n.need(1);
  const IntsArg axes = n.ints_arg(1, "axes");
  if (!axes.given) n.fail("has neither an axes input nor an 'axes' attribute");
  const auto& d = n.dims(0);
  const ElementType e = n.element(0);
  if (!d || !axes.values) return n.set(0, e, std::nullopt);
  const size_t rank = d->size() + axes.values->size();
  std::vector<bool> inserted(rank, false);
  for (int64_t a : *axes.values) {
    const size_t i = n.axis(a, rank);
    if (inserted[i]) n.fail("axis " + str(a) + " is given twice");
    inserted[i] = true;
  }
  Dims out;
  size_t j = 0;
  for (size_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? 1 : (*d)[j++]);
  n.set(0, e, out);
}

void transpose(NodeInference& n) {
  n.need(1);
  const auto* perm = n.attr<std::vector<int64_t>>("perm", "ints");
  const auto& d = n.dims(0);
  const ElementType e = n.element(0);
  if (!d)
    return n.set(0, e, perm ? std::optional<Dims>(Dims(perm->size(), kUnknown)) : std::nullopt);
  Dims out(d->rbegin(), d->rend());
  if (perm) {
    if (perm->size() != d->size())
      n.fail("perm has " + str(static_cast<int64_t>(perm->size())) + " entries for " +
             n.describe(0));
    std::vector<bool> seen(d->size(), false);
    for (size_t i = 0; i < perm->size(); ++i) {
      const int64_t p = (*perm)[i];
      if (p < 0 || p >= static_cast<int64_t>(d->size()) || seen[static_cast<size_t>(p)])
        n.fail("perm " + ints_text(to_ints(*perm)) + " is not a permutation of " +
               str(static_cast<int64_t>(d->size())) + " axes");
      seen[static_cast<size_t>(p)] = true;
      out[i] = (*d)[static_cast<size_t>(p)];
    }
  }
  n.set(0, e, out);
}

void concat(NodeInference& n) {
  n.need(1);
  const auto all = n.present();
  const ElementType e = n.common_element(all);
  const int64_t* axis_attr = n.attr<int64_t>("axis", "int");
  if (!axis_attr && n.opset() >= 4) n.fail("has no 'axis' attribute");
  std::optional<size_t> ranked;
  for (size_t i : all) {
    if (!n.dims(i)) continue;
    if (!ranked) ranked = i;
    if (n.dims(i)->size() != n.dims(*ranked)->size())
      n.fail("inputs " + n.describe(*ranked) + " and " + n.describe(i) + " differ in rank");
  }
  if (!ranked) return n.set(0, e, std::nullopt);
  const size_t rank = n.dims(*ranked)->size();
  const size_t a = n.axis(axis_attr ? *axis_attr : 1, rank);
  Dims out(rank, kUnknown);
  out[a] = 0;
  for (size_t i : all) {
    const auto& d = n.dims(i);
    if (!d) {
      out[a] = kUnknown;
      continue;
    }
    for (size_t k = 0; k < rank; ++k) {
      if (k == a) {
        out[a] = n.add(out[a], (*d)[a]);
      } else if ((*d)[k] >= 0) {
        if (out[k] >= 0 && out[k] != (*d)[k])
          n.fail("inputs " + n.describe(*ranked) + " and " + n.describe(i) + " differ in dim " +
                 str(static_cast<int64_t>(k)) + ", which is not the concat axis");
        out[k] = (*d)[k];
      }
    }
  }
  n.set(0, e, out);
}

void split(NodeInference& n) {
  n.need(1);
  const ElementType e = n.element(0);
  const auto& d = n.dims(0);
  const size_t outputs = n.out.size();
  if (!d) {
    for (size_t k = 0; k < outputs; ++k) n.set(k, e, std::nullopt);
    return;
  }
  const size_t a = n.axis(n.int_attr("axis", 0), d->size());
  const int64_t dim = (*d)[a];
  const IntsArg sizes = n.ints_arg(1, "split");
  Dims parts(outputs, kUnknown);
  if (sizes.given && sizes.values && !sizes.values->empty()) {
    if (sizes.values->size() != outputs)
      n.fail("split " + ints_text(to_ints(*sizes.values)) + " has " +
             str(static_cast<int64_t>(sizes.values->size())) + " sizes for " +
             str(static_cast<int64_t>(outputs)) + " outputs");
    int64_t sum = 0;
    for (int64_t s : *sizes.values) {
      if (s < 0) n.fail("split " + ints_text(to_ints(*sizes.values)) + " holds " + str(s));
      sum = n.add(sum, s);
    }
    if (dim >= 0 && sum != dim)
      n.fail("split " + ints_text(to_ints(*sizes.values)) + " adds up to " + str(sum) +
             " but dim " + str(static_cast<int64_t>(a)) + " of " + n.describe(0) + " is " +
             str(dim));
    parts = *sizes.values;
  } else if (!sizes.given || sizes.values) {
    const int64_t* num = n.attr<int64_t>("num_outputs", "int");
    if (num && *num != static_cast<int64_t>(outputs))
      n.fail("num_outputs is " + str(*num) + " but the node has " +
             str(static_cast<int64_t>(outputs)) + " outputs");
    const auto count = static_cast<int64_t>(outputs);
    if (dim >= 0 && count > 0) {
      if (num) {
        // Opset 18: equal chunks of ceil(dim / n), the last one smaller.
        const int64_t chunk = dim / count + (dim % count != 0);
        if (chunk * (count - 1) > dim)
          n.fail("dim " + str(dim) + " of " + n.describe(0) + " cannot be split into " +
                 str(count) + " chunks");
        std::fill(parts.begin(), parts.end(), chunk);
        parts.back() = dim - chunk * (count - 1);
      } else {
        if (dim % count != 0)
          n.fail("dim " + str(dim) + " of " + n.describe(0) + " does not split into " + str(count) +
                 " equal parts");
        std::fill(parts.begin(), parts.end(), dim / count);
      }
    }
  }
  for (size_t k = 0; k < outputs; ++k) {
    Dims out = *d;
    out[a] = parts[k];
    n.set(k, e, out);
  }
}

struct SliceArgs {
  IntsArg starts, ends, axes, steps;
};

SliceArgs slice_args(const NodeInference& n) {
  SliceArgs s{n.ints_arg(1, "starts"), n.ints_arg(2, "ends"), n.ints_arg(3, "axes"),
              n.ints_arg(4, "steps")};
  if (!s.starts.given || !s.ends.given) n.fail("needs starts and ends");
  return s;
}

// For each sliced axis: (axis, start, end, step), with the defaults and checks of ONNX.
std::vector<std::array<int64_t, 4>> slice_plan(const NodeInference& n, const SliceArgs& s,
                                               size_t rank) {
  const Dims &starts = *s.starts.values, &ends = *s.ends.values;
  const size_t count = starts.size();
  if (ends.size() != count) n.fail("starts and ends differ in length");
  Dims axes(count), steps(count, 1);
  for (size_t k = 0; k < count; ++k) axes[k] = static_cast<int64_t>(k);
  if (s.axes.given) axes = *s.axes.values;
  if (s.steps.given) steps = *s.steps.values;
  if (axes.size() != count || steps.size() != count)
    n.fail("starts, ends, axes and steps differ in length");
  std::vector<std::array<int64_t, 4>> plan;
  std::vector<bool> seen(rank, false);
  for (size_t k = 0; k < count; ++k) {
    const size_t a = n.axis(axes[k], rank);
    if (seen[a]) n.fail("axis " + str(axes[k]) + " is sliced twice");
    seen[a] = true;
    if (steps[k] == 0) n.fail("step 0 on axis " + str(axes[k]));
    plan.push_back({static_cast<int64_t>(a), starts[k], ends[k], steps[k]});
  }
  return plan;
}

void slice(NodeInference& n) {
  n.need(1);
  const SliceArgs s = slice_args(n);
  const auto& d = n.dims(0);
  const ElementType e = n.element(0);
  if (!d) return n.set(0, e, std::nullopt);
  Dims out = *d;
  const bool known = s.starts.values && s.ends.values && (!s.axes.given || s.axes.values) &&
                     (!s.steps.given || s.steps.values);
  if (!known) {
    if (s.axes.values) {
      for (int64_t a : *s.axes.values) out[n.axis(a, d->size())] = kUnknown;
    } else {
      std::fill(out.begin(), out.end(), kUnknown);
    }
    return n.set(0, e, out);
  }
  for (const auto& [a, start, end, step] : slice_plan(n, s, d->size())) {
    const int64_t dim = (*d)[static_cast<size_t>(a)];
    out[static_cast<size_t>(a)] = dim < 0 ? kUnknown : slice_range(start, end, step, dim).second;
  }
  n.set(0, e, out);
}

void gather(NodeInference& n) {
  n.need(2);
  const auto &d = n.dims(0), &idx = n.dims(1);
  const ElementType e = n.element(0);
  if (!d || !idx) return n.set(0, e, std::nullopt);
  const size_t a = n.axis(n.int_attr("axis", 0), d->size());
  Dims out(d->begin(), d->begin() + static_cast<ptrdiff_t>(a));
  out.insert(out.end(), idx->begin(), idx->end());
  out.insert(out.end(), d->begin() + static_cast<ptrdiff_t>(a) + 1, d->end());
  n.set(0, e, out);
}

void gather_elements(NodeInference& n) {
  n.need(2);
  const auto &d = n.dims(0), &idx = n.dims(1);
  if (d) {
    n.axis(n.int_attr("axis", 0), d->size());
    if (idx && idx->size() != d->size())
      n.fail("indices " + n.describe(1) + " and data " + n.describe(0) + " differ in rank");
  }
  n.set(0, n.element(0), idx);
}

void gather_nd(NodeInference& n) {
  n.need(2);
  const auto &d = n.dims(0), &idx = n.dims(1);
  const ElementType e = n.element(0);
  if (!d || !idx || idx->empty() || idx->back() < 0) return n.set(0, e, std::nullopt);
  const int64_t batch = n.int_attr("batch_dims", 0), last = idx->back();
  if (batch < 0 || batch >= static_cast<int64_t>(idx->size()) ||
      batch + last > static_cast<int64_t>(d->size()))
    n.fail("indices " + n.describe(1) + " (batch_dims " + str(batch) + ") do not fit data " +
           n.describe(0));
  Dims out(idx->begin(), idx->end() - 1);
  out.insert(out.end(), d->begin() + batch + last, d->end());
  n.set(0, e, out);
}

void expand(NodeInference& n) {
  n.need(2);
  const ElementType e = n.element(0);
  const auto shape = n.contents(1);
  if (!shape) {
    std::optional<Dims> out;
    if (n.dims(0) && n.rank(1) == 1u && (*n.dims(1))[0] >= 0)
      out = Dims(std::max(n.dims(0)->size(), static_cast<size_t>((*n.dims(1))[0])), kUnknown);
    return n.set(0, e, out);
  }
  Dims target;
  for (const auto& v : *shape) {
    if (v && *v < 0) n.fail("shape " + ints_text(*shape) + " holds " + str(*v));
    target.push_back(v ? *v : kUnknown);
  }
  n.set(0, e, n.broadcast({n.operand(0), {"shape " + ints_text(*shape), target}}));
}

void tile(NodeInference& n) {
  n.need(2);
  const auto& d = n.dims(0);
  const ElementType e = n.element(0);
  if (!d) return n.set(0, e, std::nullopt);
  Dims out(d->size(), kUnknown);
  if (auto repeats = n.contents(1)) {
    if (repeats->size() != d->size())
      n.fail("repeats " + ints_text(*repeats) + " do not match the rank of " + n.describe(0));
    for (size_t i = 0; i < out.size(); ++i) {
      if (!(*repeats)[i]) continue;
      if (*(*repeats)[i] < 0) n.fail("repeats " + ints_text(*repeats) + " hold a negative count");
      out[i] = n.mul((*d)[i], *(*repeats)[i]);
    }
  }
  n.set(0, e, out);
}

void pad(NodeInference& n) {
  n.need(1);
  const IntsArg pads = n.ints_arg(1, n.node.attributes.count("paddings") ? "paddings" : "pads");
  IntsArg axes;  // opset 18
  if (n.has(3)) axes = {true, n.known_ints(3)};
  const auto& d = n.dims(0);
  const ElementType e = n.element(0);
  if (!d) return n.set(0, e, std::nullopt);
  if (!pads.given) n.fail("has no pads");
  Dims out(d->size(), kUnknown);
  if (!pads.values || (axes.given && !axes.values)) return n.set(0, e, out);
  out = *d;
  Dims axis_list;
  if (axes.given) {
    for (int64_t a : *axes.values) axis_list.push_back(static_cast<int64_t>(n.axis(a, d->size())));
  } else {
    for (size_t i = 0; i < d->size(); ++i) axis_list.push_back(static_cast<int64_t>(i));
  }
  const size_t count = axis_list.size();
  if (pads.values->size() != 2 * count)
    n.fail("pads " + ints_text(to_ints(*pads.values)) +
           " do not have 2 entries per padded axis of " + n.describe(0));
  for (size_t k = 0; k < count; ++k) {
    const auto i = static_cast<size_t>(axis_list[k]);
    if ((*d)[i] < 0) continue;
    int64_t o = 0;
    if (__builtin_add_overflow((*d)[i], (*pads.values)[k], &o) ||
        __builtin_add_overflow(o, (*pads.values)[k + count], &o) || o < 0)
      n.fail("pads " + ints_text(to_ints(*pads.values)) + " give axis " +
             str(static_cast<int64_t>(i)) + " of " + n.describe(0) + " an invalid size");
    out[i] = o;
  }
  n.set(0, e, out);
}

void shape_op(NodeInference& n) {
  n.need(1);
  const auto& d = n.dims(0);
  if (!d) return n.set(0, ElementType::I64, Dims{kUnknown});
  const auto r = static_cast<int64_t>(d->size());
  const auto clamp = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + r : v, 0, r); };
  const int64_t start = clamp(n.int_attr("start", 0)), end = clamp(n.int_attr("end", r));
  Ints contents;
  for (int64_t i = start; i < end; ++i) {
    const int64_t dim = (*d)[static_cast<size_t>(i)];
    contents.push_back(dim >= 0 ? std::optional<int64_t>(dim) : std::nullopt);
  }
  n.set(0, ElementType::I64, Dims{static_cast<int64_t>(contents.size())});
  if (!n.out_contents.empty()) n.out_contents[0] = contents;
}

void size_op(NodeInference& n) {
  n.need(1);
  n.set(0, ElementType::I64, Dims{});
  if (n.dims(0) && !n.out_contents.empty()) {
    const int64_t count = n.product(*n.dims(0), 0, n.dims(0)->size());
    if (count >= 0) n.out_contents[0] = Ints{count};
  }
}

void constant_of_shape(NodeInference& n) {
  n.need(1);
  const auto* value = n.attr<HostTensorPtr>("value", "tensor");
  const ElementType e = value && *value ? (*value)->element : ElementType::F32;
  std::optional<Dims> out;
  if (auto shape = n.contents(0)) {
    out.emplace();
    for (const auto& v : *shape) {
      if (v && *v < 0) n.fail("shape " + ints_text(*shape) + " holds " + str(*v));
      out->push_back(v ? *v : kUnknown);
    }
  } else if (n.rank(0) == 1u && (*n.dims(0))[0] >= 0) {
    out = Dims(static_cast<size_t>((*n.dims(0))[0]), kUnknown);
  }
  n.set(0, e, out);
  // A filled shape or vector: LayerNormalization's expansion builds its statistics' shape so.
  const std::optional<Ints> fill = value && *value ? ints_of(**value) : Ints{0};
  const auto count = out ? checked_count(*out) : std::nullopt;
  if (fill && fill->size() == 1 && count && *count <= kMaxTracked && !n.out_contents.empty())
    n.out_contents[0] = Ints(static_cast<size_t>(*count), (*fill)[0]);
}

void constant(NodeInference& n) {
  const auto size_of = [](const auto& v) { return Dims{static_cast<int64_t>(v.size())}; };
  if (const auto* t = n.attr<HostTensorPtr>("value", "tensor")) {
    if (!*t) n.fail("attribute 'value' holds no tensor");
    n.out_tensor = *t;
  } else if (const auto* f = n.attr<float>("value_float", "float")) {
    n.out_tensor = tensor_of(ElementType::F32, {}, std::vector<float>{*f});
  } else if (const auto* fs = n.attr<std::vector<float>>("value_floats", "floats")) {
    n.out_tensor = tensor_of(ElementType::F32, size_of(*fs), *fs);
  } else if (const auto* i = n.attr<int64_t>("value_int", "int")) {
    n.out_tensor = tensor_of(ElementType::I64, {}, std::vector<int64_t>{*i});
  } else if (const auto* is = n.attr<std::vector<int64_t>>("value_ints", "ints")) {
    n.out_tensor = tensor_of(ElementType::I64, size_of(*is), *is);
  } else if (n.attr<std::string>("value_string", "string")) {
    return n.set(0, ElementType::String, Dims{});
  } else if (const auto* ss = n.attr<std::vector<std::string>>("value_strings", "strings")) {
    return n.set(0, ElementType::String, size_of(*ss));
  } else {
    return;  // sparse_value: its dense shape is not in the IR
  }
  n.set(0, n.out_tensor->type());
}

void range(NodeInference& n) {
  n.need(3);
  const ElementType e = n.common_element({0, 1, 2});
  int64_t length = kUnknown;
  if (is_int_index(e)) {
    const auto start = n.known_ints(0), limit = n.known_ints(1), delta = n.known_ints(2);
    if (start && limit && delta && start->size() == 1 && limit->size() == 1 && delta->size() == 1) {
      const int64_t s = (*start)[0], l = (*limit)[0], d = (*delta)[0];
      if (d == 0) n.fail("delta is 0");
      // In 128 bits: limit - start may leave int64.
      const __int128 span = static_cast<__int128>(l) - s;
      const __int128 steps = span / d + (span % d != 0 && (span > 0) == (d > 0));
      if (steps > std::numeric_limits<int64_t>::max()) n.fail("the range has too many elements");
      length = static_cast<int64_t>(std::max<__int128>(steps, 0));
    }
  } else {
    const auto start = n.scalar_number(0), limit = n.scalar_number(1), delta = n.scalar_number(2);
    if (start && limit && delta) {
      if (*delta == 0) n.fail("delta is 0");
      // In the element type's precision, as the runtime computes it.
      const double steps = e == ElementType::F32
                               ? std::ceil(static_cast<double>(
                                     (static_cast<float>(*limit) - static_cast<float>(*start)) /
                                     static_cast<float>(*delta)))
                               : std::ceil((*limit - *start) / *delta);
      if (!(steps < 9.2e18)) n.fail("the range has too many elements");
      length = std::max<int64_t>(static_cast<int64_t>(steps), 0);
    }
  }
  n.set(0, e, Dims{length});
}

void top_k(NodeInference& n) {
  n.need(1);
  std::optional<int64_t> k;
  if (n.has(1)) {
    if (auto v = n.known_ints(1); v && v->size() == 1) k = (*v)[0];
  } else if (const int64_t* attr = n.attr<int64_t>("k", "int")) {
    k = *attr;
  } else {
    n.fail("has neither a K input nor a 'k' attribute");
  }
  std::optional<Dims> out = n.dims(0);
  if (out) {
    const size_t a = n.axis(n.int_attr("axis", -1), out->size());
    if (k && (*k < 0 || ((*out)[a] >= 0 && *k > (*out)[a])))
      n.fail("k " + str(*k) + " is not within axis " + str(static_cast<int64_t>(a)) + " of " +
             n.describe(0));
    (*out)[a] = k ? *k : kUnknown;
  }
  n.set(0, n.element(0), out);
  n.set(1, ElementType::I64, out);
}

void one_hot(NodeInference& n) {
  n.need(3);
  std::optional<Dims> out = n.dims(0);
  if (out) {
    const auto r = static_cast<int64_t>(out->size());
    const int64_t a = n.int_attr("axis", -1);
    if (a < -r - 1 || a > r)
      n.fail("axis " + str(a) + " is out of range for output rank " + str(r + 1));
    int64_t depth = kUnknown;
    if (auto v = n.scalar_number(1)) {
      if (!(*v >= 1 && *v < 9.2e18)) n.fail("depth " + std::to_string(*v) + " is not positive");
      depth = static_cast<int64_t>(*v);
    }
    out->insert(out->begin() + (a < 0 ? a + r + 1 : a), depth);
  }
  n.set(0, n.element(2), out);
}

void non_zero(NodeInference& n) {
  n.need(1);
  n.set(0, ElementType::I64,
        Dims{n.rank(0) ? static_cast<int64_t>(*n.rank(0)) : kUnknown, kUnknown});
}

int64_t blocksize(const NodeInference& n) {
  const int64_t* b = n.attr<int64_t>("blocksize", "int");
  if (!b) n.fail("has no 'blocksize' attribute");
  if (*b < 1) n.fail("blocksize is " + str(*b));
  return *b;
}

void depth_to_space(NodeInference& n) {
  n.need(1);
  const int64_t b = blocksize(n);
  std::optional<Dims> out = n.dims(0);
  if (out) {
    if (out->size() != 4) n.fail("input " + n.describe(0) + " must be 4-D");
    Dims& d = *out;
    const int64_t bb = n.mul(b, b);
    if (d[1] >= 0 && d[1] % bb != 0)
      n.fail("channels of " + n.describe(0) + " are not a multiple of blocksize^2 = " + str(bb));
    d = {d[0], d[1] >= 0 ? d[1] / bb : kUnknown, n.mul(d[2], b), n.mul(d[3], b)};
  }
  n.set(0, n.element(0), out);
}

void space_to_depth(NodeInference& n) {
  n.need(1);
  const int64_t b = blocksize(n);
  std::optional<Dims> out = n.dims(0);
  if (out) {
    if (out->size() != 4) n.fail("input " + n.describe(0) + " must be 4-D");
    Dims& d = *out;
    for (size_t i : {2, 3})
      if (d[i] >= 0 && d[i] % b != 0)
        n.fail("spatial dims of " + n.describe(0) + " are not multiples of blocksize " + str(b));
    d = {d[0], n.mul(d[1], n.mul(b, b)), d[2] >= 0 ? d[2] / b : kUnknown,
         d[3] >= 0 ? d[3] / b : kUnknown};
  }
  n.set(0, n.element(0), out);
}

// Dims scaled as Resize and Upsample do: floor(dim * scale), in float as the reference does.
// `scales` has one entry per axis.
void scale_dims(const NodeInference& n, Dims& out, const Dims& axes,
                const std::vector<double>& scales) {
  for (size_t k = 0; k < axes.size(); ++k) {
    int64_t& d = out[static_cast<size_t>(axes[k])];
    if (!(scales[k] > 0)) n.fail("scale " + std::to_string(scales[k]) + " is not positive");
    if (d < 0) continue;
    const double scaled = std::floor(static_cast<float>(d) * static_cast<float>(scales[k]));
    if (!(scaled < 9.2e18)) n.fail("scale " + std::to_string(scales[k]) + " overflows a dim");
    d = static_cast<int64_t>(scaled);
  }
}

void resize(NodeInference& n) {
  n.need(1);
  const auto& d = n.dims(0);
  const ElementType e = n.element(0);
  if (!d) return n.set(0, e, std::nullopt);
  Dims axes;
  if (const auto* a = n.attr<std::vector<int64_t>>("axes", "ints")) {
    for (int64_t x : *a) axes.push_back(static_cast<int64_t>(n.axis(x, d->size())));
  } else {
    for (size_t i = 0; i < d->size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  const size_t scales_input = n.opset() >= 11 ? 2 : 1;
  Dims out = *d;
  const auto unknown_axes = [&] {
    for (int64_t a : axes) out[static_cast<size_t>(a)] = kUnknown;
  };
  // Opsets 11-12 require a scales input, which is empty when sizes are given.
  const bool scales_given =
      n.has(scales_input) && !(n.rank(scales_input) == 1u && (*n.dims(scales_input))[0] == 0);
  if (n.opset() >= 11 && n.has(3) && !scales_given) {
    const auto sizes = n.contents(3);
    if (!sizes) {
      unknown_axes();
    } else {
      if (sizes->size() != axes.size())
        n.fail("sizes " + ints_text(*sizes) + " do not match " +
               str(static_cast<int64_t>(axes.size())) + " axes");
      const std::string policy = n.string_attr("keep_aspect_ratio_policy", "stretch");
      if (policy == "stretch") {
        for (size_t k = 0; k < axes.size(); ++k)
          out[static_cast<size_t>(axes[k])] = (*sizes)[k] ? *(*sizes)[k] : kUnknown;
      } else if (policy == "not_larger" || policy == "not_smaller") {
        // One scale for all axes, the one that keeps the aspect ratio.
        std::optional<double> scale;
        for (size_t k = 0; k < axes.size(); ++k) {
          const int64_t in = (*d)[static_cast<size_t>(axes[k])];
          if (!(*sizes)[k] || in <= 0) {
            scale.reset();
            break;
          }
          const double s = static_cast<double>(*(*sizes)[k]) / static_cast<double>(in);
          scale = !scale ? s : policy == "not_larger" ? std::min(*scale, s) : std::max(*scale, s);
        }
        for (int64_t a : axes) {
          int64_t& o = out[static_cast<size_t>(a)];
          const double scaled = scale ? std::round(*scale * static_cast<double>(o)) : -1;
          if (scale && !(scaled < 9.2e18)) n.fail("sizes " + ints_text(*sizes) + " overflow a dim");
          o = scale ? static_cast<int64_t>(scaled) : kUnknown;
        }
      } else {
        n.fail("keep_aspect_ratio_policy '" + policy +
               "' is not stretch, not_larger or not_smaller");
      }
    }
  } else if (scales_given) {
    auto scales = n.numbers(scales_input);
    if (scales && scales->size() != axes.size())
      n.fail("has " + str(static_cast<int64_t>(scales->size())) + " scales for " +
             str(static_cast<int64_t>(axes.size())) + " axes");
    if (!scales) {
      unknown_axes();
    } else if (n.string_attr("coordinate_transformation_mode", "") == "tf_crop_and_resize") {
      // The output covers roi's share of each axis.
      auto roi = n.numbers(1);
      if (!roi || roi->size() != 2 * axes.size()) {
        unknown_axes();
      } else {
        for (size_t k = 0; k < axes.size(); ++k)
          (*scales)[k] *= (*roi)[k + axes.size()] - (*roi)[k];
        scale_dims(n, out, axes, *scales);
      }
    } else {
      scale_dims(n, out, axes, *scales);
    }
  } else {
    n.fail("has neither scales nor sizes");
  }
  n.set(0, e, out);
}

void upsample(NodeInference& n) {
  n.need(1);
  const auto& d = n.dims(0);
  const ElementType e = n.element(0);
  if (!d) return n.set(0, e, std::nullopt);
  std::optional<std::vector<double>> scales;
  if (n.has(1)) {
    scales = n.numbers(1);
  } else if (const auto* v = n.attr<std::vector<float>>("scales", "floats")) {
    scales.emplace(v->begin(), v->end());
  } else {
    n.fail("has neither a scales input nor a 'scales' attribute");
  }
  Dims out(d->size(), kUnknown), axes;
  if (scales) {
    if (scales->size() != d->size())
      n.fail("has " + str(static_cast<int64_t>(scales->size())) + " scales for " + n.describe(0));
    out = *d;
    for (size_t i = 0; i < d->size(); ++i) axes.push_back(static_cast<int64_t>(i));
    scale_dims(n, out, axes, *scales);
  }
  n.set(0, e, out);
}

void compress(NodeInference& n) {
  n.need(2);
  const auto& d = n.dims(0);
  const int64_t* a = n.attr<int64_t>("axis", "int");
  if (a && !d) return n.set(0, n.element(0), std::nullopt);
  // Along the axis, or over the flattened input without one.
  std::optional<Dims> out = a ? d : Dims{d ? n.product(*d, 0, d->size()) : kUnknown};
  const size_t axis = a ? n.axis(*a, d->size()) : 0;
  const int64_t extent = (*out)[axis];
  int64_t kept = kUnknown;
  // A constant condition keeps its true entries; those past the axis's end select nothing.
  if (const auto condition = n.numbers(1); condition && extent >= 0) {
    const auto used = std::min(condition->size(), static_cast<size_t>(extent));
    kept = std::count_if(condition->begin(), condition->begin() + static_cast<ptrdiff_t>(used),
                         [](double c) { return c != 0; });
  }
  (*out)[axis] = kept;
  n.set(0, n.element(0), out);
}

void det(NodeInference& n) {
  n.need(1);
  std::optional<Dims> out = n.dims(0);
  if (out) {
    if (out->size() < 2) n.fail("input " + n.describe(0) + " is not a matrix");
    out->resize(out->size() - 2);
  }
  n.set(0, n.element(0), out);
}

void quantize(NodeInference& n) {
  n.need(2);
  ElementType e = n.has(2) ? n.element(2) : ElementType::Undefined;
  if (e == ElementType::Undefined) e = n.element_attr("output_dtype", ElementType::U8);
  n.set(0, e, n.dims(0));
}

void dequantize(NodeInference& n) {
  n.need(2);
  ElementType e = n.element(1);
  if (e == ElementType::Undefined && n.opset() < 19) e = ElementType::F32;
  n.set(0, e, n.dims(0));
}

void dynamic_quantize(NodeInference& n) {
  n.need(1);
  n.set(0, ElementType::U8, n.dims(0));
  n.set(1, ElementType::F32, Dims{});
  n.set(2, ElementType::U8, Dims{});
}

void window_function(NodeInference& n) {
  n.need(1);
  int64_t length = kUnknown;
  if (auto v = n.known_ints(0); v && v->size() == 1) {
    if ((*v)[0] < 0) n.fail("size " + str((*v)[0]) + " is negative");
    length = (*v)[0];
  }
  n.set(0, n.element_attr("output_datatype", ElementType::F32), Dims{length});
}

void non_max_suppression(NodeInference& n) {
  n.need(2);
  n.set(0, ElementType::I64, Dims{kUnknown, 3});
}

// NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss: per-element losses shaped like the
// target, or a scalar once reduced.
void loss(NodeInference& n) {
  n.need(2);
  const std::string reduction = n.string_attr("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    n.fail("reduction '" + reduction + "' is not none, sum or mean");
  n.set(0, n.element(0), reduction == "none" ? n.dims(1) : std::optional<Dims>(Dims{}));
  n.set(1, n.type(0));  // SoftmaxCrossEntropyLoss's log_prob
}

void recurrent(NodeInference& n) {
  n.need(3);
  const std::string direction = n.string_attr("direction", "forward");
  if (direction != "forward" && direction != "reverse" && direction != "bidirectional")
    n.fail("direction '" + direction + "' is not forward, reverse or bidirectional");
  const int64_t directions = direction == "bidirectional" ? 2 : 1;
  const bool batch_first = n.int_attr("layout", 0) != 0;
  int64_t seq = kUnknown, batch = kUnknown;
  if (const auto& x = n.dims(0)) {
    if (x->size() != 3) n.fail("input " + n.describe(0) + " must be 3-D");
    seq = (*x)[batch_first ? 1 : 0];
    batch = (*x)[batch_first ? 0 : 1];
  }
  const int64_t* hidden_size = n.attr<int64_t>("hidden_size", "int");
  if (hidden_size && *hidden_size < 1) n.fail("hidden_size is " + str(*hidden_size));
  // Without the attribute, the recurrence weights [directions, gates x hidden, hidden] tell it.
  int64_t hidden = hidden_size ? *hidden_size : kUnknown;
  if (!hidden_size && n.rank(2) == 3u) hidden = (*n.dims(2))[2];
  const ElementType e = n.element(0);
  n.set(0, e,
        batch_first ? Dims{batch, seq, directions, hidden} : Dims{seq, directions, batch, hidden});
  const Dims state =
      batch_first ? Dims{batch, directions, hidden} : Dims{directions, batch, hidden};
  n.set(1, e, state);
  n.set(2, e, state);
}

// ---------------------------------------------------------------------------------------------
// Contents of small integer tensors computed from shapes

void same_contents(NodeInference& n) { n.out_contents[0] = n.contents(0); }

void negated_contents(NodeInference& n) {
  auto c = n.contents(0);
  if (!c) return;
  for (auto& v : *c)
    if (v) v = *v == std::numeric_limits<int64_t>::min() ? std::nullopt : std::optional(-*v);
  n.out_contents[0] = c;
}

void concat_contents(NodeInference& n) {
  Ints all;
  for (size_t i : n.present()) {
    auto c = n.contents(i);
    if (!c || n.rank(i) != 1u) return;
    all.insert(all.end(), c->begin(), c->end());
  }
  n.out_contents[0] = all;
}

void gather_contents(NodeInference& n) {
  auto data = n.contents(0);
  auto indices = n.known_ints(1);
  if (!data || !indices || n.rank(0) != 1u || n.int_attr("axis", 0) != 0) return;
  Ints out;
  const auto size = static_cast<int64_t>(data->size());
  for (int64_t i : *indices) {
    if (i < -size || i >= size) n.fail("index " + str(i) + " is out of range for " + n.describe(0));
    out.push_back((*data)[static_cast<size_t>(i < 0 ? i + size : i)]);
  }
  n.out_contents[0] = out;
}

void slice_contents(NodeInference& n) {
  auto data = n.contents(0);
  if (!data || n.rank(0) != 1u) return;
  const SliceArgs s = slice_args(n);
  if (!s.starts.values || !s.ends.values || (s.axes.given && !s.axes.values) ||
      (s.steps.given && !s.steps.values))
    return;
  Ints out = *data;
  for (const auto& [a, start, end, step] : slice_plan(n, s, 1)) {
    const auto [first, count] = slice_range(start, end, step, static_cast<int64_t>(data->size()));
    out.clear();
    for (int64_t k = 0; k < count; ++k)
      out.push_back((*data)[static_cast<size_t>(first + k * step)]);
  }
  n.out_contents[0] = out;
}

void arithmetic_contents(NodeInference& n) {
  auto a = n.contents(0), b = n.contents(1);
  if (!a || !b || (a->size() != b->size() && a->size() != 1 && b->size() != 1)) return;
  const std::string& op = n.node.op;
  const bool integer = is_int_index(n.common_element({0, 1}));
  Ints out;
  for (size_t i = 0; i < std::max(a->size(), b->size()); ++i) {
    const auto x = (*a)[a->size() == 1 ? 0 : i], y = (*b)[b->size() == 1 ? 0 : i];
    int64_t r = 0;
    bool ok = x && y;
    if (ok && op == "Add") ok = !__builtin_add_overflow(*x, *y, &r);
    if (ok && op == "Sub") ok = !__builtin_sub_overflow(*x, *y, &r);
    if (ok && op == "Mul") ok = !__builtin_mul_overflow(*x, *y, &r);
    // Shapes divide non-negative numbers, where truncating and flooring agree; floats divide
    // exactly or not at all.
    if (ok && op == "Div")
      ok = *x >= 0 && *y > 0 && (integer || *x % *y == 0) && ((r = *x / *y), true);
    out.push_back(ok ? std::optional<int64_t>(r) : std::nullopt);
  }
  n.out_contents[0] = out;
}

// ---------------------------------------------------------------------------------------------

struct Rule {
  void (*infer)(NodeInference&);
  void (*contents)(NodeInference&) = nullptr;
};

const std::map<std::string, Rule, std::less<>>& rules() {
  static const std::map<std::string, Rule, std::less<>> table = [] {
    std::map<std::string, Rule, std::less<>> t;
    // Ops named in a blank-separated list share a rule.
    const auto add = [&](std::string_view ops, Rule rule) {
      while (!ops.empty()) {
        const size_t end = std::min(ops.find(' '), ops.size());
        if (end > 0) t.emplace(std::string(ops.substr(0, end)), rule);
        ops.remove_prefix(std::min(end + 1, ops.size()));
      }
    };
    add("Abs Relu Sigmoid Tanh Exp Log Sqrt Reciprocal Floor Ceil Round Sign Erf Sin Cos Tan "
        "Asin Acos Atan Sinh Cosh Asinh Acosh Atanh Softplus Softsign Selu Elu LeakyRelu "
        "ThresholdedRelu HardSigmoid HardSwish Mish Gelu Celu Not Clip Shrink BitwiseNot LRN "
        "MeanVarianceNormalization InstanceNormalization GroupNormalization LpNormalization Trilu "
        "CumSum ReverseSequence Scatter ScatterElements ScatterND Swish",
        {same_as_input});
    add("Identity", {same_as_input, same_contents});
    add("Neg", {same_as_input, negated_contents});
    add("Softmax LogSoftmax Hardmax", {softmax});
    add("IsNaN IsInf", {to_bool});
    add("Dropout", {dropout});
    add("Cast", {cast, same_contents});
    add("CastLike", {cast_like});
    add("Bernoulli RandomNormalLike RandomUniformLike", {like_input});
    add("RandomNormal RandomUniform", {random_tensor});
    add("EyeLike", {eye_like});
    add("Add Sub Mul Div", {binary, arithmetic_contents});
    add("Mod BitShift BitwiseAnd BitwiseOr BitwiseXor PRelu", {binary});
    add("Sum Mean Max Min", {variadic});
    add("Equal Less Greater LessOrEqual GreaterOrEqual And Or Xor", {compare});
    add("Pow", {power});
    add("Where", {where});
    add("MatMul", {matmul});
    add("MatMulInteger", {matmul_integer});
    add("QLinearMatMul", {qlinear_matmul});
    add("Gemm", {gemm});
    add("Einsum", {einsum});
    add("Conv", {conv});
    add("ConvInteger", {conv_integer});
    add("QLinearConv", {qlinear_conv});
    add("ConvTranspose", {conv_transpose});
    add("MaxPool AveragePool LpPool", {pool});
    add("GlobalAveragePool GlobalMaxPool GlobalLpPool", {global_pool});
    add("MaxUnpool", {max_unpool});
    add("RoiAlign", {roi_align});
    add("GridSample", {grid_sample});
    add("BatchNormalization", {batch_norm});
    add("LayerNormalization", {layer_norm});
    add("ReduceSum ReduceMean ReduceMax ReduceMin ReduceProd ReduceL1 ReduceL2 ReduceLogSum "
        "ReduceLogSumExp ReduceSumSquare",
        {reduce});
    add("ArgMax ArgMin", {arg_reduce});
    add("Reshape", {reshape, same_contents});
    add("Flatten", {flatten});
    add("Squeeze", {squeeze, same_contents});
    add("Unsqueeze", {unsqueeze, same_contents});
    add("Transpose", {transpose});
    add("Concat", {concat, concat_contents});
    add("Split", {split});
    add("Slice", {slice, slice_contents});
    add("Gather", {gather, gather_contents});
    add("GatherElements", {gather_elements});
    add("GatherND", {gather_nd});
    add("Expand", {expand});
    add("Tile", {tile});
    add("Pad", {pad});
    add("Shape", {shape_op});
    add("Size", {size_op});
    add("ConstantOfShape", {constant_of_shape});
    add("Constant", {constant});
    add("Range", {range});
    add("TopK", {top_k});
    add("OneHot", {one_hot});
    add("NonZero", {non_zero});
    add("DepthToSpace", {depth_to_space});
    add("SpaceToDepth", {space_to_depth});
    add("Resize", {resize});
    add("Upsample", {upsample});
    add("Compress", {compress});
    add("Det", {det});
    add("QuantizeLinear", {quantize});
    add("DequantizeLinear", {dequantize});
    add("DynamicQuantizeLinear", {dynamic_quantize});
    add("HannWindow HammingWindow BlackmanWindow", {window_function});
    add("NonMaxSuppression", {non_max_suppression});
    add("NegativeLogLikelihoodLoss SoftmaxCrossEntropyLoss", {loss});
    add("RNN GRU LSTM", {recurrent});
    return t;
  }();
  return table;
}

void Inference::refine(ValueId id, const TensorType& inferred, const std::string& label) {
  ir::Value& v = graph_.value(id);
  TensorType merged = v.type;
  bool conflict = false;
  if (inferred.element != ElementType::Undefined) {
    if (merged.element == ElementType::Undefined)
      merged.element = inferred.element;
    else
      conflict |= merged.element != inferred.element;
  }
  if (inferred.dims) {
    if (!merged.dims) {
      merged.dims = inferred.dims;
    } else if (merged.dims->size() != inferred.dims->size()) {
      conflict = true;
    } else {
      for (size_t i = 0; i < merged.dims->size(); ++i) {
        int64_t& known = (*merged.dims)[i];
        const int64_t given = (*inferred.dims)[i];
        if (known == kUnknown)
          known = given;
        else
          conflict |= given != kUnknown && given != known;
      }
    }
  }
  if (conflict)
    throw InputError(label + ": output '" + v.name + "' is declared " + type_text(v.type) +
                     " but the inputs give " + type_text(inferred));
  v.type = std::move(merged);
}

void Inference::record(ValueId id, const std::optional<Ints>& c, const HostTensorPtr& t) {
  const auto i = static_cast<size_t>(id);
  constants_[i] = t;
  // Only contents that match the output's (now refined) type: a scalar or a vector, whose element
  // type holds each entry exactly.
  const TensorType& type = graph_.values[i].type;
  if (!c || !tracks_contents(type.element) || !type.dims || type.dims->size() > 1) return;
  const int64_t count = type.dims->empty() ? 1 : (*type.dims)[0];
  if (count != static_cast<int64_t>(c->size()) || count > kMaxTracked) return;
  Ints exact = *c;
  for (auto& v : exact)
    if (v && !exact_in(type.element, *v)) v.reset();
  contents_[i] = std::move(exact);
}

// Operators of SeedChip's own domain that the passes create (graph builders that emit others give
// their output types).
const std::map<std::string, Rule, std::less<>>& seedchip_rules() {
  static const std::map<std::string, Rule, std::less<>> table = {{"Attention", {attention}},
                                                                 {"TransposeView", {transpose}}};
  return table;
}

void Inference::run(size_t index) {
  const ir::Node& node = graph_.nodes[index];
  const bool onnx = node.domain.empty() || node.domain == "ai.onnx";
  if (!onnx && node.domain != "seedchip") return;
  const auto& table = onnx ? rules() : seedchip_rules();
  const auto rule = table.find(node.op);
  if (rule == table.end()) return;
  NodeInference n(*this, graph_, node, node.label(index));
  rule->second.infer(n);
  if (rule->second.contents && !n.out.empty()) rule->second.contents(n);
  for (size_t k = 0; k < node.outputs.size(); ++k) {
    const ValueId out = node.outputs[k];
    if (out == kNoValue) continue;
    refine(out, n.out[k], n.label);
    record(out, n.out_contents[k], k == 0 ? n.out_tensor : nullptr);
  }
}

}  // namespace

void infer_shapes(ir::Graph& graph) {
  Inference pass(graph);
  for (size_t i = 0; i < graph.nodes.size(); ++i) pass.run(i);
}

const std::vector<std::string>& shape_inference_ops() {
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> v;
    for (const auto& [op, rule] : rules()) v.push_back(op);
    return v;
  }();
  return ops;
}

}  // namespace seedchip::compiler::passes
