// 64-bit integer arithmetic in 32-bit words (lower_elementwise.cpp) end to end on the functional
// simulator, against the wrapping two's complement results computed on the host: Add, Sub, Mul
// and Pow of i64 tensors, and integer bases with f32 exponents, at the values where words carry,
// borrow and wrap.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "arch/chip_loader.h"
#include "compiler/ir/text.h"
#include "runtime/runtime.h"

namespace seedchip::runtime {
namespace {

namespace ir = compiler::ir;
using ir::ElementType;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// The binary op on a and b of element types ta and tb, its output of type tout.
template <class Out, class A, class B>
std::vector<Out> run(const std::string& op, const std::string& ta, const std::string& tb,
                     const std::string& tout, const std::vector<A>& a, const std::vector<B>& b) {
  const std::string n = std::to_string(a.size());
  const std::string graph = "graph \"g\" opset \"\"=15 {\n  input %a: " + ta + "[" + n +
                            "]\n  input %b: " + tb + "[" + n + "]\n  %y: " + tout + "[" + n +
                            "] = " + op + "(%a, %b)\n  output %y\n}\n";
  const LoadedChip chip = load_chip("seedchip-v1");
  const compiler::CompiledModel model = compiler::compile_graph(ir::parse(graph), chip);
  const auto element = [](const std::string& t) { return *ir::element_from_name(t); };
  const auto size = static_cast<int64_t>(a.size());
  const RunResult r = run_model(model, chip,
                                {{"a", ir::host_tensor(element(ta), {size}, a)},
                                 {"b", ir::host_tensor(element(tb), {size}, b)}});
  return ir::host_values<Out>(r.outputs.at(0));
}

uint64_t bits(int64_t x) { return static_cast<uint64_t>(x); }
int64_t wrap(uint64_t x) { return static_cast<int64_t>(x); }

// a^n mod 2^64 for n >= 0; for n < 0 the truncated 1 / a^|n| (ONNX's integer Pow).
int64_t reference_pow(int64_t a, int64_t n) {
  if (n < 0) {
    if (a == 1) return 1;
    if (a == -1) return (bits(n) & 1) ? -1 : 1;
    return 0;
  }
  uint64_t y = 1, square = bits(a);
  for (uint64_t e = bits(n); e; e >>= 1) {
    if (e & 1) y *= square;
    square *= square;
  }
  return wrap(y);
}

const std::vector<int64_t> kA = {0,          1,    -1,       0xFFFFFFFF,   int64_t{1} << 32,
                                 kMax,       kMin, -7,       123456789012, -0x7FFFFFFF,
                                 0x80000000, 3,    kMin + 1, 65536};
const std::vector<int64_t> kB = {0, -1,         -1,         1,          -1,   1,    -1,
                                 9, -987654321, 0x7FFFFFFF, 0x80000000, kMax, kMin, 65536};

TEST(WideIntegers, AddSubAndMulWrapLikeTwosComplement) {
  std::vector<int64_t> sum, difference, product;
  for (size_t i = 0; i < kA.size(); ++i) {
    sum.push_back(wrap(bits(kA[i]) + bits(kB[i])));
    difference.push_back(wrap(bits(kA[i]) - bits(kB[i])));
    product.push_back(wrap(bits(kA[i]) * bits(kB[i])));
  }
  EXPECT_EQ((run<int64_t>("Add", "i64", "i64", "i64", kA, kB)), sum);
  EXPECT_EQ((run<int64_t>("Sub", "i64", "i64", "i64", kA, kB)), difference);
  EXPECT_EQ((run<int64_t>("Mul", "i64", "i64", "i64", kA, kB)), product);
}

TEST(WideIntegers, PowOfI64SquaresAndMultipliesOverAllExponentBits) {
  const std::vector<int64_t> a = {2, 3, -3, 7, 1, -1, -1, 2, 0, 5, 12345, -2, kMin, 3};
  const std::vector<int64_t> n = {10, 40, 41, 63,   kMin, kMin + 1, kMax,
                                  64, 0,  -2, 1000, 63,   1,        (int64_t{1} << 62) + 5};
  std::vector<int64_t> expected;
  for (size_t i = 0; i < a.size(); ++i) expected.push_back(reference_pow(a[i], n[i]));
  EXPECT_EQ((run<int64_t>("Pow", "i64", "i64", "i64", a, n)), expected);
  // An i32 exponent, and an i32 base to an i64 exponent (the low word of the 64-bit power).
  const std::vector<int32_t> n32 = {10, 40, 41, 63, -5, 3, 2147483647, 64, 0, -2, 1000, 63, 1, 7};
  expected.clear();
  for (size_t i = 0; i < a.size(); ++i) expected.push_back(reference_pow(a[i], n32[i]));
  EXPECT_EQ((run<int64_t>("Pow", "i64", "i32", "i64", a, n32)), expected);
  const std::vector<int32_t> a32 = {2, 3, -3, 7, 1, -1, -1, 2, 0, 5, 12345, -2, -2147483647 - 1, 3};
  std::vector<int32_t> low;
  for (size_t i = 0; i < a.size(); ++i)
    low.push_back(static_cast<int32_t>(static_cast<uint32_t>(bits(reference_pow(a32[i], n[i])))));
  EXPECT_EQ((run<int32_t>("Pow", "i32", "i64", "i32", a32, n)), low);
}

TEST(WideIntegers, IntegerBaseToAFloatExponentKeepsTheBaseType) {
  // Integral exponents are exact, wrapping as integer Pow does; others truncate the real power.
  const std::vector<int64_t> a = {3, -3, 2, 10, 7, 4, 2, -2, 1, 9};
  const std::vector<float> b = {6, 3, 62, 18, -1, 0.5f, 2.5f, 64, -3, 1.5f};
  const std::vector<int64_t> expected = {
      729, -27, int64_t{1} << 62, 1000000000000000000, 0, 2, 5, 0, 1, 27};
  EXPECT_EQ((run<int64_t>("Pow", "i64", "f32", "i64", a, b)), expected);
  const std::vector<int32_t> a32 = {3, -3, 2, 10, 7, 4, 2, -2, 1, 9};
  const std::vector<int32_t> expected32 = {729, -27, 0, -1486618624, 0, 2, 5, 0, 1, 27};
  EXPECT_EQ((run<int32_t>("Pow", "i32", "f32", "i32", a32, b)), expected32);
}

}  // namespace
}  // namespace seedchip::runtime
