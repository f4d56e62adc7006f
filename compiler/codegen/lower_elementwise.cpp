// Elementwise operators: a VPU program over the operands' views broadcast to the output's dims.
// Operators the VPU has no instruction for are composed from those it has (sigmoid from exp and
// reciprocal, leaky ReLU from relu and a scale, ...); each recipe is exact in the sense that it
// is the textbook formula evaluated in the tensor's format, rearranged where the textbook form
// cancels (sinh, asinh, acosh and atanh near 0 or 1, acos near 1).
#include <array>
#include <cmath>
#include <cstring>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "compiler/codegen/lowering.h"
#include "sim/core/vpu_math.h"

namespace seedchip::compiler {

namespace {

using isa::Opcode;

// Builds the StreamKernel of an elementwise operator: rows = output elements, width 1.
class VpuProgram {
 public:
  VpuProgram(OpContext& ctx, DataType type, const std::vector<int64_t>& dims)
      : ctx_(ctx), type_(type), dims_(dims) {
    kernel_.rows = 1;
    for (int64_t d : dims) kernel_.rows *= d;
  }

  int load(const TensorView& view) {
    const int s = slot();
    kernel_.loads.push_back({s, view.broadcast_to(dims_)});
    return s;
  }
  int load(ir::ValueId v) { return load(ctx_.view(v)); }
  // A tensor of another format (a bool mask as INT8, say), converted to the program's format.
  int load_as(ir::ValueId v, DataType format) { return load_as(ctx_.view(v), format); }
  int load_as(const TensorView& view, DataType format) {
    const int raw = slot(format);
    kernel_.loads.push_back({raw, view.broadcast_to(dims_)});
    return convert(raw, format, type_);
  }
  int convert(int a, DataType from, DataType to) {
    return step({Opcode::VPU_CVT, slot(to), a, -1, 0, from, to});
  }
  // A scalar broadcast to every element; constants are f32, so other formats convert it.
  int constant(float value) {
    if (type_ == DataType::FP32) return load(ctx_.scalar_view(value, dims_));
    const int raw = slot(DataType::FP32);
    kernel_.loads.push_back({raw, ctx_.scalar_view(value, dims_)});
    return convert(raw, DataType::FP32, type_);
  }
  int unary(Opcode op, int a) { return step({op, slot(), a, -1, 0, type_, type_}); }
  int binary(Opcode op, int a, int b) { return step({op, slot(), a, b, 0, type_, type_}); }
  int scalar(Opcode op, int a, float c) { return step({op, slot(), a, -1, c, type_, type_}); }
  int select(int mask, int a, int b) {
    VpuStep s{Opcode::VPU_SEL, slot(), a, b, 0, type_, type_};
    s.m = mask;
    return step(s);
  }
  void store(int s, ir::ValueId v) { kernel_.stores.push_back({s, ctx_.view(v)}); }
  // A view whose elements, in row-major order, are the program's.
  void store(int s, const TensorView& view) { kernel_.stores.push_back({s, view}); }
  void emit() {
    for (const VpuStep& s : kernel_.steps)
      if (!sim::vpu_supports(s.op, s.type))
        ctx_.unsupported("the VPU has no " + isa::info(s.op).mnemonic + " on " +
                         std::string(dtype_name(s.type)));
    ctx_.emit(kernel_);
  }

  // min(x, 0) = x - relu(x)
  int negative_part(int x) { return binary(Opcode::VPU_SUB, x, unary(Opcode::VPU_RELU, x)); }
  int abs(int x) { return binary(Opcode::VPU_MAX, x, scalar(Opcode::VPU_MULS, x, -1)); }
  // trunc(q) = sign(q) floor(|q|)
  int trunc(int q) {
    return binary(Opcode::VPU_MUL, unary(Opcode::VPU_SIGN, q), unary(Opcode::VPU_FLOOR, abs(q)));
  }
  int cosh(int x) {
    const int e = unary(Opcode::VPU_EXP, x);
    const int f = unary(Opcode::VPU_EXP, scalar(Opcode::VPU_MULS, x, -1));
    return scalar(Opcode::VPU_MULS, binary(Opcode::VPU_ADD, e, f), 0.5f);
  }
  // ln(1 + u) without the cancellation of rounding 1 + u near 0: with w = 1 + u rounded,
  // ln(w) u / (w - 1) cancels the rounding error (Goldberg); where w - 1 == u nothing was rounded
  // (inf included) and ln(w) is the answer, and where w rounds to 1 the answer is u.
  int log1p(int u) {
    const int w = scalar(Opcode::VPU_ADDS, u, 1);
    const int d = scalar(Opcode::VPU_ADDS, w, -1);
    const int ln = unary(Opcode::VPU_LOG, w);
    const int corrected = binary(Opcode::VPU_MUL, ln, binary(Opcode::VPU_DIV, u, d));
    const int tiny = select(binary(Opcode::VPU_CMPEQ, w, constant(1)), u, corrected);
    return select(binary(Opcode::VPU_CMPEQ, d, u), ln, tiny);
  }
  // An integer tensor (i32, u32, i64, u64) as the program's float format: 64-bit ones from
  // their two 32-bit words (high x 2^32 + low), unsigned words corrected by 2^32 where the INT32
  // conversion read them as negative. Exact below 2^24 in f32, rounded above.
  int integer_as_float(ir::ValueId v) {
    const ir::ElementType e = ctx_.type(v).element;
    const bool wide = e == ir::ElementType::I64 || e == ir::ElementType::U64;
    if (!wide && e != ir::ElementType::I32 && e != ir::ElementType::U32)
      ctx_.unsupported("integer operands are read as i32, u32, i64 or u64");
    const TensorView low = wide ? word_view(v, 0) : ctx_.view(v);
    const auto unsigned_word = [&](const TensorView& word) {
      const int x = load_as(word, DataType::INT32);
      return select(binary(Opcode::VPU_CMPLT, x, constant(0)), scalar(Opcode::VPU_ADDS, x, 0x1p32f),
                    x);
    };
    if (!wide)
      return e == ir::ElementType::I32 ? load_as(low, DataType::INT32) : unsigned_word(low);
    const TensorView high = word_view(v, 1);
    if (e == ir::ElementType::U64)
      return binary(Opcode::VPU_ADD, scalar(Opcode::VPU_MULS, unsigned_word(high), 0x1p32f),
                    unsigned_word(low));
    // An i64 whose high word only extends the low word's sign is the low word: -1 as
    // -2^32 + (2^32 - 1) would cancel to 0 once 2^32 - 1 rounds in f32.
    const int hi = load_as(high, DataType::INT32), lo = load_as(low, DataType::INT32);
    const int sign = scalar(Opcode::VPU_MULS, binary(Opcode::VPU_CMPLT, lo, constant(0)), -1);
    const int beyond =
        binary(Opcode::VPU_ADD, scalar(Opcode::VPU_MULS, hi, 0x1p32f), unsigned_word(low));
    return select(binary(Opcode::VPU_CMPEQ, hi, sign), lo, beyond);
  }
  // The low (word 0) or high (word 1) 32-bit words of a 64-bit integer tensor, little-endian.
  TensorView word_view(ir::ValueId v, int word) {
    TensorView view = ctx_.view(v);
    view.element_bytes = 4;
    view.base += 4 * word;
    for (int64_t& s : view.strides) s *= 2;
    return view;
  }
  // The format of the steps added from now on. FP32 and INT32 slots are both 4 bytes, so one
  // program computes in both, converting between them with vpu.cvt.
  void compute_in(DataType type) { type_ = type; }
  int one_minus(int x) { return scalar(Opcode::VPU_ADDS, scalar(Opcode::VPU_MULS, x, -1), 1); }
  int one_plus(int x) { return scalar(Opcode::VPU_ADDS, x, 1); }
  // 1 / (1 + exp(-x))
  int sigmoid(int x) {
    const int e = unary(Opcode::VPU_EXP, scalar(Opcode::VPU_MULS, x, -1));
    return unary(Opcode::VPU_RECIP, scalar(Opcode::VPU_ADDS, e, 1));
  }
  int softplus(int x) {
    return unary(Opcode::VPU_LOG, scalar(Opcode::VPU_ADDS, unary(Opcode::VPU_EXP, x), 1));
  }
  // max(0, min(1, alpha x + beta)), with min(t, 1) = 1 - relu(1 - t)
  int hard_sigmoid(int x, float alpha, float beta) {
    const int t =
        unary(Opcode::VPU_RELU, scalar(Opcode::VPU_ADDS, scalar(Opcode::VPU_MULS, x, alpha), beta));
    const int u =
        unary(Opcode::VPU_RELU, scalar(Opcode::VPU_ADDS, scalar(Opcode::VPU_MULS, t, -1), 1));
    return scalar(Opcode::VPU_ADDS, scalar(Opcode::VPU_MULS, u, -1), 1);
  }
  // x > 0 ? x : alpha (exp(x / scale) - 1)
  int exponential_linear(int x, float alpha, float scale) {
    int m = negative_part(x);
    if (scale != 1) m = scalar(Opcode::VPU_MULS, m, 1 / scale);
    const int e = scalar(Opcode::VPU_ADDS, unary(Opcode::VPU_EXP, m), -1);
    return binary(Opcode::VPU_ADD, unary(Opcode::VPU_RELU, x), scalar(Opcode::VPU_MULS, e, alpha));
  }

 private:
  int slot(std::optional<DataType> format = std::nullopt) {
    kernel_.slots.push_back({dtype_bytes(format.value_or(type_)), SlotShape::kWide});
    return static_cast<int>(kernel_.slots.size()) - 1;
  }
  int step(VpuStep s) {
    kernel_.steps.push_back(s);
    return s.dst;
  }

  OpContext& ctx_;
  DataType type_;
  std::vector<int64_t> dims_;
  StreamKernel kernel_;
};

// `ordering`: the operator only compares values (Max, Min, Clip), so i32 and i8 qualify too.
DataType compute_type(OpContext& ctx, bool ordering = false) {
  const ir::ElementType e = ctx.type(ctx.out(0)).element;
  const auto t = ordering ? vpu_ordering_type(e) : vpu_type(e);
  if (!t)
    ctx.unsupported("element type " + std::string(ir::element_name(e)) +
                    (ordering ? " cannot be compared on the VPU (f32, f16, bf16, i32 and i8 can)"
                              : " has no VPU arithmetic (f32, f16 and bf16 do)"));
  for (size_t i = 0; i < ctx.inputs(); ++i)
    if (ctx.in(i) != ir::kNoValue && ctx.type(ctx.in(i)).element != ctx.type(ctx.out(0)).element)
      ctx.unsupported("operands of mixed element types");
  return *t;
}

// The VPU format of value v's element type, for operators whose operands differ in type.
DataType compute_type_of(OpContext& ctx, ir::ValueId v) {
  const ir::ElementType e = ctx.type(v).element;
  const auto t = vpu_type(e);
  if (!t)
    ctx.unsupported("element type " + std::string(ir::element_name(e)) +
                    " has no VPU arithmetic (f32, f16 and bf16 do)");
  return *t;
}

// All elements of a constant f32 tensor, if they are one value.
std::optional<float> uniform_constant(const ir::HostTensor* t) {
  if (!t || t->element != ir::ElementType::F32 || t->bytes.size() < 4) return std::nullopt;
  float first;
  std::memcpy(&first, t->bytes.data(), 4);
  for (size_t i = 4; i + 4 <= t->bytes.size(); i += 4) {
    float x;
    std::memcpy(&x, t->bytes.data() + i, 4);
    if (x != first) return std::nullopt;
  }
  return first;
}

// Integer Add, Sub, Mul and Div as ONNX defines them: two's complement wrap-around
// (vpu.addw/subw/mulw) and quotients truncated toward zero (the integer vpu.div). u8 lives in
// INT8 bytes: a wrapped sum, difference or product has the same bits signed or unsigned, but a
// quotient does not, so u8 division runs in INT32 on zero-extended operands.
void lower_integer_arithmetic(OpContext& ctx) {
  const ir::ElementType e = ctx.type(ctx.out(0)).element;
  for (size_t i = 0; i < 2; ++i)
    if (ctx.type(ctx.in(i)).element != e) ctx.unsupported("operands of mixed element types");
  const std::string& op = ctx.node.op;
  const bool is_unsigned = e == ir::ElementType::U8;
  const DataType bytes = e == ir::ElementType::I32 ? DataType::INT32 : DataType::INT8;
  if (op == "Div" && is_unsigned) {
    VpuProgram p(ctx, DataType::INT32, ctx.dims(ctx.out(0)));
    const int zero = p.constant(0), byte = p.constant(256);
    // Sign-extended by the conversion; + 256 where negative gives the unsigned value.
    const auto widened = [&](ir::ValueId v) {
      const int x = p.load_as(v, DataType::INT8);
      return p.binary(Opcode::VPU_ADDW, x,
                      p.binary(Opcode::VPU_MULW, p.binary(Opcode::VPU_CMPLT, x, zero), byte));
    };
    const int a = widened(ctx.in(0));
    const int q = p.binary(Opcode::VPU_DIV, a, widened(ctx.in(1)));
    // Quotients above 127 back to their two's complement byte, which the conversion keeps.
    const int high = p.binary(Opcode::VPU_CMPLT, p.constant(127), q);
    const int y = p.binary(Opcode::VPU_SUBW, q, p.binary(Opcode::VPU_MULW, high, byte));
    p.store(p.convert(y, DataType::INT32, DataType::INT8), ctx.out(0));
    p.emit();
    ctx.mapping = "VPU stream (INT32 quotient of zero-extended bytes)";
    return;
  }
  static const std::map<std::string, Opcode> kOps = {{"Add", Opcode::VPU_ADDW},
                                                     {"Sub", Opcode::VPU_SUBW},
                                                     {"Mul", Opcode::VPU_MULW},
                                                     {"Div", Opcode::VPU_DIV}};
  VpuProgram p(ctx, bytes, ctx.dims(ctx.out(0)));
  p.store(p.binary(kOps.at(op), p.load(ctx.in(0)), p.load(ctx.in(1))), ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream (wrapping integer arithmetic)";
}

// Pow of a float base to an integer exponent: |a|^n = exp(n ln|a|), negated for a negative base
// and an odd n, and 1 for n = 0 (where 0 x ln 0 would be NaN).
void lower_pow_integer_exponent(OpContext& ctx) {
  VpuProgram p(ctx, compute_type_of(ctx, ctx.in(0)), ctx.dims(ctx.out(0)));
  const int a = p.load(ctx.in(0)), n = p.integer_as_float(ctx.in(1));
  const int magnitude =
      p.unary(Opcode::VPU_EXP, p.binary(Opcode::VPU_MUL, n, p.unary(Opcode::VPU_LOG, p.abs(a))));
  const int half = p.scalar(Opcode::VPU_MULS, n, 0.5f);
  const int odd = p.binary(Opcode::VPU_CMPLT, p.unary(Opcode::VPU_FLOOR, half), half);
  const int negate = p.binary(Opcode::VPU_MUL, odd, p.binary(Opcode::VPU_CMPLT, a, p.constant(0)));
  const int y = p.select(negate, p.scalar(Opcode::VPU_MULS, magnitude, -1), magnitude);
  p.store(p.select(p.binary(Opcode::VPU_CMPEQ, n, p.constant(0)), p.constant(1), y), ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream (integer exponent)";
}

// a^n for i32 slots by square-and-multiply over the exponent's 31 magnitude bits, wrapping as
// ONNX's integers do. A negative exponent gives the truncated quotient 1 / a^|n|: a^|n| where
// |a| = 1, else 0 (0 for a = 0 too, where the quotient is undefined).
int integer_power(VpuProgram& p, int a, int n) {
  const int zero = p.constant(0), one = p.constant(1), two = p.constant(2);
  const int magnitude_a = p.binary(Opcode::VPU_MAX, a, p.binary(Opcode::VPU_SUBW, zero, a));
  int q = p.binary(Opcode::VPU_MAX, n, p.binary(Opcode::VPU_SUBW, zero, n));
  int y = one, power = a;
  for (int bit = 0; bit < 31; ++bit) {
    const int next = p.binary(Opcode::VPU_DIV, q, two);
    const int set = p.binary(Opcode::VPU_SUBW, q, p.binary(Opcode::VPU_MULW, next, two));
    y = p.select(set, p.binary(Opcode::VPU_MULW, y, power), y);
    if (bit < 30) power = p.binary(Opcode::VPU_MULW, power, power);
    q = next;
  }
  const int unit = p.binary(Opcode::VPU_CMPEQ, magnitude_a, one);
  return p.select(p.binary(Opcode::VPU_CMPLT, n, zero), p.select(unit, y, zero), y);
}

// 64-bit two's complement integers, exactly, on the VPU's 32-bit integer instructions (the
// program computes in INT32). A value is two slots, its low and high words (bit patterns: the
// low word of 2^32 - 1 reads as -1). Sums carry by an unsigned comparison of the words; products
// go through eight byte slots (0..255), whose schoolbook partial sums (at most eight products of
// 255 x 255 plus a carry per byte position) never leave the INT32 range, as 16-bit halves would.
struct Words {
  int lo = -1, hi = -1;
};
using Bytes = std::array<int, 8>;

class WideIntegers {
 public:
  explicit WideIntegers(VpuProgram& p)
      : p_(p),
        zero_(p.constant(0)),
        one_(p.constant(1)),
        two_(p.constant(2)),
        byte_(p.constant(256)),
        sign_bit_(p.constant(-0x1p31f)) {}

  Words load(ir::ValueId v) { return {p_.load(p_.word_view(v, 0)), p_.load(p_.word_view(v, 1))}; }
  void store(const Words& w, ir::ValueId v) {
    p_.store(w.lo, p_.word_view(v, 0));
    p_.store(w.hi, p_.word_view(v, 1));
  }
  // An i32 slot sign-extended to 64 bits.
  Words extend(int x) { return {x, p_.binary(Opcode::VPU_SUBW, zero_, negative(x))}; }

  int zero() const { return zero_; }
  int one() const { return one_; }
  // 1 where x < 0, else 0 (for words, where the high word is).
  int negative(int x) { return p_.binary(Opcode::VPU_CMPLT, x, zero_); }
  // Masks are 0/1 slots: a product is their conjunction.
  int both(int m, int n) { return p_.binary(Opcode::VPU_MULW, m, n); }
  int equal(const Words& a, const Words& b) {
    return both(p_.binary(Opcode::VPU_CMPEQ, a.lo, b.lo), p_.binary(Opcode::VPU_CMPEQ, a.hi, b.hi));
  }

  Words add(const Words& a, const Words& b) {
    const int lo = p_.binary(Opcode::VPU_ADDW, a.lo, b.lo);
    const int carry = below_unsigned(lo, a.lo);
    return {lo, p_.binary(Opcode::VPU_ADDW, p_.binary(Opcode::VPU_ADDW, a.hi, b.hi), carry)};
  }
  Words subtract(const Words& a, const Words& b) {
    const int borrow = below_unsigned(a.lo, b.lo);
    const int hi = p_.binary(Opcode::VPU_SUBW, p_.binary(Opcode::VPU_SUBW, a.hi, b.hi), borrow);
    return {p_.binary(Opcode::VPU_SUBW, a.lo, b.lo), hi};
  }
  Words negate(const Words& a) { return subtract({zero_, zero_}, a); }
  Words select(int mask, const Words& a, const Words& b) {
    return {p_.select(mask, a.lo, b.lo), p_.select(mask, a.hi, b.hi)};
  }

  // The bytes of a value, least significant first.
  Bytes bytes(const Words& w) {
    Bytes b{};
    const auto word_bytes = [&](int x, size_t first) {
      // Floor division by 256 (the VPU's truncates toward zero) leaves bytes in [0, 256).
      for (size_t i = 0; i < 3; ++i) {
        const int q = p_.binary(Opcode::VPU_DIV, x, byte_);
        const int r = p_.binary(Opcode::VPU_SUBW, x, p_.binary(Opcode::VPU_MULW, q, byte_));
        const int below = negative(r);
        b[first + i] = p_.binary(Opcode::VPU_ADDW, r, p_.binary(Opcode::VPU_MULW, below, byte_));
        x = p_.binary(Opcode::VPU_SUBW, q, below);
      }
      // x is the top byte as a signed value in [-128, 128).
      b[first + 3] =
          p_.binary(Opcode::VPU_ADDW, x, p_.binary(Opcode::VPU_MULW, negative(x), byte_));
    };
    word_bytes(w.lo, 0);
    word_bytes(w.hi, 4);
    return b;
  }
  // The words of bytes in [0, 256): 256-ary Horner, whose last step wraps to the word's bits.
  Words words(const Bytes& b) {
    const auto word = [&](size_t first) {
      int x = b[first + 3];
      for (size_t i = 3; i-- > 0;)
        x = p_.binary(Opcode::VPU_ADDW, p_.binary(Opcode::VPU_MULW, x, byte_), b[first + i]);
      return x;
    };
    return {word(0), word(4)};
  }
  Bytes bytes_of_one() const { return {one_, zero_, zero_, zero_, zero_, zero_, zero_, zero_}; }

  // a x b mod 2^64: the byte positions below 8 of the schoolbook product, carried.
  Bytes multiply(const Bytes& a, const Bytes& b) {
    Bytes out{};
    int carry = -1;
    for (size_t k = 0; k < 8; ++k) {
      int sum = carry;
      for (size_t i = 0; i <= k; ++i) {
        const int product = p_.binary(Opcode::VPU_MULW, a[i], b[k - i]);
        sum = sum < 0 ? product : p_.binary(Opcode::VPU_ADDW, sum, product);
      }
      carry = p_.binary(Opcode::VPU_DIV, sum, byte_);  // sum >= 0: truncation is floor
      out[k] = p_.binary(Opcode::VPU_SUBW, sum, p_.binary(Opcode::VPU_MULW, carry, byte_));
    }
    return out;
  }
  Bytes select(int mask, const Bytes& a, const Bytes& b) {
    Bytes out{};
    for (size_t i = 0; i < 8; ++i) out[i] = p_.select(mask, a[i], b[i]);
    return out;
  }

  // The low `count` bits of a non-negative value, least significant first, as 0/1 slots.
  std::vector<int> bits(const Words& w, size_t count) {
    const Bytes b = bytes(w);
    std::vector<int> out;
    for (size_t i = 0; i < 8 && out.size() < count; ++i) {
      int x = b[i];
      for (int j = 0; j < 8 && out.size() < count; ++j) {
        const int half = p_.binary(Opcode::VPU_DIV, x, two_);
        out.push_back(p_.binary(Opcode::VPU_SUBW, x, p_.binary(Opcode::VPU_MULW, half, two_)));
        x = half;
      }
    }
    return out;
  }

  // a^n mod 2^64 by square-and-multiply over the low `bits` bits of |n|; for a negative n the
  // truncated quotient 1 / a^|n|, as for i32 (a^|n| where |a| = 1, else 0).
  Words power(const Words& a, const Words& n, size_t exponent_bits) {
    const int negative_n = negative(n.hi);
    const std::vector<int> bit = bits(select(negative_n, negate(n), n), exponent_bits);
    Bytes y = bytes_of_one(), square = bytes(a);
    for (size_t i = 0; i < bit.size(); ++i) {
      y = select(bit[i], multiply(y, square), y);
      if (i + 1 < bit.size()) square = multiply(square, square);
    }
    const Words result = words(y);
    const int minus_one = p_.constant(-1);
    const int unit =
        p_.binary(Opcode::VPU_ADDW, equal(a, {one_, zero_}), equal(a, {minus_one, minus_one}));
    const int vanishes = both(negative_n, p_.binary(Opcode::VPU_SUBW, one_, unit));
    return select(vanishes, {zero_, zero_}, result);
  }

 private:
  // 1 where x < y as unsigned words: flipping the sign bits makes the signed order the unsigned.
  int below_unsigned(int x, int y) {
    return p_.binary(Opcode::VPU_CMPLT, p_.binary(Opcode::VPU_ADDW, x, sign_bit_),
                     p_.binary(Opcode::VPU_ADDW, y, sign_bit_));
  }

  VpuProgram& p_;
  int zero_, one_, two_, byte_, sign_bit_;
};

// Pow of i32 tensors.
void lower_integer_pow(OpContext& ctx) {
  VpuProgram p(ctx, DataType::INT32, ctx.dims(ctx.out(0)));
  p.store(integer_power(p, p.load(ctx.in(0)), p.load(ctx.in(1))), ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream (square-and-multiply over the exponent's bits)";
}

// Pow with an i64 base or exponent (the other i32 or i64), in 64-bit words. An i32 result is the
// low word: a^n mod 2^32 is (a^n mod 2^64) mod 2^32.
void lower_wide_integer_pow(OpContext& ctx) {
  VpuProgram p(ctx, DataType::INT32, ctx.dims(ctx.out(0)));
  WideIntegers w(p);
  const bool wide_base = ctx.type(ctx.in(0)).element == ir::ElementType::I64;
  const bool wide_exponent = ctx.type(ctx.in(1)).element == ir::ElementType::I64;
  const Words a = wide_base ? w.load(ctx.in(0)) : w.extend(p.load(ctx.in(0)));
  const Words n = wide_exponent ? w.load(ctx.in(1)) : w.extend(p.load(ctx.in(1)));
  // |n| of an i32 has 32 bits; of an i64, 64 (|-2^63| included).
  const Words y = w.power(a, n, wide_exponent ? 64 : 32);
  if (wide_base)
    w.store(y, ctx.out(0));
  else
    p.store(y.lo, ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream (64-bit square-and-multiply in 32-bit words)";
}

// Pow of an i32 or i64 base to an f32 exponent, whose result ONNX gives in the base's type:
// the real power truncated toward zero. An integral exponent below 2^31 in magnitude takes the
// exact integer path (square-and-multiply, wrapping, 1 / a^|n| truncated for a negative one);
// another is exp(b ln|a|) in FP32, truncated. That power carries the rounding of exp and log, a
// relative error of about |b ln a| 2^-24: one within 2^-18 of an integer is taken as the integer,
// so that 9^1.5 is 27 as in ONNX's double-precision reference, not 26. Beyond the result type's
// range ONNX leaves the value undefined.
void lower_integer_pow_float_exponent(OpContext& ctx) {
  if (ctx.type(ctx.in(1)).element != ir::ElementType::F32)
    ctx.unsupported("an integer base takes an i32, i64 or f32 exponent");
  const bool wide = ctx.type(ctx.in(0)).element == ir::ElementType::I64;
  VpuProgram p(ctx, DataType::FP32, ctx.dims(ctx.out(0)));
  const int b = p.load(ctx.in(1)), a = p.integer_as_float(ctx.in(0));
  const int real =
      p.unary(Opcode::VPU_EXP, p.binary(Opcode::VPU_MUL, b, p.unary(Opcode::VPU_LOG, p.abs(a))));
  const int nearest = p.unary(Opcode::VPU_ROUND, real);
  const int tolerance = p.scalar(
      Opcode::VPU_MULS, p.binary(Opcode::VPU_MAX, p.abs(nearest), p.constant(1)), 0x1p-18f);
  const int snapped =
      p.binary(Opcode::VPU_CMPLE, p.abs(p.binary(Opcode::VPU_SUB, real, nearest)), tolerance);
  const int truncated = p.select(snapped, nearest, p.trunc(real));
  const int integral =
      p.binary(Opcode::VPU_MUL, p.binary(Opcode::VPU_CMPEQ, p.unary(Opcode::VPU_FLOOR, b), b),
               p.binary(Opcode::VPU_CMPLT, p.abs(b), p.constant(0x1p31f)));
  const int exponent =
      p.convert(p.select(integral, b, p.constant(0)), DataType::FP32, DataType::INT32);
  const int use_integer = p.convert(integral, DataType::FP32, DataType::INT32);
  if (!wide) {
    const int from_real = p.convert(truncated, DataType::FP32, DataType::INT32);
    p.compute_in(DataType::INT32);
    const int exact = integer_power(p, p.load(ctx.in(0)), exponent);
    p.store(p.select(use_integer, exact, from_real), ctx.out(0));
    p.emit();
    ctx.mapping = "VPU stream (integer base, f32 exponent)";
    return;
  }
  // The truncated power as 64-bit words: its magnitude split exactly in FP32 into the high word
  // and the low word's two 16-bit halves, each converted exactly, then negated where negative.
  const int magnitude = p.abs(truncated);
  const int high = p.unary(Opcode::VPU_FLOOR, p.scalar(Opcode::VPU_MULS, magnitude, 0x1p-32f));
  const int low = p.binary(Opcode::VPU_SUB, magnitude, p.scalar(Opcode::VPU_MULS, high, 0x1p32f));
  const int upper = p.unary(Opcode::VPU_FLOOR, p.scalar(Opcode::VPU_MULS, low, 0x1p-16f));
  const int lower = p.binary(Opcode::VPU_SUB, low, p.scalar(Opcode::VPU_MULS, upper, 0x1p16f));
  const int sign = p.binary(Opcode::VPU_CMPLT, truncated, p.constant(0));
  const auto to_int = [&](int x) { return p.convert(x, DataType::FP32, DataType::INT32); };
  const int high_word = to_int(high), upper_half = to_int(upper), lower_half = to_int(lower);
  const int negative = to_int(sign);
  p.compute_in(DataType::INT32);
  WideIntegers w(p);
  const Words unsigned_real{
      p.binary(Opcode::VPU_ADDW, p.binary(Opcode::VPU_MULW, upper_half, p.constant(0x1p16f)),
               lower_half),
      high_word};
  const Words from_real = w.select(negative, w.negate(unsigned_real), unsigned_real);
  const Words exact = w.power(w.load(ctx.in(0)), w.extend(exponent), 32);
  w.store(w.select(use_integer, exact, from_real), ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream (i64 base, f32 exponent, in 32-bit words)";
}

// Add, Sub and Mul of i64 tensors, wrapping, in 32-bit words.
void lower_wide_integer_arithmetic(OpContext& ctx) {
  for (size_t i = 0; i < 2; ++i)
    if (ctx.type(ctx.in(i)).element != ir::ElementType::I64)
      ctx.unsupported("operands of mixed element types");
  VpuProgram p(ctx, DataType::INT32, ctx.dims(ctx.out(0)));
  WideIntegers w(p);
  const Words a = w.load(ctx.in(0)), b = w.load(ctx.in(1));
  const std::string& op = ctx.node.op;
  w.store(op == "Add"   ? w.add(a, b)
          : op == "Sub" ? w.subtract(a, b)
                        : w.words(w.multiply(w.bytes(a), w.bytes(b))),
          ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream (64-bit wrapping arithmetic in 32-bit words)";
}

bool is_integer_arithmetic(OpContext& ctx) {
  const std::string& op = ctx.node.op;
  const ir::ElementType e = ctx.type(ctx.out(0)).element;
  return (op == "Add" || op == "Sub" || op == "Mul" || op == "Div") &&
         (e == ir::ElementType::I32 || e == ir::ElementType::I8 || e == ir::ElementType::U8);
}

bool is_wide_integer_arithmetic(OpContext& ctx) {
  const std::string& op = ctx.node.op;
  return (op == "Add" || op == "Sub" || op == "Mul") &&
         ctx.type(ctx.out(0)).element == ir::ElementType::I64;
}

}  // namespace

void lower_unary(OpContext& ctx) {
  const DataType t = compute_type(ctx);
  VpuProgram p(ctx, t, ctx.dims(ctx.out(0)));
  const int x = p.load(ctx.in(0));
  const std::string& op = ctx.node.op;
  int y = -1;
  // Operators that are one VPU instruction.
  static const std::map<std::string, Opcode> kDirect = {
      {"Relu", Opcode::VPU_RELU},   {"Exp", Opcode::VPU_EXP},          {"Log", Opcode::VPU_LOG},
      {"Sqrt", Opcode::VPU_SQRT},   {"Reciprocal", Opcode::VPU_RECIP}, {"Tanh", Opcode::VPU_TANH},
      {"Erf", Opcode::VPU_ERF},     {"Sin", Opcode::VPU_SIN},          {"Cos", Opcode::VPU_COS},
      {"Floor", Opcode::VPU_FLOOR}, {"Ceil", Opcode::VPU_CEIL},        {"Round", Opcode::VPU_ROUND},
      {"Sign", Opcode::VPU_SIGN},   {"Atan", Opcode::VPU_ATAN}};
  if (const auto direct = kDirect.find(op); direct != kDirect.end())
    y = p.unary(direct->second, x);
  else if (op == "Neg")
    y = p.scalar(Opcode::VPU_MULS, x, -1);
  else if (op == "Abs")
    y = p.abs(x);
  else if (op == "Sigmoid")
    y = p.sigmoid(x);
  else if (op == "Softplus")
    y = p.softplus(x);
  else if (op == "Silu")  // seedchip::Silu, as the Mul(x, Sigmoid(x)) it replaces computes it
    y = p.binary(Opcode::VPU_MUL, x, p.sigmoid(x));
  else if (op == "Softsign") {
    y = p.binary(Opcode::VPU_DIV, x, p.scalar(Opcode::VPU_ADDS, p.abs(x), 1));
  } else if (op == "LeakyRelu") {
    const float alpha = ctx.attr_float("alpha", 0.01f);
    y = p.binary(Opcode::VPU_ADD, p.unary(Opcode::VPU_RELU, x),
                 p.scalar(Opcode::VPU_MULS, p.negative_part(x), alpha));
  } else if (op == "Elu") {
    y = p.exponential_linear(x, ctx.attr_float("alpha", 1.0f), 1.0f);
  } else if (op == "Celu") {
    const float alpha = ctx.attr_float("alpha", 1.0f);
    y = p.exponential_linear(x, alpha, alpha);
  } else if (op == "Selu") {
    const float alpha = ctx.attr_float("alpha", 1.67326319217681884765625f);
    const float gamma = ctx.attr_float("gamma", 1.05070102214813232421875f);
    y = p.scalar(Opcode::VPU_MULS, p.exponential_linear(x, alpha, 1.0f), gamma);
  } else if (op == "HardSigmoid") {
    y = p.hard_sigmoid(x, ctx.attr_float("alpha", 0.2f), ctx.attr_float("beta", 0.5f));
  } else if (op == "HardSwish") {
    y = p.binary(Opcode::VPU_MUL, x, p.hard_sigmoid(x, 1.0f / 6, 0.5f));
  } else if (op == "Mish") {
    y = p.binary(Opcode::VPU_MUL, x, p.unary(Opcode::VPU_TANH, p.softplus(x)));
  } else if (op == "ThresholdedRelu") {
    // Selected rather than multiplied by the mask, which would turn -inf into NaN.
    const int above = p.binary(Opcode::VPU_CMPLT, p.constant(ctx.attr_float("alpha", 1.0f)), x);
    y = p.select(above, x, p.constant(0));
  } else if (op == "Shrink") {
    const float lambd = ctx.attr_float("lambd", 0.5f), bias = ctx.attr_float("bias", 0.0f);
    const int below = p.binary(Opcode::VPU_CMPLT, x, p.constant(-lambd));
    const int above = p.binary(Opcode::VPU_CMPLT, p.constant(lambd), x);
    y = p.select(below, p.scalar(Opcode::VPU_ADDS, x, bias),
                 p.select(above, p.scalar(Opcode::VPU_ADDS, x, -bias), p.constant(0)));
  } else if (op == "Tan") {
    y = p.binary(Opcode::VPU_DIV, p.unary(Opcode::VPU_SIN, x), p.unary(Opcode::VPU_COS, x));
  } else if (op == "Sinh") {
    // tanh(x/2) (1 + cosh x): no cancellation near 0, unlike (e^x - e^-x) / 2.
    const int half = p.unary(Opcode::VPU_TANH, p.scalar(Opcode::VPU_MULS, x, 0.5f));
    y = p.binary(Opcode::VPU_MUL, half, p.one_plus(p.cosh(x)));
  } else if (op == "Cosh") {
    y = p.cosh(x);
  } else if (op == "Asinh") {
    // sign(x) log1p(a + a^2 / (1 + sqrt(1 + a^2))) with a = |x|, the fraction written as
    // a / (1/a + sqrt(1 + 1/a^2)) so that a^2 cannot overflow (and a = 0 gives 0 / inf). a is
    // relu(x) + relu(-x), +0 at either zero: 1/a = -inf would make the sum NaN.
    const int a = p.binary(Opcode::VPU_ADD, p.unary(Opcode::VPU_RELU, x),
                           p.unary(Opcode::VPU_RELU, p.scalar(Opcode::VPU_MULS, x, -1)));
    const int inv = p.unary(Opcode::VPU_RECIP, a);
    const int root = p.unary(Opcode::VPU_SQRT, p.one_plus(p.binary(Opcode::VPU_MUL, inv, inv)));
    const int t = p.binary(Opcode::VPU_DIV, a, p.binary(Opcode::VPU_ADD, inv, root));
    y = p.binary(Opcode::VPU_MUL, p.unary(Opcode::VPU_SIGN, x),
                 p.log1p(p.binary(Opcode::VPU_ADD, a, t)));
  } else if (op == "Acosh") {
    // log1p(t + sqrt(t (x + 1))) with t = x - 1: accurate near 1, where x^2 - 1 cancels.
    const int t = p.scalar(Opcode::VPU_ADDS, x, -1);
    const int root = p.unary(Opcode::VPU_SQRT, p.binary(Opcode::VPU_MUL, t, p.one_plus(x)));
    y = p.log1p(p.binary(Opcode::VPU_ADD, t, root));
  } else if (op == "Atanh") {
    // log1p(2x / (1 - x)) / 2
    const int q = p.binary(Opcode::VPU_DIV, p.scalar(Opcode::VPU_MULS, x, 2), p.one_minus(x));
    y = p.scalar(Opcode::VPU_MULS, p.log1p(q), 0.5f);
  } else if (op == "Asin") {
    // atan(x / sqrt((1 - x)(1 + x))); at x = +-1 the quotient is +-inf, whose atan is +-pi/2.
    const int c =
        p.unary(Opcode::VPU_SQRT, p.binary(Opcode::VPU_MUL, p.one_minus(x), p.one_plus(x)));
    y = p.unary(Opcode::VPU_ATAN, p.binary(Opcode::VPU_DIV, x, c));
  } else if (op == "Acos") {
    // 2 atan(sqrt((1 - x) / (1 + x))): no cancellation near 1, unlike pi/2 - asin(x).
    const int r =
        p.unary(Opcode::VPU_SQRT, p.binary(Opcode::VPU_DIV, p.one_minus(x), p.one_plus(x)));
    y = p.scalar(Opcode::VPU_MULS, p.unary(Opcode::VPU_ATAN, r), 2);
  } else {
    ctx.unsupported("no VPU recipe");
  }
  p.store(y, ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream";
}

void lower_binary(OpContext& ctx) {
  const std::string& op = ctx.node.op;
  if (op == "Mod" && ctx.attr_int("fmod", 0) == 0)
    ctx.unsupported(
        "Mod with fmod=0 (the integer remainder with the divisor's sign) is not lowered");
  if (is_integer_arithmetic(ctx)) return lower_integer_arithmetic(ctx);
  if (is_wide_integer_arithmetic(ctx)) return lower_wide_integer_arithmetic(ctx);
  if (op == "Pow") {
    const ir::ElementType base = ctx.type(ctx.in(0)).element;
    const ir::ElementType exponent = ctx.type(ctx.in(1)).element;
    const bool integer_exponent =
        exponent == ir::ElementType::I32 || exponent == ir::ElementType::I64;
    if (base == ir::ElementType::I32 && exponent == ir::ElementType::I32)
      return lower_integer_pow(ctx);
    if ((base == ir::ElementType::I64 || base == ir::ElementType::I32) && integer_exponent)
      return lower_wide_integer_pow(ctx);
    if (base == ir::ElementType::I32 || base == ir::ElementType::I64)
      return lower_integer_pow_float_exponent(ctx);
    if (vpu_type(base) && (exponent == ir::ElementType::I32 || exponent == ir::ElementType::U32 ||
                           exponent == ir::ElementType::I64 || exponent == ir::ElementType::U64))
      return lower_pow_integer_exponent(ctx);
  }
  const DataType t = compute_type(ctx);
  VpuProgram p(ctx, t, ctx.dims(ctx.out(0)));
  const int a = p.load(ctx.in(0));
  int y = -1;
  if (op == "Pow") {
    // A constant integer exponent is repeated multiplication (exact for negative bases too);
    // otherwise exp(b ln a), defined for positive bases only.
    const std::optional<float> n = uniform_constant(ctx.constant(ctx.in(1)));
    if (n && *n == std::round(*n) && std::fabs(*n) <= 16) {
      const int k = static_cast<int>(std::fabs(*n));
      y = k == 0 ? p.scalar(Opcode::VPU_ADDS, p.scalar(Opcode::VPU_MULS, a, 0), 1) : a;
      for (int i = 1; i < k; ++i) y = p.binary(Opcode::VPU_MUL, y, a);
      if (*n < 0) y = p.unary(Opcode::VPU_RECIP, y);
    } else if (n && *n == 0.5f) {
      y = p.unary(Opcode::VPU_SQRT, a);
    } else {
      const int b = p.load(ctx.in(1));
      y = p.unary(Opcode::VPU_EXP, p.binary(Opcode::VPU_MUL, b, p.unary(Opcode::VPU_LOG, a)));
    }
  } else if (const std::optional<float> c = uniform_constant(ctx.constant(ctx.in(1)));
             c && (op == "Add" || op == "Sub" || op == "Mul")) {
    // One value for every element: the VPU's immediate form, the same rounding as the general
    // form (a - c is a + (-c) exactly), without streaming a broadcast operand element by element.
    y = op == "Mul" ? p.scalar(Opcode::VPU_MULS, a, *c)
                    : p.scalar(Opcode::VPU_ADDS, a, op == "Add" ? *c : -*c);
  } else {
    TensorView second = ctx.view(ctx.in(1));
    const std::vector<int64_t>& out_dims = ctx.dims(ctx.out(0));
    if (op == "PRelu" && ctx.graph.opset_version() < 7 && second.dims.size() == 1 &&
        out_dims.size() >= 2 && second.dims[0] == out_dims[1] && second.dims[0] != 1) {
      // Before opset 7 a 1-D slope runs along the channel axis (axis 1), not the last one.
      std::vector<int64_t> shaped(out_dims.size() - 1, 1);
      shaped[0] = second.dims[0];
      second = second.reshaped(shaped);
    }
    const int b = p.load(second);
    if (op == "Add")
      y = p.binary(Opcode::VPU_ADD, a, b);
    else if (op == "Sub")
      y = p.binary(Opcode::VPU_SUB, a, b);
    else if (op == "Mul")
      y = p.binary(Opcode::VPU_MUL, a, b);
    else if (op == "Div")
      y = p.binary(Opcode::VPU_DIV, a, b);
    else if (op == "PRelu")
      y = p.binary(Opcode::VPU_ADD, p.unary(Opcode::VPU_RELU, a),
                   p.binary(Opcode::VPU_MUL, b, p.negative_part(a)));
    else if (op == "Mod")  // fmod: a - trunc(a / b) b, as exact as the product in the format
      y = p.binary(Opcode::VPU_SUB, a,
                   p.binary(Opcode::VPU_MUL, p.trunc(p.binary(Opcode::VPU_DIV, a, b)), b));
    else
      ctx.unsupported("no VPU recipe");
  }
  p.store(y, ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream";
}

// seedchip::RotaryEmbedding (built by llm/: RoPE in the rotate-half layout, in one pass).
// x [rows, width] holds heads x head_dim columns from attribute `column`; cos and sin
// [rows, 1, head_dim] hold (c, c) and (-s, s) by halves. y [rows, heads x head_dim] =
// x cos + swapped(x) sin, where swapped exchanges each head's halves: a view of x with a negative
// stride over the halves, so no copy is made and the rounding is that of the Mul, Mul, Add form.
void lower_rotary_embedding(OpContext& ctx) {
  const int64_t heads = ctx.attr_int("heads", 0), head_dim = ctx.attr_int("head_dim", 0),
                column = ctx.attr_int("column", 0);
  const TensorView x = ctx.view(ctx.in(0));
  const int64_t rows = x.dims.at(0), width = x.dims.at(1), half = head_dim / 2;
  if (heads < 1 || head_dim < 2 || head_dim % 2 || column < 0 || column + heads * head_dim > width)
    ctx.unsupported("heads x head_dim columns from `column` must lie within x's " +
                    std::to_string(width) + " columns, head_dim even");
  const std::vector<int64_t> dims = {rows, heads, 2, half};
  VpuProgram p(ctx, compute_type(ctx), dims);
  const TensorView heads_view{
      x.base + column * x.element_bytes, x.element_bytes, dims, {width, head_dim, half, 1}};
  auto table = [&](ir::ValueId v) {
    return p.load(ctx.view(v).reshaped({rows, 1, 2, half}).broadcast_to(dims));
  };
  const int rotated =
      p.binary(Opcode::VPU_ADD, p.binary(Opcode::VPU_MUL, p.load(heads_view), table(ctx.in(1))),
               p.binary(Opcode::VPU_MUL, p.load(heads_view.sliced(2, 1, 2, -1)), table(ctx.in(2))));
  p.store(rotated, ctx.view(ctx.out(0)));
  p.emit();
  ctx.mapping = "VPU stream, halves swapped by a view";
}

// seedchip::SwiGLU (built by llm/): y [rows, f] = silu(gate) x up, where x [rows, 2f] holds the
// gate in its first f columns and up in the others (the fused gate/up product), read as views.
void lower_swiglu(OpContext& ctx) {
  const TensorView x = ctx.view(ctx.in(0));
  const int64_t rows = x.dims.at(0), f = x.dims.at(1) / 2;
  if (x.dims.at(1) % 2) ctx.unsupported("an odd number of columns: gate and up must split evenly");
  VpuProgram p(ctx, compute_type(ctx), {rows, f});
  const TensorView gate{x.base, x.element_bytes, {rows, f}, {2 * f, 1}};
  const TensorView up{x.base + f * x.element_bytes, x.element_bytes, {rows, f}, {2 * f, 1}};
  const int g = p.load(gate);
  p.store(p.binary(Opcode::VPU_MUL, p.binary(Opcode::VPU_MUL, g, p.sigmoid(g)), p.load(up)),
          ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream over the gate and up halves";
}

void lower_variadic(OpContext& ctx) {
  const std::string& op = ctx.node.op;
  const DataType t = compute_type(ctx, op == "Max" || op == "Min");
  VpuProgram p(ctx, t, ctx.dims(ctx.out(0)));
  const Opcode fold = op == "Max"   ? Opcode::VPU_MAX
                      : op == "Min" ? Opcode::VPU_MIN
                                    : Opcode::VPU_ADD;
  int y = p.load(ctx.in(0));
  for (size_t i = 1; i < ctx.inputs(); ++i) y = p.binary(fold, y, p.load(ctx.in(i)));
  if (op == "Mean") y = p.scalar(Opcode::VPU_MULS, y, 1.0f / static_cast<float>(ctx.inputs()));
  if (ctx.inputs() == 1) y = p.unary(Opcode::VPU_MOV, y);
  p.store(y, ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream";
}

void lower_clip(OpContext& ctx) {
  const DataType t = compute_type(ctx, ctx.graph.opset_version() >= 11);
  const std::vector<int64_t>& dims = ctx.dims(ctx.out(0));
  VpuProgram p(ctx, t, dims);
  int y = p.load(ctx.in(0));
  if (ctx.graph.opset_version() >= 11) {
    if (ctx.in(1) != ir::kNoValue) y = p.binary(Opcode::VPU_MAX, y, p.load(ctx.in(1)));
    if (ctx.in(2) != ir::kNoValue) y = p.binary(Opcode::VPU_MIN, y, p.load(ctx.in(2)));
  } else {
    y = p.binary(Opcode::VPU_MAX, y, p.constant(ctx.attr_float("min", -INFINITY)));
    y = p.binary(Opcode::VPU_MIN, y, p.constant(ctx.attr_float("max", INFINITY)));
  }
  if (y == 0) y = p.unary(Opcode::VPU_MOV, y);
  p.store(y, ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream";
}

void lower_cast(OpContext& ctx) {
  const auto from = vpu_type(ctx.type(ctx.in(0)).element);
  const auto to = vpu_type(ctx.type(ctx.out(0)).element);
  // Floats to integers would round here where ONNX truncates: not lowered.
  if (!from || !to || (dtype_is_integer(*to) && !dtype_is_integer(*from)))
    ctx.unsupported("casts are lowered among f32, f16 and bf16, and from i32 and i8 to those");
  StreamKernel k;
  k.rows = ctx.view(ctx.out(0)).element_count();
  k.slots = {{dtype_bytes(*from), SlotShape::kWide}, {dtype_bytes(*to), SlotShape::kWide}};
  k.loads = {{0, ctx.view(ctx.in(0))}};
  k.steps = {{Opcode::VPU_CVT, 1, 0, -1, 0, *from, *to}};
  k.stores = {{1, ctx.view(ctx.out(0))}};
  if (*from == DataType::FP32 && *to == DataType::BF16) {
    // ONNX's reference (and the backend test data, ONNX 1.12) casts f32 to bf16 by truncation:
    // the upper 16 bits of each f32, copied through a view of its high halves, no rounding.
    TensorView high = k.loads[0].view;
    high.base += 2;
    high.element_bytes = 2;
    for (int64_t& s : high.strides) s *= 2;
    k.slots = {{2, SlotShape::kWide}};
    k.loads = {{0, high}};
    k.steps.clear();
    k.stores[0].slot = 0;
    ctx.emit(k);
    ctx.mapping = "copy of the f32 high halves (truncation)";
    return;
  }
  if (*from == *to) {
    k.steps.clear();
    k.stores[0].slot = 0;
  }
  ctx.emit(k);
  ctx.mapping = "VPU convert";
}

// Training mode (opset 14's training_mode, or the extra outputs of opsets before it): the batch's
// own mean and population variance per channel normalise x, and the running statistics outputs
// are input x momentum + batch statistic x (1 - momentum), as ONNX's reference computes them.
// Returns the HBM addresses of the [C] batch mean and variance.
std::pair<int64_t, int64_t> batch_statistics(OpContext& ctx, DataType t) {
  const TensorView x = ctx.view(ctx.in(0));
  const int64_t c = x.dims.at(1);
  // x as [C, N, spatial...]: each channel one row, reduced with vpu.rsum.
  std::vector<int64_t> perm = {1, 0};
  for (size_t d = 2; d < x.dims.size(); ++d) perm.push_back(static_cast<int64_t>(d));
  const int64_t width = x.element_count() / c;
  const int64_t bytes = dtype_bytes(t);
  const int64_t mean = ctx.scratch(c * bytes), var = ctx.scratch(c * bytes);
  const float inv = 1.0f / static_cast<float>(width);
  StreamKernel k;
  k.rows = c;
  k.width = width;
  // Slots: 0 x (wide), 1 sum, 2 mean, 3 deviations, 4 squares, 5 sum of squares, 6 variance.
  for (SlotShape shape :
       {SlotShape::kWide, SlotShape::kNarrow, SlotShape::kNarrow, SlotShape::kWide,
        SlotShape::kWide, SlotShape::kNarrow, SlotShape::kNarrow})
    k.slots.push_back({bytes, shape});
  k.loads = {{0, x.permuted(perm)}};
  k.steps = {{Opcode::VPU_RSUM, 1, 0, -1, 0, t, t}, {Opcode::VPU_MULS, 2, 1, -1, inv, t, t},
             {Opcode::VPU_SUBC, 3, 0, 2, 0, t, t},  {Opcode::VPU_MUL, 4, 3, 3, 0, t, t},
             {Opcode::VPU_RSUM, 5, 4, -1, 0, t, t}, {Opcode::VPU_MULS, 6, 5, -1, inv, t, t}};
  k.stores = {{2, TensorView::contiguous(mean, bytes, {c})},
              {6, TensorView::contiguous(var, bytes, {c})}};
  ctx.emit(k);
  ctx.sync();
  const float momentum = ctx.attr_float("momentum", 0.9f);
  for (const auto& [input, batch, output] :
       {std::tuple{ctx.in(3), mean, ctx.out(1)}, std::tuple{ctx.in(4), var, ctx.out(2)}}) {
    if (output == ir::kNoValue) continue;
    VpuProgram p(ctx, t, {c});
    const int running = p.scalar(Opcode::VPU_MULS, p.load(input), momentum);
    const int current =
        p.scalar(Opcode::VPU_MULS, p.load(TensorView::contiguous(batch, bytes, {c})), 1 - momentum);
    p.store(p.binary(Opcode::VPU_ADD, running, current), output);
    p.emit();
  }
  return {mean, var};
}

void lower_batchnorm(OpContext& ctx) {
  const bool training = ctx.attr_int("training_mode", 0) != 0 || ctx.out(1) != ir::kNoValue;
  if (ctx.out(3) != ir::kNoValue || ctx.out(4) != ir::kNoValue)
    ctx.unsupported("the saved mean and variance outputs (opsets before 14) are not supported");
  const DataType t = compute_type(ctx);
  const std::vector<int64_t>& dims = ctx.dims(ctx.out(0));
  if (dims.size() < 2) ctx.unsupported("the input needs a channel axis");
  std::optional<std::pair<int64_t, int64_t>> batch;
  if (training) batch = batch_statistics(ctx, t);
  VpuProgram p(ctx, t, dims);
  // Per-channel vectors [C] read as [C, 1, ..., 1] broadcast over the batch and spatial axes.
  std::vector<int64_t> shaped(dims.size() - 1, 1);
  shaped[0] = dims[1];
  auto channel = [&](ir::ValueId v) { return p.load(ctx.view(v).reshaped(shaped)); };
  auto batch_channel = [&](int64_t at) {
    return p.load(TensorView::contiguous(at, dtype_bytes(t), shaped));
  };
  const int x = p.load(ctx.in(0));
  const int scale = channel(ctx.in(1)), bias = channel(ctx.in(2));
  const int mean = batch ? batch_channel(batch->first) : channel(ctx.in(3));
  const int var = batch ? batch_channel(batch->second) : channel(ctx.in(4));
  const int inv = p.binary(
      Opcode::VPU_DIV, scale,
      p.unary(Opcode::VPU_SQRT, p.scalar(Opcode::VPU_ADDS, var, ctx.attr_float("epsilon", 1e-5f))));
  const int y = p.binary(Opcode::VPU_ADD,
                         p.binary(Opcode::VPU_MUL, p.binary(Opcode::VPU_SUB, x, mean), inv), bias);
  p.store(y, ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream";
}

void lower_compare(OpContext& ctx) {
  const ir::ElementType in = ctx.type(ctx.in(0)).element;
  const auto t = vpu_ordering_type(in);
  if (!t || in != ctx.type(ctx.in(1)).element)
    ctx.unsupported("comparisons run on two operands of one of f32, f16, bf16, i32, i8");
  VpuProgram p(ctx, *t, ctx.dims(ctx.out(0)));
  const int a = p.load(ctx.in(0)), b = p.load(ctx.in(1));
  const std::string& op = ctx.node.op;
  int mask = -1;
  if (op == "Equal")
    mask = p.binary(Opcode::VPU_CMPEQ, a, b);
  else if (op == "Less")
    mask = p.binary(Opcode::VPU_CMPLT, a, b);
  else if (op == "LessOrEqual")
    mask = p.binary(Opcode::VPU_CMPLE, a, b);
  else if (op == "Greater")
    mask = p.binary(Opcode::VPU_CMPLT, b, a);
  else if (op == "GreaterOrEqual")
    mask = p.binary(Opcode::VPU_CMPLE, b, a);
  else
    ctx.unsupported("no VPU recipe");
  // 1 / 0 in the operands' format, as bool bytes.
  p.store(p.convert(mask, *t, DataType::INT8), ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream";
}

void lower_classify(OpContext& ctx) {
  const auto t = vpu_type(ctx.type(ctx.in(0)).element);
  if (!t) ctx.unsupported("IsNaN and IsInf test f32, f16 and bf16 tensors");
  const std::string& op = ctx.node.op;
  const bool positive = op == "IsInf" && ctx.attr_int("detect_positive", 1) != 0;
  const bool negative = op == "IsInf" && ctx.attr_int("detect_negative", 1) != 0;
  if (op == "IsInf" && !positive && !negative) {
    emit_fill(ctx, ctx.view(ctx.out(0)), {0});
    ctx.mapping = "fill";
    return;
  }
  VpuProgram p(ctx, *t, ctx.dims(ctx.out(0)));
  const int x = p.load(ctx.in(0));
  int mask = -1;
  if (op == "IsNaN") {
    mask = p.one_minus(p.binary(Opcode::VPU_CMPEQ, x, x));  // NaN alone is unequal to itself
  } else {
    if (positive) mask = p.binary(Opcode::VPU_CMPEQ, x, p.constant(INFINITY));
    if (negative) {
      const int below = p.binary(Opcode::VPU_CMPEQ, x, p.constant(-INFINITY));
      mask = mask < 0 ? below : p.binary(Opcode::VPU_MAX, mask, below);
    }
  }
  p.store(p.convert(mask, *t, DataType::INT8), ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream";
}

void lower_logic(OpContext& ctx) {
  for (size_t i = 0; i < ctx.inputs(); ++i)
    if (ctx.type(ctx.in(i)).element != ir::ElementType::Bool)
      ctx.unsupported("logical operators take bool tensors");
  // Booleans as FP32 0 / 1: and = a*b, or = max(a, b), xor = (a - b)^2, not = 1 - a.
  VpuProgram p(ctx, DataType::FP32, ctx.dims(ctx.out(0)));
  const int a = p.load_as(ctx.in(0), DataType::INT8);
  const std::string& op = ctx.node.op;
  int y = -1;
  if (op == "Not") {
    y = p.scalar(Opcode::VPU_ADDS, p.scalar(Opcode::VPU_MULS, a, -1), 1);
  } else {
    const int b = p.load_as(ctx.in(1), DataType::INT8);
    if (op == "And")
      y = p.binary(Opcode::VPU_MUL, a, b);
    else if (op == "Or")
      y = p.binary(Opcode::VPU_MAX, a, b);
    else if (op == "Xor") {
      const int d = p.binary(Opcode::VPU_SUB, a, b);
      y = p.binary(Opcode::VPU_MUL, d, d);
    } else {
      ctx.unsupported("no VPU recipe");
    }
  }
  p.store(p.convert(y, DataType::FP32, DataType::INT8), ctx.out(0));
  p.emit();
  ctx.mapping = "VPU stream";
}

void lower_where(OpContext& ctx) {
  const ir::ElementType data = ctx.type(ctx.out(0)).element;
  // vpu.sel copies whole elements, so an i64 is selected as its two 32-bit words: every view
  // gains an innermost axis of 2 words (stride 0 for the mask, which picks both).
  const bool words = data == ir::ElementType::I64;
  const auto t = words ? std::optional(DataType::INT32) : vpu_ordering_type(data);
  if (!t || ctx.type(ctx.in(0)).element != ir::ElementType::Bool ||
      ctx.type(ctx.in(1)).element != data || ctx.type(ctx.in(2)).element != data)
    ctx.unsupported("Where selects between tensors of one of f32, f16, bf16, i64, i32, i8");
  const std::vector<int64_t>& dims = ctx.dims(ctx.out(0));
  const auto arranged = [&](ir::ValueId v) {
    TensorView view = ctx.view(v).broadcast_to(dims);
    if (!words) return view;
    const bool mask = v == ctx.in(0);
    if (!mask) {
      view.element_bytes = 4;
      for (int64_t& s : view.strides) s *= 2;
    }
    view.dims.push_back(2);
    view.strides.push_back(mask ? 0 : 1);
    return view;
  };
  std::vector<int64_t> program_dims = dims;
  if (words) program_dims.push_back(2);
  VpuProgram p(ctx, *t, program_dims);
  const int mask = p.load_as(arranged(ctx.in(0)), DataType::INT8);
  const int a = p.load(arranged(ctx.in(1))), b = p.load(arranged(ctx.in(2)));
  p.store(p.select(mask, a, b), arranged(ctx.out(0)));
  p.emit();
  ctx.mapping = "VPU stream";
}

}  // namespace seedchip::compiler
