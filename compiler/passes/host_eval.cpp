#include "compiler/passes/host_eval.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <numeric>
#include <type_traits>
#include <utility>

#include "arch/error.h"

namespace seedchip::compiler::passes {
namespace {

using ir::ElementType;
using ir::HostTensor;
using Dims = std::vector<int64_t>;

static_assert(std::endian::native == std::endian::little, "HostTensor bytes are little-endian");

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
// A graph built in code may import no default-domain opset; it gets the newest operator forms.
constexpr int64_t kNewestOpset = kInt64Max;

// Thrown where the evaluator gives up although the inputs are valid: an op form, dtype or
// attribute it does not implement, or a result above kMaxFoldedElements. Becomes nullopt.
struct NotFoldable {};

[[noreturn]] void unsupported() { throw NotFoldable{}; }
[[noreturn]] void fail(const std::string& what) { throw InputError(what); }

std::string text(const Dims& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += ",";
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

std::string name_of(ElementType e) { return std::string(ir::element_name(e)); }

int64_t rank_of(const HostTensor& t) { return static_cast<int64_t>(t.dims.size()); }

// Saturating arithmetic on dims, so that an absurd shape compares as too large instead of
// overflowing.
int64_t mul_dims(int64_t a, int64_t b) {  // a, b >= 0
  if (a == 0 || b == 0) return 0;
  return a > kInt64Max / b ? kInt64Max : a * b;
}

int64_t add_saturated(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum))
    return b > 0 ? kInt64Max : std::numeric_limits<int64_t>::min();
  return sum;
}

int64_t product(Dims::const_iterator first, Dims::const_iterator last) {
  int64_t n = 1;
  for (; first != last; ++first) n = mul_dims(n, *first);
  return n;
}

int64_t count_of(const Dims& dims) { return product(dims.begin(), dims.end()); }

// Row-major strides. Unsigned arithmetic: an empty tensor may have dims whose product overflows;
// its strides are never used, but computing them must not be undefined behaviour.
Dims strides_of(const Dims& dims) {
  Dims strides(dims.size());
  uint64_t step = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = static_cast<int64_t>(step);
    step *= static_cast<uint64_t>(dims[i]);
  }
  return strides;
}

int64_t norm_axis(int64_t axis, int64_t rank, const std::string& what) {
  if (axis < -rank || axis >= rank)
    fail(what + " " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

// Inputs come from constants the graph verified, but a frontend or a test may hand over anything:
// their data must match their dims before any element is read.
void check_dims(const HostTensor& t, const std::string& what) {
  for (int64_t d : t.dims)
    if (d < 0) fail(what + " has a negative dimension: " + text(t.dims));
}

void check_data(const HostTensor& t, const std::string& what) {
  check_dims(t, what);
  const int64_t n = count_of(t.dims);
  if (t.element == ElementType::String) {
    if (static_cast<int64_t>(t.strings.size()) != n)
      fail(what + " holds " + std::to_string(t.strings.size()) + " strings for dims " +
           text(t.dims));
    return;
  }
  const size_t width = ir::element_bytes(t.element);
  if (width == 0) unsupported();
  if (t.bytes.size() % width != 0 || static_cast<int64_t>(t.bytes.size() / width) != n)
    fail(what + " holds " + std::to_string(t.bytes.size()) + " bytes of " + name_of(t.element) +
         " data for dims " + text(t.dims));
}

// The element count of a result, which must not exceed the cap. Its dims' running product must
// stay within int64 too, even when a later 0 makes the tensor empty, so that
// HostTensor::element_count() is defined on every result.
int64_t result_count(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims)
    if (__builtin_mul_overflow(n, d, &n)) unsupported();
  if (n > kMaxFoldedElements) unsupported();
  return n;
}

// Results are made only here, zero-filled, and by reshaped(): both check the cap first.
HostTensor allocate(ElementType element, Dims dims) {
  const int64_t n = result_count(dims);
  HostTensor t;
  t.element = element;
  t.dims = std::move(dims);
  if (element == ElementType::String)
    t.strings.resize(static_cast<size_t>(n));
  else
    t.bytes.resize(static_cast<size_t>(n) * ir::element_bytes(element));
  return t;
}

HostTensor reshaped(const HostTensor& x, Dims dims) {
  result_count(dims);
  HostTensor t = x;
  t.dims = std::move(dims);
  return t;
}

void copy_element(HostTensor& dst, int64_t to, const HostTensor& src, int64_t from) {
  if (src.element == ElementType::String) {
    dst.strings[static_cast<size_t>(to)] = src.strings[static_cast<size_t>(from)];
    return;
  }
  const size_t width = ir::element_bytes(src.element);
  std::memcpy(dst.bytes.data() + static_cast<size_t>(to) * width,
              src.bytes.data() + static_cast<size_t>(from) * width, width);
}

// Visits the elements of a tensor of `dims` in row-major order, calling fn(offsets) with
// offsets[k] = base[k] + sum over d of coord[d] * strides[k][d]: where that element lies in K
// tensors read through strided views (broadcast, transposed, sliced, tiled).
template <class Fn>
void walk(const Dims& dims, const std::vector<Dims>& strides, Dims offsets, Fn&& fn) {
  if (count_of(dims) == 0) return;
  Dims coord(dims.size(), 0);
  while (true) {
    fn(std::as_const(offsets));
    size_t d = dims.size();
    while (true) {
      if (d == 0) return;
      --d;
      for (size_t k = 0; k < strides.size(); ++k) offsets[k] += strides[k][d];
      if (++coord[d] < dims[d]) break;
      for (size_t k = 0; k < strides.size(); ++k) offsets[k] -= strides[k][d] * dims[d];
      coord[d] = 0;
    }
  }
}

// NumPy multidirectional broadcasting.
Dims broadcast(const std::vector<const Dims*>& shapes) {
  size_t rank = 0;
  for (const Dims* s : shapes) rank = std::max(rank, s->size());
  Dims out(rank, 1);
  for (const Dims* s : shapes) {
    const size_t lead = rank - s->size();
    for (size_t i = 0; i < s->size(); ++i) {
      int64_t& o = out[lead + i];
      const int64_t d = (*s)[i];
      if (o == 1) {
        o = d;
      } else if (d != 1 && d != o) {
        std::string all;
        for (const Dims* t : shapes) all += (all.empty() ? "" : " and ") + text(*t);
        fail("cannot broadcast " + all);
      }
    }
  }
  return out;
}

// The strides that read a tensor of `dims` as one of the broadcast shape `out`.
Dims broadcast_strides(const Dims& dims, const Dims& out) {
  const Dims own = strides_of(dims);
  const size_t lead = out.size() - dims.size();
  Dims strides(out.size(), 0);
  for (size_t i = 0; i < dims.size(); ++i)
    if (dims[i] != 1) strides[lead + i] = own[i];
  return strides;
}

// ---- Element types -------------------------------------------------------------------------

struct F16 {
  uint16_t bits;
  static constexpr int kExponent = 5, kMantissa = 10;
};
struct BF16 {
  uint16_t bits;
  static constexpr int kExponent = 8, kMantissa = 7;
};
template <class T>
constexpr bool is_half = std::is_same_v<T, F16> || std::is_same_v<T, BF16>;
template <class T>
constexpr bool is_int = std::is_integral_v<T> && !std::is_same_v<T, bool>;

template <class... Ts>
struct TypeList {};
template <class... A, class... B>
constexpr TypeList<A..., B...> operator+(TypeList<A...>, TypeList<B...>) {
  return {};
}
using IntTypes = TypeList<int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t>;
using FloatTypes = TypeList<float, double>;
using BoolType = TypeList<bool>;
using NumberTypes = decltype(IntTypes{} + FloatTypes{});
using PlainTypes = decltype(NumberTypes{} + BoolType{});
using CastTypes = decltype(PlainTypes{} + TypeList<F16, BF16>{});
using RangeTypes = TypeList<int16_t, int32_t, int64_t, float, double>;

template <class T>
constexpr ElementType element_of() {
  if constexpr (std::is_same_v<T, bool>) return ElementType::Bool;
  if constexpr (std::is_same_v<T, int8_t>) return ElementType::I8;
  if constexpr (std::is_same_v<T, int16_t>) return ElementType::I16;
  if constexpr (std::is_same_v<T, int32_t>) return ElementType::I32;
  if constexpr (std::is_same_v<T, int64_t>) return ElementType::I64;
  if constexpr (std::is_same_v<T, uint8_t>) return ElementType::U8;
  if constexpr (std::is_same_v<T, uint16_t>) return ElementType::U16;
  if constexpr (std::is_same_v<T, uint32_t>) return ElementType::U32;
  if constexpr (std::is_same_v<T, uint64_t>) return ElementType::U64;
  if constexpr (std::is_same_v<T, float>) return ElementType::F32;
  if constexpr (std::is_same_v<T, double>) return ElementType::F64;
  if constexpr (std::is_same_v<T, F16>) return ElementType::F16;
  if constexpr (std::is_same_v<T, BF16>) return ElementType::BF16;
}

// Calls fn(std::type_identity<T>{}) for the C++ type T of `element` among `types`; an element type
// outside them is not implemented for that op.
template <class... Ts, class Fn>
HostTensor dispatch(TypeList<Ts...>, ElementType element, Fn&& fn) {
  std::optional<HostTensor> out;
  (void)((element == element_of<Ts>() ? (out.emplace(fn(std::type_identity<Ts>{})), true)
                                      : false) ||
         ...);
  if (!out) unsupported();
  return std::move(*out);
}

template <class T>
T get(const HostTensor& t, int64_t i) {
  if constexpr (std::is_same_v<T, bool>) {
    return t.bytes[static_cast<size_t>(i)] != 0;
  } else {
    T v{};
    std::memcpy(&v, t.bytes.data() + static_cast<size_t>(i) * sizeof(T), sizeof(T));
    return v;
  }
}

template <class T>
void put(HostTensor& t, int64_t i, T v) {
  if constexpr (std::is_same_v<T, bool>)
    t.bytes[static_cast<size_t>(i)] = v ? 1 : 0;
  else
    std::memcpy(t.bytes.data() + static_cast<size_t>(i) * sizeof(T), &v, sizeof(T));
}

template <class T>
HostTensor tensor_of(Dims dims, const std::vector<T>& values) {
  HostTensor t = allocate(element_of<T>(), std::move(dims));
  for (size_t i = 0; i < values.size(); ++i) put<T>(t, static_cast<int64_t>(i), values[i]);
  return t;
}

// Integer elements (i32 or i64) of an index-like input, any shape.
Dims int_elements(const HostTensor& t, const std::string& what) {
  const int64_t n = count_of(t.dims);
  Dims out(static_cast<size_t>(n));
  if (t.element == ElementType::I64) {
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = get<int64_t>(t, i);
  } else if (t.element == ElementType::I32) {
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = get<int32_t>(t, i);
  } else {
    fail(what + " must be i64 or i32, not " + name_of(t.element));
  }
  return out;
}

// A list-like input (axes, shape, starts, ...). ONNX says 1-D; exporters also write scalars.
Dims int_list(const HostTensor& t, const std::string& what) {
  if (t.dims.size() > 1) fail(what + " must be a 1-D tensor, not " + text(t.dims));
  return int_elements(t, what);
}

// ---- Conversions ---------------------------------------------------------------------------

// Rounds x to the nearest value of a binary floating-point format with `exponent_bits` and
// `mantissa_bits` (ties to even, overflow to infinity, subnormals kept) and returns its encoding.
uint64_t encode_float(double x, int exponent_bits, int mantissa_bits) {
  const uint64_t sign = std::signbit(x) ? uint64_t{1} << (exponent_bits + mantissa_bits) : 0;
  const uint64_t infinity = ((uint64_t{1} << exponent_bits) - 1) << mantissa_bits;
  if (std::isnan(x)) return sign | infinity | uint64_t{1} << (mantissa_bits - 1);
  const double magnitude = std::fabs(x);
  if (magnitude == 0) return sign;
  if (std::isinf(magnitude)) return sign | infinity;
  const int bias = (1 << (exponent_bits - 1)) - 1;
  int e = 0;
  std::frexp(magnitude, &e);  // magnitude = f * 2^e, f in [0.5, 1)
  // Subnormals share the smallest normal exponent. The significand keeps its leading 1 and is
  // added to the exponent field one below its value, so a significand that rounds up into the
  // next binade (or from subnormal to normal) carries into the exponent by itself.
  const int exponent = std::max(e - 1, 1 - bias);
  const auto significand =
      static_cast<uint64_t>(std::nearbyint(std::ldexp(magnitude, mantissa_bits - exponent)));
  const uint64_t bits = (static_cast<uint64_t>(exponent + bias - 1) << mantissa_bits) + significand;
  return sign | std::min(bits, infinity);
}

double decode_float(uint64_t bits, int exponent_bits, int mantissa_bits) {
  const int bias = (1 << (exponent_bits - 1)) - 1;
  const uint64_t mantissa = bits & ((uint64_t{1} << mantissa_bits) - 1);
  const uint64_t field = (bits >> mantissa_bits) & ((uint64_t{1} << exponent_bits) - 1);
  const bool negative = (bits >> (exponent_bits + mantissa_bits)) & 1;
  double magnitude = 0;
  if (field == (uint64_t{1} << exponent_bits) - 1)
    magnitude = mantissa ? std::numeric_limits<double>::quiet_NaN()
                         : std::numeric_limits<double>::infinity();
  else if (field == 0)
    magnitude = std::ldexp(static_cast<double>(mantissa), 1 - bias - mantissa_bits);
  else
    magnitude = std::ldexp(static_cast<double>(mantissa | uint64_t{1} << mantissa_bits),
                           static_cast<int>(field) - bias - mantissa_bits);
  return negative ? -magnitude : magnitude;
}

// A value as a double that rounds correctly to any narrower format. 64-bit integers that do not
// fit 53 bits are rounded to odd (the bits shifted out are OR-ed into the last one kept), which
// avoids the double-rounding error of converting through a plain double.
template <class S>
double narrowable(S v) {
  if constexpr (!std::is_integral_v<S> || sizeof(S) < 8) {
    return static_cast<double>(v);
  } else {
    bool negative = false;
    if constexpr (std::is_signed_v<S>) negative = v < 0;
    uint64_t m = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
    int shift = 0;
    for (; m >> 53; ++shift) m = (m >> 1) | (m & 1);
    const double magnitude = std::ldexp(static_cast<double>(m), shift);
    return negative ? -magnitude : magnitude;
  }
}

// ONNX leaves out-of-range float-to-integer casts undefined (and so does C++); they saturate here,
// NaN giving 0.
template <class D>
D saturated(double x) {
  if (std::isnan(x)) return 0;
  const double t = std::trunc(x);
  if (t < static_cast<double>(std::numeric_limits<D>::min())) return std::numeric_limits<D>::min();
  if (t >= std::ldexp(1.0, std::numeric_limits<D>::digits)) return std::numeric_limits<D>::max();
  return static_cast<D>(t);
}

template <class D, class S>
D convert(S v) {
  if constexpr (is_half<S>) {
    return convert<D>(decode_float(v.bits, S::kExponent, S::kMantissa));
  } else if constexpr (std::is_same_v<D, bool>) {
    return v != 0;
  } else if constexpr (std::is_integral_v<D>) {
    if constexpr (std::is_integral_v<S>)
      return static_cast<D>(v);  // two's complement wrap-around, as ONNX Runtime does
    else
      return saturated<D>(static_cast<double>(v));
  } else if constexpr (std::is_same_v<D, double>) {
    return static_cast<double>(v);
  } else if constexpr (std::is_same_v<D, float>) {
    // Not static_cast: a double beyond the float range converts with undefined behaviour.
    return std::bit_cast<float>(static_cast<uint32_t>(encode_float(narrowable(v), 8, 23)));
  } else {
    return D{static_cast<uint16_t>(encode_float(narrowable(v), D::kExponent, D::kMantissa))};
  }
}

// ---- Element-wise arithmetic ---------------------------------------------------------------
// Integer arithmetic wraps around (two's complement), where C++ would overflow undefinedly.

struct AddOp {
  template <class T>
  static T apply(T a, T b) {
    if constexpr (is_int<T>)
      return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
    else
      return a + b;
  }
};
struct SubOp {
  template <class T>
  static T apply(T a, T b) {
    if constexpr (is_int<T>)
      return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
    else
      return a - b;
  }
};
struct MulOp {
  template <class T>
  static T apply(T a, T b) {
    if constexpr (is_int<T>)
      return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
    else
      return a * b;
  }
};
struct NegOp {
  template <class T>
  static T apply(T a) {
    if constexpr (is_int<T>)
      return static_cast<T>(0 - static_cast<uint64_t>(a));
    else
      return -a;
  }
};
struct AbsOp {
  template <class T>
  static T apply(T a) {
    if constexpr (std::is_unsigned_v<T>)
      return a;
    else
      return a < 0 ? NegOp::apply(a) : a;
  }
};
// Integer division truncates toward zero, as ONNX's reference (NumPy division cast back to the
// integer type) and ONNX Runtime do.
struct DivOp {
  template <class T>
  static T apply(T a, T b) {
    if constexpr (is_int<T>) {
      if (b == 0) fail("integer division by zero");
      if constexpr (std::is_signed_v<T>) {
        if (b == -1) return NegOp::apply(a);  // the minimum divided by -1 overflows
      }
      return static_cast<T>(a / b);
    } else {
      return a / b;
    }
  }
};

// NaN propagates through Min and Max, as in NumPy's minimum and maximum.
template <class T>
T min_of(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
  }
  return b < a ? b : a;
}
template <class T>
T max_of(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(a)) return a;
    if (std::isnan(b)) return b;
  }
  return a < b ? b : a;
}
struct MinOp {
  template <class T>
  static T apply(T a, T b) {
    return min_of(a, b);
  }
};
struct MaxOp {
  template <class T>
  static T apply(T a, T b) {
    return max_of(a, b);
  }
};

struct EqualOp {
  template <class T>
  static bool apply(T a, T b) {
    return a == b;
  }
};
struct LessOp {
  template <class T>
  static bool apply(T a, T b) {
    return a < b;
  }
};
struct GreaterOp {
  template <class T>
  static bool apply(T a, T b) {
    return a > b;
  }
};
struct LessOrEqualOp {
  template <class T>
  static bool apply(T a, T b) {
    return a <= b;
  }
};
struct GreaterOrEqualOp {
  template <class T>
  static bool apply(T a, T b) {
    return a >= b;
  }
};
struct AndOp {
  static bool apply(bool a, bool b) { return a && b; }
};
struct OrOp {
  static bool apply(bool a, bool b) { return a || b; }
};
struct NotOp {
  static bool apply(bool a) { return !a; }
};
struct FloorOp {
  template <class T>
  static T apply(T a) {
    return std::floor(a);
  }
};
struct CeilOp {
  template <class T>
  static T apply(T a) {
    return std::ceil(a);
  }
};
struct ReluOp {
  template <class T>
  static T apply(T a) {
    if constexpr (std::is_unsigned_v<T>)
      return a;
    else
      return a < T(0) ? T(0) : a;  // NaN stays NaN, as max(x, 0) keeps it
  }
};
struct SqrtOp {
  template <class T>
  static T apply(T a) {
    return std::sqrt(a);
  }
};
struct ReciprocalOp {
  template <class T>
  static T apply(T a) {
    return T(1) / a;
  }
};

// out = f(a, b) over the broadcast of a and b.
template <class R, class T, class F>
HostTensor binary(const HostTensor& a, const HostTensor& b, F f) {
  const Dims dims = broadcast({&a.dims, &b.dims});
  HostTensor out = allocate(element_of<R>(), dims);
  int64_t i = 0;
  walk(dims, {broadcast_strides(a.dims, dims), broadcast_strides(b.dims, dims)}, {0, 0},
       [&](const Dims& at) { put<R>(out, i++, f(get<T>(a, at[0]), get<T>(b, at[1]))); });
  return out;
}

template <class R, class T, class F>
HostTensor unary(const HostTensor& x, F f) {
  HostTensor out = allocate(element_of<R>(), x.dims);
  const int64_t n = count_of(x.dims);
  for (int64_t i = 0; i < n; ++i) put<R>(out, i, f(get<T>(x, i)));
  return out;
}

// ---- Calls ---------------------------------------------------------------------------------

struct Call {
  const ir::Node& node;
  int64_t opset;
  const std::vector<const HostTensor*>& inputs;

  // Checks the number of inputs, not counting omitted ones at the end, and returns it.
  size_t arity(size_t least, size_t most) const {
    size_t n = inputs.size();
    while (n > 0 && !inputs[n - 1]) --n;
    if (n < least || n > most) {
      std::string expected = std::to_string(least);
      if (most == SIZE_MAX)
        expected += " or more";
      else if (most != least)
        expected += " to " + std::to_string(most);
      fail("has " + std::to_string(n) + " inputs; expected " + expected);
    }
    return n;
  }
  const HostTensor* optional(size_t i) const { return i < inputs.size() ? inputs[i] : nullptr; }
  const HostTensor& in(size_t i) const {
    const HostTensor* t = optional(i);
    if (!t) fail("input " + std::to_string(i) + " is missing");
    return *t;
  }
  // The attribute `key`, nullptr if absent; InputError if it is of another kind.
  template <class T>
  const T* attr(const std::string& key) const {
    const auto it = node.attributes.find(key);
    if (it == node.attributes.end()) return nullptr;
    const T* v = std::get_if<T>(&it->second);
    if (!v)
      fail("attribute '" + key + "' is of kind " +
           std::string(ir::attribute_kind_name(it->second)) + ", expected " +
           std::string(ir::attribute_kind_name(ir::AttributeValue(T{}))));
    return v;
  }
  int64_t int_attr(const std::string& key, int64_t fallback) const {
    const int64_t* v = attr<int64_t>(key);
    return v ? *v : fallback;
  }
  const Dims& ints_attr(const std::string& key) const {
    const Dims* v = attr<Dims>(key);
    if (!v) fail("has no '" + key + "' attribute");
    return *v;
  }
};

void same_element(const HostTensor& a, const HostTensor& b) {
  if (a.element != b.element)
    fail("inputs have different element types (" + name_of(a.element) + " and " +
         name_of(b.element) + ")");
}

template <class Types, class Op>
HostTensor binary_op(const Call& c) {
  c.arity(2, 2);
  const HostTensor &a = c.in(0), &b = c.in(1);
  same_element(a, b);
  return dispatch(Types{}, a.element, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using R = decltype(Op::apply(T{}, T{}));
    return binary<R, T>(a, b, [](T x, T y) { return Op::apply(x, y); });
  });
}

template <class Types, class Op>
HostTensor unary_op(const Call& c) {
  c.arity(1, 1);
  const HostTensor& x = c.in(0);
  return dispatch(Types{}, x.element, [&](auto tag) {
    using T = typename decltype(tag)::type;
    return unary<T, T>(x, [](T v) { return Op::apply(v); });
  });
}

// Min and Max take any number of inputs.
template <class Op>
HostTensor variadic_op(const Call& c) {
  const size_t n = c.arity(1, SIZE_MAX);
  const HostTensor& first = c.in(0);
  for (size_t i = 1; i < n; ++i) same_element(first, c.in(i));
  return dispatch(NumberTypes{}, first.element, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HostTensor acc = reshaped(first, first.dims);
    for (size_t i = 1; i < n; ++i)
      acc = binary<T, T>(acc, c.in(i), [](T a, T b) { return Op::apply(a, b); });
    return acc;
  });
}

HostTensor mod(const Call& c) {
  c.arity(2, 2);
  const HostTensor &a = c.in(0), &b = c.in(1);
  same_element(a, b);
  const bool fmod = c.int_attr("fmod", 0) != 0;
  return dispatch(NumberTypes{}, a.element, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      if (!fmod) fail("Mod of floating-point tensors needs fmod = 1");
      return binary<T, T>(a, b, [](T x, T y) { return std::fmod(x, y); });
    } else {
      return binary<T, T>(a, b, [fmod](T x, T y) {
        if (y == 0) fail("integer modulo by zero");
        if constexpr (std::is_signed_v<T>) {
          if (y == -1) return T(0);  // the minimum modulo -1 overflows in C++
          // fmod = 0: the remainder takes the divisor's sign, as in Python.
          const auto r = static_cast<T>(x % y);
          return !fmod && r != 0 && (r < 0) != (y < 0) ? static_cast<T>(r + y) : r;
        } else {
          (void)fmod;  // unsigned remainders have one sign
          return static_cast<T>(x % y);
        }
      });
    }
  });
}

HostTensor where(const Call& c) {
  c.arity(3, 3);
  const HostTensor &cond = c.in(0), &x = c.in(1), &y = c.in(2);
  if (cond.element != ElementType::Bool)
    fail("condition must be bool, not " + name_of(cond.element));
  same_element(x, y);
  const Dims dims = broadcast({&cond.dims, &x.dims, &y.dims});
  HostTensor out = allocate(x.element, dims);
  int64_t i = 0;
  walk(dims,
       {broadcast_strides(cond.dims, dims), broadcast_strides(x.dims, dims),
        broadcast_strides(y.dims, dims)},
       {0, 0, 0}, [&](const Dims& at) {
         if (get<bool>(cond, at[0]))
           copy_element(out, i++, x, at[1]);
         else
           copy_element(out, i++, y, at[2]);
       });
  return out;
}

HostTensor clip(const Call& c) {
  const HostTensor& x = c.in(0);
  if (c.opset < 11) {
    c.arity(1, 1);
    const float* lo = c.attr<float>("min");
    const float* hi = c.attr<float>("max");
    return dispatch(FloatTypes{}, x.element, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T low = lo ? T(*lo) : -std::numeric_limits<T>::infinity();
      const T high = hi ? T(*hi) : std::numeric_limits<T>::infinity();
      return unary<T, T>(x, [&](T v) { return min_of(max_of(v, low), high); });
    });
  }
  c.arity(1, 3);
  const HostTensor* bounds[2] = {c.optional(1), c.optional(2)};
  for (const HostTensor* b : bounds) {
    if (!b) continue;
    same_element(x, *b);
    if (count_of(b->dims) != 1) fail("min and max must be scalars, not " + text(b->dims));
  }
  return dispatch(NumberTypes{}, x.element, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T low = bounds[0] ? get<T>(*bounds[0], 0) : std::numeric_limits<T>::lowest();
    const T high = bounds[1] ? get<T>(*bounds[1], 0) : std::numeric_limits<T>::max();
    return unary<T, T>(x, [&](T v) { return min_of(max_of(v, low), high); });
  });
}

std::optional<ElementType> onnx_element(int64_t code) {
  switch (code) {
    case 1:
      return ElementType::F32;
    case 2:
      return ElementType::U8;
    case 3:
      return ElementType::I8;
    case 4:
      return ElementType::U16;
    case 5:
      return ElementType::I16;
    case 6:
      return ElementType::I32;
    case 7:
      return ElementType::I64;
    case 8:
      return ElementType::String;
    case 9:
      return ElementType::Bool;
    case 10:
      return ElementType::F16;
    case 11:
      return ElementType::F64;
    case 12:
      return ElementType::U32;
    case 13:
      return ElementType::U64;
    case 14:
      return ElementType::C64;
    case 15:
      return ElementType::C128;
    case 16:
      return ElementType::BF16;
    default:
      return std::nullopt;
  }
}

HostTensor cast(const Call& c) {
  c.arity(1, 1);
  const HostTensor& x = c.in(0);
  const int64_t* to = c.attr<int64_t>("to");
  if (!to) fail("has no 'to' attribute");
  const std::optional<ElementType> target = onnx_element(*to);
  if (!target) unsupported();
  if (*target == x.element) return reshaped(x, x.dims);
  return dispatch(CastTypes{}, x.element, [&](auto from) {
    using S = typename decltype(from)::type;
    return dispatch(CastTypes{}, *target, [&](auto into) {
      using D = typename decltype(into)::type;
      // f32 to bf16 truncates, as ONNX's reference does and the chip's Cast (lower_cast).
      // (Spelled with float and BF16, not S and D: a compiler may check the discarded branch for
      // every S, where the bit cast has no meaning.)
      if constexpr (std::is_same_v<S, float> && std::is_same_v<D, BF16>)
        return unary<BF16, float>(x, [](float v) {
          return BF16{static_cast<uint16_t>(std::bit_cast<uint32_t>(v) >> 16)};
        });
      else
        return unary<D, S>(x, [](S v) { return convert<D>(v); });
    });
  });
}

// ---- Shapes and constants ------------------------------------------------------------------

HostTensor constant(const Call& c) {
  c.arity(0, 0);
  if (c.node.attributes.count("sparse_value")) unsupported();
  static constexpr std::array<const char*, 7> kKeys = {
      "value",      "value_float",  "value_floats", "value_int",
      "value_ints", "value_string", "value_strings"};
  size_t given = 0;
  for (const char* key : kKeys) given += c.node.attributes.count(key);
  if (given != 1)
    fail(
        "needs exactly one of the attributes value, value_float(s), value_int(s), "
        "value_string(s)");
  if (const auto* t = c.attr<ir::HostTensorPtr>("value")) {
    if (!*t) fail("attribute 'value' holds no tensor");
    check_data(**t, "attribute 'value'");
    return reshaped(**t, (*t)->dims);
  }
  if (const float* v = c.attr<float>("value_float")) return tensor_of<float>({}, {*v});
  if (const auto* v = c.attr<std::vector<float>>("value_floats"))
    return tensor_of<float>({static_cast<int64_t>(v->size())}, *v);
  if (const int64_t* v = c.attr<int64_t>("value_int")) return tensor_of<int64_t>({}, {*v});
  if (const Dims* v = c.attr<Dims>("value_ints"))
    return tensor_of<int64_t>({static_cast<int64_t>(v->size())}, *v);
  if (const std::string* v = c.attr<std::string>("value_string")) {
    HostTensor t = allocate(ElementType::String, {});
    t.strings = {*v};
    return t;
  }
  const auto& strings = *c.attr<std::vector<std::string>>("value_strings");
  HostTensor t = allocate(ElementType::String, {static_cast<int64_t>(strings.size())});
  t.strings = strings;
  return t;
}

HostTensor identity(const Call& c) {
  c.arity(1, 1);
  return reshaped(c.in(0), c.in(0).dims);
}

HostTensor shape(const Call& c) {
  c.arity(1, 1);
  const Dims& dims = c.in(0).dims;
  const auto r = static_cast<int64_t>(dims.size());
  const auto bound = [r](int64_t e) { return std::clamp<int64_t>(e < 0 ? e + r : e, 0, r); };
  const int64_t start = bound(c.int_attr("start", 0));
  const int64_t end = std::max(start, bound(c.int_attr("end", r)));
  return tensor_of<int64_t>({end - start}, Dims(dims.begin() + start, dims.begin() + end));
}

HostTensor size(const Call& c) {
  c.arity(1, 1);
  return tensor_of<int64_t>({}, {count_of(c.in(0).dims)});
}

HostTensor reshape(const Call& c) {
  if (c.opset < 5) unsupported();  // the shape was an attribute then
  c.arity(2, 2);
  const HostTensor& x = c.in(0);
  const Dims shape = int_list(c.in(1), "shape");
  const bool allow_zero = c.int_attr("allowzero", 0) != 0;
  Dims out(shape.size());
  std::optional<size_t> inferred;
  bool has_zero = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    const int64_t s = shape[i];
    if (s == -1) {
      if (inferred) fail("shape " + text(shape) + " has more than one -1");
      inferred = i;
      out[i] = 1;
    } else if (s == 0 && !allow_zero) {
      if (i >= x.dims.size())
        fail("shape " + text(shape) + " copies dim " + std::to_string(i) + " with 0, but data " +
             text(x.dims) + " has rank " + std::to_string(x.dims.size()));
      out[i] = x.dims[i];
    } else if (s < 0) {
      fail("shape " + text(shape) + " has the negative dim " + std::to_string(s));
    } else {
      has_zero = has_zero || s == 0;
      out[i] = s;
    }
  }
  if (allow_zero && has_zero && inferred) fail("allowzero shape " + text(shape) + " has 0 and -1");
  const int64_t n = count_of(x.dims);
  if (inferred) {
    const int64_t known = count_of(out);
    if (known == 0 || n % known != 0)
      fail("cannot reshape data " + text(x.dims) + " to " + text(shape));
    out[*inferred] = n / known;
  }
  if (count_of(out) != n) fail("cannot reshape data " + text(x.dims) + " to " + text(shape));
  return reshaped(x, out);
}

HostTensor flatten(const Call& c) {
  c.arity(1, 1);
  const HostTensor& x = c.in(0);
  const int64_t r = rank_of(x);
  int64_t axis = c.int_attr("axis", 1);
  if (axis < -r || axis > r)
    fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
  if (axis < 0) axis += r;
  const auto split = x.dims.begin() + axis;
  return reshaped(x, {product(x.dims.begin(), split), product(split, x.dims.end())});
}

HostTensor unsqueeze(const Call& c) {
  Dims axes;
  if (c.opset >= 13) {
    c.arity(2, 2);
    axes = int_list(c.in(1), "axes");
  } else {
    c.arity(1, 1);
    axes = c.ints_attr("axes");
  }
  const HostTensor& x = c.in(0);
  const int64_t out_rank = rank_of(x) + static_cast<int64_t>(axes.size());
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : axes) {
    const int64_t k = norm_axis(a, out_rank, "axis");
    if (inserted[static_cast<size_t>(k)]) fail("axes " + text(axes) + " repeat an axis");
    inserted[static_cast<size_t>(k)] = true;
  }
  Dims out;
  auto next = x.dims.begin();
  for (bool one : inserted) out.push_back(one ? 1 : *next++);
  return reshaped(x, out);
}

HostTensor squeeze(const Call& c) {
  std::optional<Dims> axes;
  if (c.opset >= 13) {
    c.arity(1, 2);
    if (const HostTensor* t = c.optional(1)) axes = int_list(*t, "axes");
  } else {
    c.arity(1, 1);
    if (const Dims* a = c.attr<Dims>("axes")) axes = *a;
  }
  const HostTensor& x = c.in(0);
  const int64_t r = rank_of(x);
  std::vector<bool> drop(static_cast<size_t>(r), false);
  // Empty axes squeeze every 1, as ONNX Runtime does.
  if (!axes || axes->empty()) {
    for (int64_t i = 0; i < r; ++i)
      drop[static_cast<size_t>(i)] = x.dims[static_cast<size_t>(i)] == 1;
  } else {
    for (int64_t a : *axes) {
      const auto k = static_cast<size_t>(norm_axis(a, r, "axis"));
      if (drop[k]) fail("axes " + text(*axes) + " repeat an axis");
      if (x.dims[k] != 1)
        fail("cannot squeeze axis " + std::to_string(k) + " of data " + text(x.dims) +
             ": its size is not 1");
      drop[k] = true;
    }
  }
  Dims out;
  for (size_t i = 0; i < x.dims.size(); ++i)
    if (!drop[i]) out.push_back(x.dims[i]);
  return reshaped(x, out);
}

HostTensor gather(const Call& c) {
  c.arity(2, 2);
  const HostTensor &data = c.in(0), &idx = c.in(1);
  if (data.dims.empty()) fail("cannot gather from a scalar");
  const auto axis = static_cast<size_t>(norm_axis(c.int_attr("axis", 0), rank_of(data), "axis"));
  const int64_t size = data.dims[axis];
  Dims indices = int_elements(idx, "indices");
  for (int64_t& k : indices) {
    if (k < -size || k >= size)
      fail("index " + std::to_string(k) + " is out of range for axis " + std::to_string(axis) +
           " of size " + std::to_string(size));
    if (k < 0) k += size;
  }
  Dims dims(data.dims.begin(), data.dims.begin() + static_cast<int64_t>(axis));
  dims.insert(dims.end(), idx.dims.begin(), idx.dims.end());
  dims.insert(dims.end(), data.dims.begin() + static_cast<int64_t>(axis) + 1, data.dims.end());
  HostTensor out = allocate(data.element, dims);
  if (count_of(dims) == 0) return out;
  const int64_t outer = product(data.dims.begin(), data.dims.begin() + static_cast<int64_t>(axis));
  const int64_t inner =
      product(data.dims.begin() + static_cast<int64_t>(axis) + 1, data.dims.end());
  int64_t i = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k : indices)
      for (int64_t j = 0; j < inner; ++j) copy_element(out, i++, data, (o * size + k) * inner + j);
  return out;
}

HostTensor concat(const Call& c) {
  const size_t n = c.arity(1, SIZE_MAX);
  const HostTensor& first = c.in(0);
  if (first.dims.empty()) fail("cannot concatenate scalars");
  const int64_t* axis_attr = c.attr<int64_t>("axis");
  if (!axis_attr) fail("has no 'axis' attribute");
  const auto axis = static_cast<size_t>(norm_axis(*axis_attr, rank_of(first), "axis"));
  Dims dims = first.dims;
  dims[axis] = 0;
  for (size_t k = 0; k < n; ++k) {
    const HostTensor& t = c.in(k);
    same_element(first, t);
    bool fits = t.dims.size() == first.dims.size();
    for (size_t d = 0; fits && d < dims.size(); ++d) fits = d == axis || t.dims[d] == dims[d];
    if (!fits)
      fail("cannot concatenate " + text(first.dims) + " and " + text(t.dims) + " on axis " +
           std::to_string(axis));
    dims[axis] = add_saturated(dims[axis], t.dims[axis]);
  }
  HostTensor out = allocate(first.element, dims);
  if (count_of(dims) == 0) return out;
  const int64_t outer = product(dims.begin(), dims.begin() + static_cast<int64_t>(axis));
  const int64_t inner = product(dims.begin() + static_cast<int64_t>(axis) + 1, dims.end());
  int64_t i = 0;
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t k = 0; k < n; ++k) {
      const HostTensor& t = c.in(k);
      const int64_t chunk = t.dims[axis] * inner;
      for (int64_t j = 0; j < chunk; ++j) copy_element(out, i++, t, o * chunk + j);
    }
  }
  return out;
}

std::vector<HostTensor> split(const Call& c) {
  std::optional<Dims> sizes;
  if (c.opset >= 13) {
    c.arity(1, 2);
    if (const HostTensor* s = c.optional(1)) sizes = int_list(*s, "split");
  } else {
    c.arity(1, 1);
    if (const Dims* s = c.attr<Dims>("split")) sizes = *s;
  }
  const HostTensor& x = c.in(0);
  if (x.dims.empty()) fail("cannot split a scalar");
  const auto axis = static_cast<size_t>(norm_axis(c.int_attr("axis", 0), rank_of(x), "axis"));
  const int64_t d = x.dims[axis];
  const auto n = static_cast<int64_t>(c.node.outputs.size());
  if (n == 0) fail("has no outputs");
  const std::string what = "axis " + std::to_string(axis) + " of size " + std::to_string(d);
  if (sizes) {
    if (static_cast<int64_t>(sizes->size()) != n)
      fail("split " + text(*sizes) + " has " + std::to_string(sizes->size()) + " sizes for " +
           std::to_string(n) + " outputs");
    int64_t sum = 0;
    for (int64_t s : *sizes) {
      if (s < 0) fail("split " + text(*sizes) + " has a negative size");
      sum = add_saturated(sum, s);
    }
    if (sum != d) fail("split " + text(*sizes) + " does not add up to " + what);
  } else if (const int64_t* k = c.attr<int64_t>("num_outputs")) {
    if (*k != n)
      fail("num_outputs is " + std::to_string(*k) + " but the node has " + std::to_string(n) +
           " outputs");
    // Uneven: every part but the last has ceil(d / n) elements.
    const int64_t part = d / n + (d % n != 0);
    const int64_t before_last = mul_dims(part, n - 1);
    if (before_last > d) fail("cannot split " + what + " into " + std::to_string(n) + " parts");
    sizes = Dims(static_cast<size_t>(n), part);
    sizes->back() = d - before_last;
  } else {
    if (d % n != 0) fail("cannot split " + what + " into " + std::to_string(n) + " equal parts");
    sizes = Dims(static_cast<size_t>(n), d / n);
  }
  const int64_t outer = product(x.dims.begin(), x.dims.begin() + static_cast<int64_t>(axis));
  const int64_t inner = product(x.dims.begin() + static_cast<int64_t>(axis) + 1, x.dims.end());
  std::vector<HostTensor> parts;
  int64_t start = 0;
  for (int64_t s : *sizes) {
    Dims dims = x.dims;
    dims[axis] = s;
    HostTensor part = allocate(x.element, dims);
    if (count_of(dims) > 0) {
      const int64_t chunk = s * inner;
      int64_t i = 0;
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < chunk; ++j) copy_element(part, i++, x, (o * d + start) * inner + j);
    }
    start += s;
    parts.push_back(std::move(part));
  }
  return parts;
}

HostTensor slice(const Call& c) {
  Dims starts, ends, axes, steps;
  std::optional<Dims> given_axes, given_steps;
  if (c.opset < 10) {
    c.arity(1, 1);
    starts = c.ints_attr("starts");
    ends = c.ints_attr("ends");
    if (const Dims* a = c.attr<Dims>("axes")) given_axes = *a;
  } else {
    c.arity(3, 5);
    starts = int_list(c.in(1), "starts");
    ends = int_list(c.in(2), "ends");
    if (const HostTensor* a = c.optional(3)) given_axes = int_list(*a, "axes");
    if (const HostTensor* s = c.optional(4)) given_steps = int_list(*s, "steps");
  }
  const size_t n = starts.size();
  if (given_axes) {
    axes = *given_axes;
  } else {
    axes.resize(n);
    std::iota(axes.begin(), axes.end(), 0);
  }
  steps = given_steps ? *given_steps : Dims(n, 1);
  if (ends.size() != n || axes.size() != n || steps.size() != n)
    fail("starts, ends, axes and steps have different lengths (" + std::to_string(n) + ", " +
         std::to_string(ends.size()) + ", " + std::to_string(axes.size()) + ", " +
         std::to_string(steps.size()) + ")");
  const HostTensor& x = c.in(0);
  const int64_t r = rank_of(x);
  Dims first(static_cast<size_t>(r), 0), step(static_cast<size_t>(r), 1), dims = x.dims;
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; i < n; ++i) {
    const auto a = static_cast<size_t>(norm_axis(axes[i], r, "axis"));
    if (seen[a]) fail("axes " + text(axes) + " repeat an axis");
    seen[a] = true;
    const int64_t d = x.dims[a], s = steps[i];
    if (s == 0) fail("step for axis " + std::to_string(a) + " is 0");
    int64_t b = starts[i] < 0 ? starts[i] + d : starts[i];
    int64_t e = ends[i] < 0 ? ends[i] + d : ends[i];
    int64_t count = 0;
    if (s > 0) {
      b = std::clamp<int64_t>(b, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
      count = e > b ? (e - b - 1) / s + 1 : 0;
    } else if (d > 0) {
      b = std::clamp<int64_t>(b, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
      // Unsigned: -s overflows for the minimum int64.
      const uint64_t stride = 0 - static_cast<uint64_t>(s);
      count = b > e ? static_cast<int64_t>(static_cast<uint64_t>(b - e - 1) / stride) + 1 : 0;
    }
    first[a] = b;
    step[a] = count > 1 ? s : 1;  // a step beyond the dim is never taken; don't scale strides by it
    dims[a] = count;
  }
  HostTensor out = allocate(x.element, dims);
  // Beyond here the data is non-empty, so its strides and the offsets are in range.
  if (count_of(dims) == 0) return out;
  const Dims strides = strides_of(x.dims);
  Dims view(static_cast<size_t>(r));
  int64_t base = 0;
  for (size_t a = 0; a < view.size(); ++a) {
    view[a] = strides[a] * step[a];
    base += first[a] * strides[a];
  }
  int64_t i = 0;
  walk(dims, {view}, {base}, [&](const Dims& at) { copy_element(out, i++, x, at[0]); });
  return out;
}

HostTensor transpose(const Call& c) {
  c.arity(1, 1);
  const HostTensor& x = c.in(0);
  const int64_t r = rank_of(x);
  Dims perm(static_cast<size_t>(r));
  if (const Dims* p = c.attr<Dims>("perm")) {
    perm = *p;
  } else {
    for (int64_t i = 0; i < r; ++i) perm[static_cast<size_t>(i)] = r - 1 - i;
  }
  std::vector<bool> seen(static_cast<size_t>(r), false);
  bool valid = static_cast<int64_t>(perm.size()) == r;
  for (size_t i = 0; valid && i < perm.size(); ++i) {
    valid = perm[i] >= 0 && perm[i] < r && !seen[static_cast<size_t>(perm[i])];
    if (valid) seen[static_cast<size_t>(perm[i])] = true;
  }
  if (!valid)
    fail("perm " + text(perm) + " is not a permutation of the " + std::to_string(r) + " axes");
  const Dims strides = strides_of(x.dims);
  Dims dims(perm.size()), view(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) {
    dims[i] = x.dims[static_cast<size_t>(perm[i])];
    view[i] = strides[static_cast<size_t>(perm[i])];
  }
  HostTensor out = allocate(x.element, dims);
  int64_t i = 0;
  walk(dims, {view}, {0}, [&](const Dims& at) { copy_element(out, i++, x, at[0]); });
  return out;
}

HostTensor expand(const Call& c) {
  c.arity(2, 2);
  const HostTensor& x = c.in(0);
  const Dims shape = int_list(c.in(1), "shape");
  for (int64_t d : shape)
    if (d < 0) fail("shape " + text(shape) + " has a negative dim");
  const Dims dims = broadcast({&x.dims, &shape});
  HostTensor out = allocate(x.element, dims);
  int64_t i = 0;
  walk(dims, {broadcast_strides(x.dims, dims)}, {0},
       [&](const Dims& at) { copy_element(out, i++, x, at[0]); });
  return out;
}

HostTensor tile(const Call& c) {
  c.arity(2, 2);
  const HostTensor& x = c.in(0);
  const Dims repeats = int_list(c.in(1), "repeats");
  if (repeats.size() != x.dims.size())
    fail("repeats " + text(repeats) + " do not match data of rank " +
         std::to_string(x.dims.size()));
  // The output read as [r0, d0, r1, d1, ...], row-major, is the input with each dim repeated.
  const Dims strides = strides_of(x.dims);
  Dims dims, view_dims, view;
  for (size_t i = 0; i < repeats.size(); ++i) {
    if (repeats[i] < 0) fail("repeats " + text(repeats) + " has a negative count");
    dims.push_back(mul_dims(x.dims[i], repeats[i]));
    view_dims.insert(view_dims.end(), {repeats[i], x.dims[i]});
    view.insert(view.end(), {0, strides[i]});
  }
  HostTensor out = allocate(x.element, dims);
  int64_t i = 0;
  walk(view_dims, {view}, {0}, [&](const Dims& at) { copy_element(out, i++, x, at[0]); });
  return out;
}

HostTensor pad(const Call& c) {
  Dims pads;
  std::optional<Dims> axes;
  const HostTensor* value = nullptr;
  const float* value_attr = nullptr;
  if (c.opset < 11) {
    c.arity(1, 1);
    pads = c.ints_attr("pads");
    value_attr = c.attr<float>("value");
  } else {
    c.arity(2, c.opset >= 18 ? 4 : 3);
    pads = int_list(c.in(1), "pads");
    value = c.optional(2);
    if (const HostTensor* a = c.optional(3)) axes = int_list(*a, "axes");
  }
  enum class Mode { Constant, Reflect, Edge, Wrap };
  const std::string* mode_name = c.attr<std::string>("mode");
  const std::string mode_text = mode_name ? *mode_name : "constant";
  static const std::map<std::string, Mode, std::less<>> kModes = {{"constant", Mode::Constant},
                                                                  {"reflect", Mode::Reflect},
                                                                  {"edge", Mode::Edge},
                                                                  {"wrap", Mode::Wrap}};
  const auto found = kModes.find(mode_text);
  if (found == kModes.end()) fail("unknown mode '" + mode_text + "'");
  const Mode mode = found->second;

  const HostTensor& x = c.in(0);
  const int64_t r = rank_of(x);
  if (!axes) {
    axes = Dims(static_cast<size_t>(r));
    std::iota(axes->begin(), axes->end(), 0);
  }
  const size_t n = axes->size();
  if (pads.size() != 2 * n)
    fail("has " + std::to_string(pads.size()) + " pads for " + std::to_string(n) +
         " axes; expected twice as many");
  Dims begin(static_cast<size_t>(r), 0), end(static_cast<size_t>(r), 0);
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t j = 0; j < n; ++j) {
    const auto a = static_cast<size_t>(norm_axis((*axes)[j], r, "axis"));
    if (seen[a]) fail("axes " + text(*axes) + " repeat an axis");
    seen[a] = true;
    begin[a] = pads[j];
    end[a] = pads[j + n];
  }
  Dims dims(static_cast<size_t>(r));
  for (size_t a = 0; a < dims.size(); ++a) {
    const int64_t d = x.dims[a];
    const std::string axis = "axis " + std::to_string(a) + " of size " + std::to_string(d);
    if (begin[a] < -d || end[a] < -d)
      fail("pads " + text(pads) + " remove more than " + axis + " has");
    dims[a] = add_saturated(add_saturated(d, begin[a]), end[a]);
    if (dims[a] < 0) fail("pads " + text(pads) + " leave " + axis + " with a negative size");
    if (mode != Mode::Constant && d == 0 && dims[a] > 0)
      fail("cannot pad the empty " + axis + " in mode '" + mode_text + "'");
  }
  HostTensor fill = allocate(x.element, {});
  if (value) {
    if (value->element != x.element || count_of(value->dims) != 1)
      fail("constant_value must be one " + name_of(x.element) + " element");
    fill = *value;
  } else if (value_attr) {
    fill = dispatch(CastTypes{}, x.element, [&](auto tag) {
      using T = typename decltype(tag)::type;
      return tensor_of<T>({}, {convert<T>(*value_attr)});
    });
  }
  HostTensor out = allocate(x.element, dims);
  const int64_t total = count_of(dims);
  const Dims strides = strides_of(x.dims);
  const auto positive_mod = [](int64_t v, int64_t m) { return (v % m + m) % m; };
  Dims coord(dims.size(), 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t from = 0;
    bool inside = true;
    // Axes in order: an empty axis ends the loop (constant mode) before any stride of the empty
    // tensor, which may be meaningless, is used.
    for (size_t a = 0; inside && a < dims.size(); ++a) {
      const int64_t d = x.dims[a];
      int64_t s = coord[a] - begin[a];
      if (s < 0 || s >= d) {
        switch (mode) {
          case Mode::Constant:
            inside = false;
            continue;
          case Mode::Edge:
            s = std::clamp<int64_t>(s, 0, d - 1);
            break;
          case Mode::Wrap:
            s = positive_mod(s, d);
            break;
          case Mode::Reflect: {
            const int64_t period = 2 * (d - 1);
            s = period == 0 ? 0 : positive_mod(s, period);
            if (s >= d) s = period - s;
            break;
          }
        }
      }
      from += s * strides[a];
    }
    copy_element(out, i, inside ? x : fill, inside ? from : 0);
    for (size_t a = dims.size(); a-- > 0;) {
      if (++coord[a] < dims[a]) break;
      coord[a] = 0;
    }
  }
  return out;
}

HostTensor range(const Call& c) {
  c.arity(3, 3);
  const HostTensor &start = c.in(0), &limit = c.in(1), &delta = c.in(2);
  for (const HostTensor* t : {&start, &limit, &delta}) {
    same_element(start, *t);
    if (t->dims.size() > 1 || count_of(t->dims) != 1)
      fail("start, limit and delta must be scalars, not " + text(t->dims));
  }
  return dispatch(RangeTypes{}, start.element, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T first = get<T>(start, 0), last = get<T>(limit, 0), step = get<T>(delta, 0);
    if (step == 0) fail("delta is 0");
    int64_t n = 0;
    if constexpr (is_int<T>) {
      // Unsigned differences: limit - start may overflow T.
      if (step > 0 ? last > first : last < first) {
        const uint64_t span = step > 0 ? static_cast<uint64_t>(last) - static_cast<uint64_t>(first)
                                       : static_cast<uint64_t>(first) - static_cast<uint64_t>(last);
        const uint64_t stride =
            step > 0 ? static_cast<uint64_t>(step) : 0 - static_cast<uint64_t>(step);
        const uint64_t count = (span - 1) / stride + 1;
        n = count > static_cast<uint64_t>(kMaxFoldedElements) ? kMaxFoldedElements + 1
                                                              : static_cast<int64_t>(count);
      }
    } else {
      // In T, as the spec's formula is: float rounding decides the count at the edges.
      const T count = std::ceil((last - first) / step);
      if (std::isnan(count)) fail("start, limit and delta give no number of elements");
      if (count > 0)
        n = count > static_cast<T>(kMaxFoldedElements) ? kMaxFoldedElements + 1
                                                       : static_cast<int64_t>(count);
    }
    HostTensor out = allocate(element_of<T>(), {n});
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (is_int<T>)
        put<T>(out, i, AddOp::apply(first, MulOp::apply(static_cast<T>(i), step)));
      else
        put<T>(out, i, first + static_cast<T>(i) * step);
    }
    return out;
  });
}

// HannWindow, HammingWindow, BlackmanWindow: a sum of cosines of 2 pi k n / N, where N is the
// size (periodic) or the size - 1 (symmetric).
HostTensor window(const Call& c) {
  c.arity(1, 1);
  const Dims size = int_list(c.in(0), "size");
  if (size.size() != 1 || size[0] < 0) fail("size must be one non-negative integer");
  const int64_t n = size[0];
  if (n > kMaxFoldedElements) unsupported();
  const int64_t* datatype = c.attr<int64_t>("output_datatype");
  const std::optional<ElementType> element = onnx_element(datatype ? *datatype : 1);
  if (element != ElementType::F32 && element != ElementType::F64) unsupported();
  const int64_t* periodic = c.attr<int64_t>("periodic");
  const double span = static_cast<double>(periodic && *periodic == 0 ? n - 1 : n);
  std::vector<double> a;  // coefficients of cos(2 pi k n / N), k = 0, 1, 2
  if (c.node.op == "HannWindow") a = {0.5, -0.5};
  if (c.node.op == "HammingWindow") a = {25.0 / 46, -21.0 / 46};
  if (c.node.op == "BlackmanWindow") a = {0.42, -0.5, 0.08};
  HostTensor out = allocate(*element, {n});
  for (int64_t i = 0; i < n; ++i) {
    double w = 0;
    for (size_t k = 0; k < a.size(); ++k)
      w += a[k] * std::cos(2 * M_PI * static_cast<double>(k) * static_cast<double>(i) / span);
    if (*element == ElementType::F32)
      put<float>(out, i, static_cast<float>(w));
    else
      put<double>(out, i, w);
  }
  return out;
}

HostTensor constant_of_shape(const Call& c) {
  c.arity(1, 1);
  const Dims shape = int_list(c.in(0), "shape");
  for (int64_t d : shape)
    if (d < 0) fail("shape " + text(shape) + " has a negative dim");
  HostTensor value = allocate(ElementType::F32, {});
  if (const auto* v = c.attr<ir::HostTensorPtr>("value")) {
    if (!*v) fail("attribute 'value' holds no tensor");
    check_data(**v, "attribute 'value'");
    if (count_of((*v)->dims) != 1)
      fail("attribute 'value' must hold one element, not " + text((*v)->dims));
    value = **v;
  }
  HostTensor out = allocate(value.element, shape);
  const int64_t n = count_of(shape);
  for (int64_t i = 0; i < n; ++i) copy_element(out, i, value, 0);
  return out;
}

// ---- Reductions ----------------------------------------------------------------------------

struct SumReduce {
  template <class T>
  static T identity() {
    return T(0);
  }
  template <class T>
  static T combine(T a, T b) {
    return AddOp::apply(a, b);
  }
};
struct ProdReduce {
  template <class T>
  static T identity() {
    return T(1);
  }
  template <class T>
  static T combine(T a, T b) {
    return MulOp::apply(a, b);
  }
};
// Over an empty set ReduceMin gives +inf or the type's maximum, ReduceMax -inf or its minimum.
struct MinReduce {
  template <class T>
  static T identity() {
    if constexpr (std::numeric_limits<T>::has_infinity)
      return std::numeric_limits<T>::infinity();
    else
      return std::numeric_limits<T>::max();
  }
  template <class T>
  static T combine(T a, T b) {
    return min_of(a, b);
  }
};
struct MaxReduce {
  template <class T>
  static T identity() {
    if constexpr (std::numeric_limits<T>::has_infinity)
      return -std::numeric_limits<T>::infinity();
    else
      return std::numeric_limits<T>::lowest();
  }
  template <class T>
  static T combine(T a, T b) {
    return max_of(a, b);
  }
};

template <class Op>
HostTensor reduce(const Call& c) {
  // ReduceSum took axes as an input from opset 13, the other reductions from opset 18.
  const bool axes_input = c.opset >= (c.node.op == "ReduceSum" ? 13 : 18);
  c.arity(1, axes_input ? 2 : 1);
  const HostTensor& x = c.in(0);
  std::optional<Dims> axes;
  if (axes_input) {
    if (const HostTensor* t = c.optional(1)) axes = int_list(*t, "axes");
  } else if (const Dims* a = c.attr<Dims>("axes")) {
    axes = *a;
  }
  const bool all = !axes || axes->empty();
  if (all && c.int_attr("noop_with_empty_axes", 0) != 0) return reshaped(x, x.dims);
  const int64_t r = rank_of(x);
  std::vector<bool> reduced(static_cast<size_t>(r), all);
  if (!all) {
    for (int64_t a : *axes) {
      const auto k = static_cast<size_t>(norm_axis(a, r, "axis"));
      if (reduced[k]) fail("axes " + text(*axes) + " repeat an axis");
      reduced[k] = true;
    }
  }
  const bool keep = c.int_attr("keepdims", 1) != 0;
  Dims kept, dims;
  for (size_t i = 0; i < x.dims.size(); ++i) {
    kept.push_back(reduced[i] ? 1 : x.dims[i]);
    if (!reduced[i] || keep) dims.push_back(kept.back());
  }
  return dispatch(NumberTypes{}, x.element, [&](auto tag) {
    using T = typename decltype(tag)::type;
    HostTensor out = allocate(element_of<T>(), dims);
    const int64_t n = count_of(dims);
    for (int64_t j = 0; j < n; ++j) put<T>(out, j, Op::template identity<T>());
    // The input walked with the output's strides, 0 along the reduced axes.
    Dims to_out = strides_of(kept);
    for (size_t i = 0; i < kept.size(); ++i)
      if (reduced[i]) to_out[i] = 0;
    int64_t i = 0;
    walk(x.dims, {to_out}, {0}, [&](const Dims& at) {
      put<T>(out, at[0], Op::combine(get<T>(out, at[0]), get<T>(x, i++)));
    });
    return out;
  });
}

HostTensor nonzero(const Call& c) {
  c.arity(1, 1);
  const HostTensor& x = c.in(0);
  return dispatch(PlainTypes{}, x.element, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t n = count_of(x.dims);
    const auto nonzero_at = [&](int64_t i) { return get<T>(x, i) != T(0); };
    int64_t hits = 0;
    for (int64_t i = 0; i < n; ++i) hits += nonzero_at(i);
    // A scalar counts as a 1-D tensor of one element, as in NumPy.
    const int64_t rows = std::max<int64_t>(rank_of(x), 1);
    HostTensor out = allocate(ElementType::I64, {rows, hits});
    int64_t k = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (!nonzero_at(i)) continue;
      int64_t rest = i;
      for (int64_t a = rank_of(x) - 1; a >= 0; --a) {
        const int64_t d = x.dims[static_cast<size_t>(a)];
        put<int64_t>(out, a * hits + k, rest % d);
        rest /= d;
      }
      ++k;
    }
    return out;
  });
}

// ---- The table -----------------------------------------------------------------------------

using Handler = std::vector<HostTensor> (*)(const Call&);

template <HostTensor (*F)(const Call&)>
std::vector<HostTensor> single(const Call& c) {
  std::vector<HostTensor> out;
  out.push_back(F(c));
  return out;
}

const std::map<std::string, Handler, std::less<>>& handlers() {
  static const std::map<std::string, Handler, std::less<>> table = {
      {"Abs", single<unary_op<NumberTypes, AbsOp>>},
      {"Add", single<binary_op<NumberTypes, AddOp>>},
      {"And", single<binary_op<BoolType, AndOp>>},
      {"BlackmanWindow", single<window>},
      {"Cast", single<cast>},
      {"Ceil", single<unary_op<FloatTypes, CeilOp>>},
      {"Clip", single<clip>},
      {"Concat", single<concat>},
      {"Constant", single<constant>},
      {"ConstantOfShape", single<constant_of_shape>},
      {"Div", single<binary_op<NumberTypes, DivOp>>},
      {"Equal", single<binary_op<PlainTypes, EqualOp>>},
      {"Expand", single<expand>},
      {"Flatten", single<flatten>},
      {"Floor", single<unary_op<FloatTypes, FloorOp>>},
      {"Gather", single<gather>},
      {"Greater", single<binary_op<NumberTypes, GreaterOp>>},
      {"HammingWindow", single<window>},
      {"HannWindow", single<window>},
      {"GreaterOrEqual", single<binary_op<NumberTypes, GreaterOrEqualOp>>},
      {"Identity", single<identity>},
      {"Less", single<binary_op<NumberTypes, LessOp>>},
      {"LessOrEqual", single<binary_op<NumberTypes, LessOrEqualOp>>},
      {"Max", single<variadic_op<MaxOp>>},
      {"Min", single<variadic_op<MinOp>>},
      {"Mod", single<mod>},
      {"Mul", single<binary_op<NumberTypes, MulOp>>},
      {"Neg", single<unary_op<NumberTypes, NegOp>>},
      {"NonZero", single<nonzero>},
      {"Not", single<unary_op<BoolType, NotOp>>},
      {"Or", single<binary_op<BoolType, OrOp>>},
      {"Pad", single<pad>},
      {"Range", single<range>},
      {"Reciprocal", single<unary_op<FloatTypes, ReciprocalOp>>},
      {"ReduceMax", single<reduce<MaxReduce>>},
      {"ReduceMin", single<reduce<MinReduce>>},
      {"ReduceProd", single<reduce<ProdReduce>>},
      {"ReduceSum", single<reduce<SumReduce>>},
      {"Relu", single<unary_op<NumberTypes, ReluOp>>},
      {"Reshape", single<reshape>},
      {"Shape", single<shape>},
      {"Size", single<size>},
      {"Slice", single<slice>},
      {"Split", split},
      {"Sqrt", single<unary_op<FloatTypes, SqrtOp>>},
      {"Squeeze", single<squeeze>},
      {"Sub", single<binary_op<NumberTypes, SubOp>>},
      {"Tile", single<tile>},
      {"Transpose", single<transpose>},
      {"Unsqueeze", single<unsqueeze>},
      {"Where", single<where>},
  };
  return table;
}

}  // namespace

std::optional<std::vector<HostTensor>> evaluate_on_host(
    const ir::Graph& graph, size_t node_index, const std::vector<const HostTensor*>& inputs) {
  const ir::Node& node = graph.nodes.at(node_index);
  if (!node.domain.empty() && node.domain != "ai.onnx") return std::nullopt;
  const auto handler = handlers().find(node.op);
  if (handler == handlers().end()) return std::nullopt;
  const int64_t version = graph.opset_version(node.domain);
  const Call call{node, version > 0 ? version : kNewestOpset, inputs};
  try {
    const bool dims_only = node.op == "Shape" || node.op == "Size";
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i]) continue;
      if (dims_only)
        check_dims(*inputs[i], "input " + std::to_string(i));
      else
        check_data(*inputs[i], "input " + std::to_string(i));
    }
    std::vector<HostTensor> out = handler->second(call);
    if (out.size() != node.outputs.size())
      fail("has " + std::to_string(node.outputs.size()) + " outputs; " + node.op + " computes " +
           std::to_string(out.size()));
    return out;
  } catch (const NotFoldable&) {
    return std::nullopt;
  } catch (const InputError& e) {
    throw InputError(node.label(node_index) + ": " + e.what());
  }
}

const std::vector<std::string>& host_eval_ops() {
  static const std::vector<std::string> ops = [] {
    std::vector<std::string> names;
    for (const auto& entry : handlers()) names.push_back(entry.first);
    return names;
  }();
  return ops;
}

}  // namespace seedchip::compiler::passes
