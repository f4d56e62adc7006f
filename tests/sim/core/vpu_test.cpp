// VPU: latency per op class and format, and every op's numbers against std:: math in double.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "arch/error.h"
#include "sim/core/unit_timing.h"
#include "sim/numerics/numerics.h"
#include "tests/sim/core/tiny_chip.h"

namespace seedchip::sim {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::TinyChip;

TEST(VpuFormula, ThroughputPerClassAndFormat) {
  VpuConfig vpu;  // 128 lanes, 8 pipeline cycles, 1 / 0.25 / 0.125 / 1 ops per lane
  EXPECT_EQ(vpu_cycles(vpu, VpuClass::SIMPLE, 1000, 32), 8u + 8u);
  EXPECT_EQ(vpu_cycles(vpu, VpuClass::SIMPLE, 1000, 16), 8u + 4u);
  EXPECT_EQ(vpu_cycles(vpu, VpuClass::SIMPLE, 1000, 8), 8u + 2u);
  EXPECT_EQ(vpu_cycles(vpu, VpuClass::DIVIDE, 1000, 32), 8u + 32u);
  EXPECT_EQ(vpu_cycles(vpu, VpuClass::TRANSCENDENTAL, 1000, 32), 8u + 63u);
  EXPECT_EQ(vpu_cycles(vpu, VpuClass::REDUCE, 1000, 32), 8u + 8u + 7u);  // log2(128) tree
  EXPECT_EQ(vpu_cycles(vpu, VpuClass::SIMPLE, 0, 32), 8u);
  EXPECT_EQ(vpu_class(isa::Opcode::VPU_GELU), VpuClass::TRANSCENDENTAL);
  EXPECT_EQ(vpu_class(isa::Opcode::VPU_ATAN), VpuClass::TRANSCENDENTAL);
  EXPECT_EQ(vpu_class(isa::Opcode::VPU_RSQRT), VpuClass::DIVIDE);
  EXPECT_EQ(vpu_class(isa::Opcode::VPU_CVT), VpuClass::SIMPLE);
}

constexpr uint64_t kA = 0, kB = 64 << 10, kD = 128 << 10;
constexpr uint64_t kPrologue = 5;  // the li instructions before the VPU instruction

// Runs one VPU instruction `text` (operands x1 = d, x2 = a, x3 = b, x4 = n or rows, x5 = cols).
uint64_t run_one(TinyChip& chip, const std::string& text, uint64_t n, uint64_t cols = 0) {
  chip.load(0, "li x1, " + std::to_string(kD) + "\nli x2, " + std::to_string(kA) + "\nli x3, " +
                   std::to_string(kB) + "\nli x4, " + std::to_string(n) + "\nli x5, " +
                   std::to_string(cols) + "\n" + text + "\nhalt\n");
  chip.run();
  return chip.cycles() - kPrologue;
}

TEST(VpuUnit, CoreLatencyFollowsTheFormula) {
  struct Case {
    std::string text;
    VpuClass op_class;
    int bits;
  };
  const VpuConfig vpu;
  for (const Case& c : {Case{"vpu.add x1, x2, x3, x4, fp32, -, -", VpuClass::SIMPLE, 32},
                        Case{"vpu.add x1, x2, x3, x4, bf16, -, -", VpuClass::SIMPLE, 16},
                        Case{"vpu.div x1, x2, x3, x4, fp32, -, -", VpuClass::DIVIDE, 32},
                        Case{"vpu.exp x1, x2, x4, fp8e4m3, -, -", VpuClass::TRANSCENDENTAL, 8},
                        Case{"vpu.cvt x1, x2, x4, fp32, bf16, -, -", VpuClass::SIMPLE, 32}}) {
    TinyChip chip;
    EXPECT_EQ(run_one(chip, c.text, 5000), vpu_cycles(vpu, c.op_class, 5000, c.bits)) << c.text;
  }
  TinyChip chip;
  EXPECT_EQ(run_one(chip, "vpu.rsum x1, x2, x4, x5, fp32, -, -", 40, 125),
            vpu_cycles(vpu, VpuClass::REDUCE, 40 * 125, 32));
}

std::vector<float> random_floats(size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> value(lo, hi);
  std::vector<float> out(n);
  for (float& x : out) x = value(rng);
  return out;
}

void expect_close(float got, double want, const std::string& what) {
  EXPECT_NEAR(got, want, 2e-6 * std::max(1.0, std::abs(want))) << what;
}

TEST(VpuUnit, Fp32UnaryOpsMatchStdMath) {
  struct Case {
    std::string mnemonic;
    std::function<double(double)> f;
    float lo, hi;
  };
  const std::vector<Case> cases = {
      {"exp", [](double x) { return std::exp(x); }, -10, 10},
      {"log", [](double x) { return std::log(x); }, 0.01f, 100},
      {"rsqrt", [](double x) { return 1 / std::sqrt(x); }, 0.01f, 100},
      {"sqrt", [](double x) { return std::sqrt(x); }, 0, 100},
      {"recip", [](double x) { return 1 / x; }, 0.5f, 100},
      {"tanh", [](double x) { return std::tanh(x); }, -5, 5},
      {"silu", [](double x) { return x / (1 + std::exp(-x)); }, -8, 8},
      {"gelu", [](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, -5, 5},
      {"relu", [](double x) { return x > 0 ? x : 0; }, -5, 5},
      {"mov", [](double x) { return x; }, -5, 5},
      {"erf", [](double x) { return std::erf(x); }, -3, 3},
      {"sin", [](double x) { return std::sin(x); }, -6, 6},
      {"cos", [](double x) { return std::cos(x); }, -6, 6},
      {"atan", [](double x) { return std::atan(x); }, -20, 20},
      {"floor", [](double x) { return std::floor(x); }, -50, 50},
      {"ceil", [](double x) { return std::ceil(x); }, -50, 50},
      {"round", [](double x) { return std::nearbyint(x); }, -50, 50},
      {"sign", [](double x) { return (x > 0) - (x < 0); }, -5, 5},
  };
  const size_t n = 300;
  for (const Case& c : cases) {
    const std::vector<float> a = random_floats(n, c.lo, c.hi, 3);
    TinyChip chip;
    chip.write_sram(0, kA, a);
    run_one(chip, "vpu." + c.mnemonic + " x1, x2, x4, fp32, -, -", n);
    const std::vector<float> d = chip.read_sram<float>(0, kD, n);
    for (size_t i = 0; i < n; ++i) expect_close(d[i], c.f(a[i]), c.mnemonic);
  }
}

TEST(VpuUnit, ComparisonsAndSelect) {
  const std::vector<float> a = {1, 2, NAN, -0.0f, 5}, b = {2, 2, 1, 0.0f, 4};
  auto compare = [&](const std::string& op) {
    TinyChip chip;
    chip.write_sram(0, kA, a);
    chip.write_sram(0, kB, b);
    run_one(chip, "vpu." + op + " x1, x2, x3, x4, fp32, -, -", a.size());
    return chip.read_sram<float>(0, kD, a.size());
  };
  EXPECT_EQ(compare("cmplt"), (std::vector<float>{1, 0, 0, 0, 0}));
  EXPECT_EQ(compare("cmple"), (std::vector<float>{1, 1, 0, 1, 0}));
  EXPECT_EQ(compare("cmpeq"), (std::vector<float>{0, 1, 0, 1, 0}));
  // vpu.sel d, a, b, m: the mask (x5 here) picks a where non-zero; bytes are copied whole.
  TinyChip chip;
  const std::vector<float> mask = {1, 0, NAN, 0, -3};
  chip.write_sram(0, kA, std::vector<float>{10, 20, 30, 40, 50});
  chip.write_sram(0, kB, std::vector<float>{-1, -2, -3, -4, -5});
  chip.write_sram(0, 192 << 10, mask);
  chip.load(0, "li x1, " + std::to_string(kD) + "\nli x2, " + std::to_string(kA) + "\nli x3, " +
                   std::to_string(kB) + "\nli x4, 5\nli x5, " + std::to_string(192 << 10) +
                   "\nvpu.sel x1, x2, x3, x5, x4, fp32, -, -\nhalt\n");
  chip.run();
  EXPECT_EQ(chip.read_sram<float>(0, kD, 5), (std::vector<float>{10, -2, 30, -4, 50}));
}

TEST(VpuUnit, Fp32BinaryScalarAndBroadcastOps) {
  const uint64_t rows = 6, cols = 50, n = rows * cols;
  const std::vector<float> a = random_floats(n, -4, 4, 4);
  const std::vector<float> b = random_floats(n, 0.5f, 4, 5);
  struct Case {
    std::string text;
    std::function<double(size_t)> f;
  };
  const std::vector<Case> cases = {
      {"vpu.add x1, x2, x3, x4, fp32, -, -", [&](size_t i) { return a[i] + double(b[i]); }},
      {"vpu.sub x1, x2, x3, x4, fp32, -, -", [&](size_t i) { return a[i] - double(b[i]); }},
      {"vpu.mul x1, x2, x3, x4, fp32, -, -", [&](size_t i) { return a[i] * double(b[i]); }},
      {"vpu.div x1, x2, x3, x4, fp32, -, -", [&](size_t i) { return a[i] / double(b[i]); }},
      {"vpu.max x1, x2, x3, x4, fp32, -, -", [&](size_t i) { return std::max(a[i], b[i]); }},
      {"vpu.min x1, x2, x3, x4, fp32, -, -", [&](size_t i) { return std::min(a[i], b[i]); }},
      {"vpu.adds x1, x2, x4, 1.5, fp32, -, -", [&](size_t i) { return a[i] + 1.5; }},
      {"vpu.muls x1, x2, x4, -0.25, fp32, -, -", [&](size_t i) { return a[i] * -0.25; }},
  };
  for (const Case& c : cases) {
    TinyChip chip;
    chip.write_sram(0, kA, a);
    chip.write_sram(0, kB, b);
    run_one(chip, c.text, n);
    const std::vector<float> d = chip.read_sram<float>(0, kD, n);
    for (size_t i = 0; i < n; ++i) expect_close(d[i], c.f(i), c.text);
  }
  const std::vector<Case> tile_cases = {
      {"vpu.addb x1, x2, x3, x4, x5, fp32, -, -",
       [&](size_t i) { return a[i] + double(b[i % cols]); }},
      {"vpu.mulb x1, x2, x3, x4, x5, fp32, -, -",
       [&](size_t i) { return a[i] * double(b[i % cols]); }},
      {"vpu.subc x1, x2, x3, x4, x5, fp32, -, -",
       [&](size_t i) { return a[i] - double(b[i / cols]); }},
      {"vpu.mulc x1, x2, x3, x4, x5, fp32, -, -",
       [&](size_t i) { return a[i] * double(b[i / cols]); }},
  };
  for (const Case& c : tile_cases) {
    TinyChip chip;
    chip.write_sram(0, kA, a);
    chip.write_sram(0, kB, b);
    run_one(chip, c.text, rows, cols);
    const std::vector<float> d = chip.read_sram<float>(0, kD, n);
    for (size_t i = 0; i < n; ++i) expect_close(d[i], c.f(i), c.text);
  }
}

TEST(VpuUnit, ReductionsAccumulateInColumnOrder) {
  const uint64_t rows = 5, cols = 77;
  const std::vector<float> a = random_floats(rows * cols, -3, 3, 6);
  TinyChip sum_chip, max_chip;
  sum_chip.write_sram(0, kA, a);
  max_chip.write_sram(0, kA, a);
  run_one(sum_chip, "vpu.rsum x1, x2, x4, x5, fp32, -, -", rows, cols);
  run_one(max_chip, "vpu.rmax x1, x2, x4, x5, fp32, -, -", rows, cols);
  const std::vector<float> sums = sum_chip.read_sram<float>(0, kD, rows);
  const std::vector<float> maxes = max_chip.read_sram<float>(0, kD, rows);
  for (uint64_t r = 0; r < rows; ++r) {
    float sum = 0, max = a[r * cols];
    for (uint64_t c = 0; c < cols; ++c) {
      sum += a[r * cols + c];
      max = std::max(max, a[r * cols + c]);
    }
    EXPECT_EQ(sums[r], sum);  // the documented order makes the FP32 sum exact to reproduce
    EXPECT_EQ(maxes[r], max);
  }
}

TEST(VpuUnit, Bf16RoundsToNearestEven) {
  const size_t n = 200;
  const std::vector<float> af = random_floats(n, -100, 100, 7), bf = random_floats(n, -1, 1, 8);
  std::vector<uint16_t> a(n), b(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = numerics::fp32_to_bf16(af[i]);
    b[i] = numerics::fp32_to_bf16(bf[i]);
  }
  TinyChip chip;
  chip.write_sram(0, kA, a);
  chip.write_sram(0, kB, b);
  run_one(chip, "vpu.mul x1, x2, x3, x4, bf16, -, -", n);
  const std::vector<uint16_t> d = chip.read_sram<uint16_t>(0, kD, n);
  for (size_t i = 0; i < n; ++i) {
    // A product of two bf16 values is exact in FP32, so one rounding gives the exact answer.
    const float exact = numerics::bf16_to_fp32(a[i]) * numerics::bf16_to_fp32(b[i]);
    EXPECT_EQ(d[i], numerics::fp32_to_bf16(exact)) << i;
  }
}

TEST(VpuUnit, ConvertSaturatesAndRounds) {
  const std::vector<float> a = {1.5f, 2.5f, -2.5f, 300.0f, -1000.0f, 126.49f};
  TinyChip chip;
  chip.write_sram(0, kA, a);
  run_one(chip, "vpu.cvt x1, x2, x4, fp32, int8, -, -", a.size());
  EXPECT_EQ(chip.read_sram<int8_t>(0, kD, a.size()),
            (std::vector<int8_t>{2, 2, -2, 127, -128, 126}));
}

TEST(VpuUnit, IntegerOpsSaturate) {
  const std::vector<int8_t> a = {100, -100, 7, -7, 127};
  const std::vector<int8_t> b = {100, 3, 2, -3, 1};
  struct Case {
    std::string text;
    std::vector<int8_t> want;
  };
  for (const Case& c : {Case{"vpu.add x1, x2, x3, x4, int8, -, -", {127, -97, 9, -10, 127}},
                        Case{"vpu.sub x1, x2, x3, x4, int8, -, -", {0, -103, 5, -4, 126}},
                        Case{"vpu.mul x1, x2, x3, x4, int8, -, -", {127, -128, 14, 21, 127}},
                        Case{"vpu.max x1, x2, x3, x4, int8, -, -", {100, 3, 7, -3, 127}},
                        Case{"vpu.relu x1, x2, x4, int8, -, -", {100, 0, 7, 0, 127}}}) {
    TinyChip chip;
    chip.write_sram(0, kA, a);
    chip.write_sram(0, kB, b);
    run_one(chip, c.text, a.size());
    EXPECT_EQ(chip.read_sram<int8_t>(0, kD, a.size()), c.want) << c.text;
  }
}

// vpu.addw/subw/mulw wrap modulo 2^bits where vpu.add/sub/mul saturate; the integer vpu.div
// truncates toward zero, wraps (-128 / -1) and gives 0 for a zero divisor.
TEST(VpuUnit, WrappingIntegerOpsAndIntegerDivision) {
  const std::vector<int8_t> a = {100, -100, 7, -7, -128, 5};
  const std::vector<int8_t> b = {100, 100, 2, 2, -1, 0};
  struct Case {
    std::string text;
    std::vector<int8_t> want;
  };
  for (const Case& c : {Case{"vpu.addw x1, x2, x3, x4, int8, -, -", {-56, 0, 9, -5, 127, 5}},
                        Case{"vpu.subw x1, x2, x3, x4, int8, -, -", {0, 56, 5, -9, -127, 5}},
                        Case{"vpu.mulw x1, x2, x3, x4, int8, -, -", {16, -16, 14, -14, -128, 0}},
                        Case{"vpu.div x1, x2, x3, x4, int8, -, -", {1, -1, 3, -3, -128, 0}}}) {
    TinyChip chip;
    chip.write_sram(0, kA, a);
    chip.write_sram(0, kB, b);
    run_one(chip, c.text, a.size());
    EXPECT_EQ(chip.read_sram<int8_t>(0, kD, a.size()), c.want) << c.text;
  }
  const std::vector<int32_t> x = {2147483647, -2147483647 - 1, 65536, -7};
  const std::vector<int32_t> y = {1, 1, 65536, 2};
  for (const auto& [text, want] :
       {std::pair{"vpu.addw x1, x2, x3, x4, int32, -, -",
                  std::vector<int32_t>{-2147483647 - 1, -2147483647, 131072, -5}},
        std::pair{"vpu.mulw x1, x2, x3, x4, int32, -, -",
                  std::vector<int32_t>{2147483647, -2147483647 - 1, 0, -14}}}) {
    TinyChip chip;
    chip.write_sram(0, kA, x);
    chip.write_sram(0, kB, y);
    run_one(chip, text, x.size());
    EXPECT_EQ(chip.read_sram<int32_t>(0, kD, x.size()), want) << text;
  }
}

TEST(VpuUnit, WrappingOpsAreTimedAsSimpleAndRefusedOnFloats) {
  EXPECT_EQ(vpu_class(isa::Opcode::VPU_MULW), VpuClass::SIMPLE);
  TinyChip chip;
  EXPECT_EQ(run_one(chip, "vpu.mulw x1, x2, x3, x4, int32, -, -", 5000),
            vpu_cycles(VpuConfig{}, VpuClass::SIMPLE, 5000, 32));
  TinyChip timed;
  EXPECT_EQ(run_one(timed, "vpu.div x1, x2, x3, x4, int32, -, -", 5000),
            vpu_cycles(VpuConfig{}, VpuClass::DIVIDE, 5000, 32));
  TinyChip floats;
  EXPECT_THROW(run_one(floats, "vpu.addw x1, x2, x3, x4, fp32, -, -", 4), InputError);
}

TEST(VpuUnit, UnsupportedFormatIsAnInputError) {
  TinyChip chip;
  try {
    run_one(chip, "vpu.exp x1, x2, x4, int8, -, -", 4);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr("core 0"), HasSubstr("instruction 5"),
                                HasSubstr("vpu.exp"), HasSubstr("int8")));
  }
}

}  // namespace
}  // namespace seedchip::sim
