// Conversions against hand-checked values and against an independent reference rounding that
// enumerates each format's representable values in double precision and picks the nearest one.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "sim/numerics/numerics.h"

namespace seedchip::numerics {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

float from_bits(uint32_t u) { return std::bit_cast<float>(u); }

// Describes a format the way the OCP and IEEE documents do, independently of the implementation.
struct RefFormat {
  DataType type;
  int exp_bits;
  int man_bits;
  int bias;
  bool has_inf;     // all-ones exponent reserved for inf/NaN (else only all-ones code is NaN)
  bool saturate;    // finite overflow clamps to max finite
  bool inf_to_max;  // +-inf converts to +-max finite
  int width() const { return 1 + exp_bits + man_bits; }
  uint32_t sign_bit() const { return 1u << (exp_bits + man_bits); }
};

const RefFormat kBf16{DataType::BF16, 8, 7, 127, true, false, false};
const RefFormat kFp16{DataType::FP16, 5, 10, 15, true, false, false};
const RefFormat kE4M3{DataType::FP8_E4M3, 4, 3, 7, false, true, true};
const RefFormat kE5M2{DataType::FP8_E5M2, 5, 2, 15, true, true, false};
const RefFormat kAllFormats[] = {kBf16, kFp16, kE4M3, kE5M2};

// The non-negative finite values in code order (code == index), built with ldexp.
std::vector<double> representable(const RefFormat& f) {
  std::vector<double> v;
  const int exp_max = (1 << f.exp_bits) - 1;
  for (int e = 0; e <= exp_max; ++e) {
    for (int m = 0; m < (1 << f.man_bits); ++m) {
      if (f.has_inf && e == exp_max) return v;
      if (!f.has_inf && e == exp_max && m == (1 << f.man_bits) - 1) return v;
      v.push_back(e == 0 ? std::ldexp(m, 1 - f.bias - f.man_bits)
                         : std::ldexp((1 << f.man_bits) + m, e - f.bias - f.man_bits));
    }
  }
  return v;
}

struct Reference {
  RefFormat f;
  std::vector<double> values;
  explicit Reference(const RefFormat& fmt) : f(fmt), values(representable(fmt)) {}

  uint32_t inf_code() const { return uint32_t((1 << f.exp_bits) - 1) << f.man_bits; }
  uint32_t max_code() const { return uint32_t(values.size() - 1); }

  // Expected code for a non-NaN input.
  uint32_t round(float x) const {
    const uint32_t sign = std::signbit(x) ? f.sign_bit() : 0;
    const double t = std::fabs(static_cast<double>(x));
    const double max = values.back();
    const double half_ulp_max = (max - values[values.size() - 2]) / 2;
    if (std::isinf(t)) return sign | (f.inf_to_max || !f.has_inf ? max_code() : inf_code());
    if (t > max) {
      if (f.saturate) return sign | max_code();
      if (t >= max + half_ulp_max) return sign | inf_code();
      return sign | max_code();
    }
    const auto it = std::lower_bound(values.begin(), values.end(), t);
    const uint32_t hi = uint32_t(it - values.begin());
    if (values[hi] == t) return sign | hi;
    const double below = t - values[hi - 1], above = values[hi] - t;
    if (below < above) return sign | (hi - 1);
    if (above < below) return sign | hi;
    return sign | ((hi - 1) % 2 == 0 ? hi - 1 : hi);
  }
};

uint32_t encode(DataType t, float x) {
  switch (t) {
    case DataType::BF16:
      return fp32_to_bf16(x);
    case DataType::FP16:
      return fp32_to_fp16(x);
    case DataType::FP8_E4M3:
      return fp32_to_fp8_e4m3(x);
    case DataType::FP8_E5M2:
      return fp32_to_fp8_e5m2(x);
    default:
      ADD_FAILURE() << "not a narrow float";
      return 0;
  }
}

float decode(DataType t, uint32_t v) {
  switch (t) {
    case DataType::BF16:
      return bf16_to_fp32(static_cast<uint16_t>(v));
    case DataType::FP16:
      return fp16_to_fp32(static_cast<uint16_t>(v));
    case DataType::FP8_E4M3:
      return fp8_e4m3_to_fp32(static_cast<uint8_t>(v));
    case DataType::FP8_E5M2:
      return fp8_e5m2_to_fp32(static_cast<uint8_t>(v));
    default:
      ADD_FAILURE() << "not a narrow float";
      return 0;
  }
}

bool is_nan_code(const RefFormat& f, uint32_t v) {
  const uint32_t mag = v & (f.sign_bit() - 1);
  const uint32_t exp_ones = uint32_t((1 << f.exp_bits) - 1) << f.man_bits;
  const uint32_t man_mask = (1u << f.man_bits) - 1;
  if (f.has_inf) return (mag & exp_ones) == exp_ones && (mag & man_mask) != 0;
  return mag == (exp_ones | man_mask);
}

void expect_encodes_like_reference(const Reference& ref, float x) {
  const uint32_t got = encode(ref.f.type, x);
  if (std::isnan(x)) {
    EXPECT_TRUE(is_nan_code(ref.f, got)) << dtype_name(ref.f.type) << " NaN -> " << got;
    EXPECT_EQ(got & ref.f.sign_bit(), std::signbit(x) ? ref.f.sign_bit() : 0u);
    return;
  }
  const uint32_t want = ref.round(x);
  ASSERT_EQ(got, want) << dtype_name(ref.f.type) << " of " << std::hexfloat << x << " ("
                       << std::bit_cast<uint32_t>(x) << ")";
}

TEST(Conversion, HandCheckedValues) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(fp32_to_bf16(1.0f + 0x1p-8f), 0x3F80);      // tie, to even
  EXPECT_EQ(fp32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3F82);  // tie, to even (up)
  EXPECT_EQ(fp32_to_bf16(-2.0f), 0xC000);
  EXPECT_EQ(fp32_to_bf16(std::numeric_limits<float>::max()), 0x7F80);  // rounds past max to inf
  EXPECT_EQ(bf16_to_fp32(0x0001), 0x1p-133f);

  EXPECT_EQ(fp32_to_fp16(1.0f), 0x3C00);
  EXPECT_EQ(fp32_to_fp16(65504.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65519.0f), 0x7BFF);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7C00);  // max + half ulp ties to inf
  EXPECT_EQ(fp32_to_fp16(0x1p-24f), 0x0001);
  EXPECT_EQ(fp32_to_fp16(0x1p-25f), 0x0000);  // half the min subnormal ties to zero
  EXPECT_EQ(fp32_to_fp16(std::nextafter(0x1p-25f, 1.0f)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(3 * 0x1p-25f), 0x0002);  // 1.5 x min subnormal ties to even 2
  EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
  EXPECT_EQ(fp32_to_fp16(0x1p-14f - 0x1p-26f), 0x0400);  // rounds up into the min normal
  EXPECT_EQ(fp16_to_fp32(0x3555), 0x1.554p-2f);
  EXPECT_EQ(fp16_to_fp32(0x03FF), 0x3FFp-24f);
  EXPECT_EQ(fp16_to_fp32(0xFC00), -kInf);

  EXPECT_EQ(fp32_to_fp8_e4m3(448.0f), 0x7E);
  EXPECT_EQ(fp32_to_fp8_e4m3(464.0f), 0x7E);
  EXPECT_EQ(fp32_to_fp8_e4m3(1e9f), 0x7E);
  EXPECT_EQ(fp32_to_fp8_e4m3(kInf), 0x7E);
  EXPECT_EQ(fp32_to_fp8_e4m3(-kInf), 0xFE);
  EXPECT_EQ(fp32_to_fp8_e4m3(kNaN), 0x7F);
  EXPECT_EQ(fp32_to_fp8_e4m3(-kNaN), 0xFF);
  EXPECT_EQ(fp32_to_fp8_e4m3(0x1p-9f), 0x01);
  EXPECT_EQ(fp32_to_fp8_e4m3(0x1p-10f), 0x00);
  EXPECT_EQ(fp32_to_fp8_e4m3(1.0f), 0x38);
  EXPECT_EQ(fp8_e4m3_to_fp32(0x7E), 448.0f);
  EXPECT_EQ(fp8_e4m3_to_fp32(0x78), 256.0f);  // S.1111.000 is a number in E4M3
  EXPECT_EQ(fp8_e4m3_to_fp32(0x08), 0x1p-6f);
  EXPECT_EQ(fp8_e4m3_to_fp32(0x07), 7 * 0x1p-9f);
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_fp32(0x7F)));
  EXPECT_TRUE(std::isnan(fp8_e4m3_to_fp32(0xFF)));

  EXPECT_EQ(fp32_to_fp8_e5m2(57344.0f), 0x7B);
  EXPECT_EQ(fp32_to_fp8_e5m2(61440.0f), 0x7B);
  EXPECT_EQ(fp32_to_fp8_e5m2(1e30f), 0x7B);
  EXPECT_EQ(fp32_to_fp8_e5m2(-1e30f), 0xFB);
  EXPECT_EQ(fp32_to_fp8_e5m2(kInf), 0x7C);
  EXPECT_EQ(fp32_to_fp8_e5m2(-kInf), 0xFC);
  EXPECT_EQ(fp32_to_fp8_e5m2(0x1p-16f), 0x01);
  EXPECT_EQ(fp32_to_fp8_e5m2(1.0f), 0x3C);
  EXPECT_EQ(fp8_e5m2_to_fp32(0x7B), 57344.0f);
  EXPECT_EQ(fp8_e5m2_to_fp32(0x7C), kInf);
  EXPECT_EQ(fp8_e5m2_to_fp32(0x01), 0x1p-16f);
  EXPECT_TRUE(std::isnan(fp8_e5m2_to_fp32(0x7D)));
  EXPECT_TRUE(std::isnan(fp8_e5m2_to_fp32(fp32_to_fp8_e5m2(kNaN))));
}

TEST(Conversion, NaNStaysQuietNaNWithSign) {
  const float snan = from_bits(0xFF800001u);  // negative signalling NaN
  EXPECT_EQ(fp32_to_bf16(snan) & 0xFFC0, 0xFFC0);
  EXPECT_EQ(fp32_to_fp16(snan) & 0xFE00, 0xFE00);
  EXPECT_EQ(fp32_to_fp8_e5m2(snan) & 0xFE, 0xFE);
  EXPECT_EQ(std::bit_cast<uint32_t>(bf16_to_fp32(0x7F81)) & 0xFFC00000u, 0x7FC00000u);
  EXPECT_EQ(std::bit_cast<uint32_t>(fp16_to_fp32(0xFC01)) & 0xFFC00000u, 0xFFC00000u);
  EXPECT_EQ(std::bit_cast<uint32_t>(fp8_e5m2_to_fp32(0xFD)) & 0xFFC00000u, 0xFFC00000u);
}

// Every bit pattern decodes to the value the spec defines and re-encodes to itself.
TEST(Conversion, ExhaustiveDecodeAndRoundTrip) {
  for (const RefFormat& f : kAllFormats) {
    const Reference ref(f);
    for (uint32_t v = 0; v < (1u << f.width()); ++v) {
      const float x = decode(f.type, v);
      if (is_nan_code(f, v)) {
        ASSERT_TRUE(std::isnan(x)) << dtype_name(f.type) << " " << v;
        ASSERT_TRUE(is_nan_code(f, encode(f.type, x))) << dtype_name(f.type) << " " << v;
        ASSERT_EQ(std::signbit(x), (v & f.sign_bit()) != 0);
        continue;
      }
      const uint32_t mag = v & (f.sign_bit() - 1);
      const double want = mag < ref.values.size() ? ref.values[mag] : HUGE_VAL;
      ASSERT_EQ(static_cast<double>(x), (v & f.sign_bit()) ? -want : want)
          << dtype_name(f.type) << " " << v;
      ASSERT_EQ(encode(f.type, x), v) << dtype_name(f.type) << " " << v;
    }
  }
}

// Midpoints between neighbouring values, one FP32 ulp either side, and the range boundaries.
TEST(Conversion, TiesAndBoundariesMatchReference) {
  for (const RefFormat& f : kAllFormats) {
    const Reference ref(f);
    std::vector<double> points = ref.values;
    const double max = ref.values.back();
    points.push_back(max + (max - ref.values[ref.values.size() - 2]));  // first value past max
    std::vector<float> cases;
    for (size_t i = 0; i + 1 < points.size(); ++i) {
      const double mid = (points[i] + points[i + 1]) / 2;
      const float m = static_cast<float>(mid);
      ASSERT_EQ(static_cast<double>(m), mid) << "midpoint must be exact in FP32";
      cases.insert(cases.end(), {m, std::nextafter(m, 0.0f), std::nextafter(m, kInf),
                                 static_cast<float>(points[i])});
    }
    const float min_sub = static_cast<float>(ref.values[1]);
    cases.insert(
        cases.end(),
        {static_cast<float>(max), std::nextafter(static_cast<float>(max), kInf), min_sub,
         min_sub / 2, std::nextafter(min_sub / 2, 1.0f), std::nextafter(min_sub / 2, 0.0f), 0.0f,
         kInf, std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(),
         std::numeric_limits<float>::min(), kNaN});
    for (float x : cases) {
      expect_encodes_like_reference(ref, x);
      expect_encodes_like_reference(ref, -x);
    }
  }
}

TEST(Conversion, RandomValuesMatchReference) {
  std::mt19937 rng(1234);
  for (const RefFormat& f : kAllFormats) {
    const Reference ref(f);
    const int lo_exp = 1 - f.bias - f.man_bits - 3, hi_exp = (1 << f.exp_bits) - f.bias + 1;
    std::uniform_int_distribution<int> exp_dist(std::max(lo_exp, -149), std::min(hi_exp, 127));
    for (int i = 0; i < 1'000'000; ++i) {
      // Half uniformly random bit patterns (all of FP32 incl. NaN/inf), half within the format's
      // range where every rounding decision is made.
      const uint32_t r = rng();
      const float x = i % 2 ? from_bits(r)
                            : std::copysign(std::ldexp(1.0f + (r >> 9) * 0x1p-23f, exp_dist(rng)),
                                            (r & 1) ? -1.0f : 1.0f);
      expect_encodes_like_reference(ref, x);
      if (HasFatalFailure()) return;
    }
  }
}

int32_t ref_int(float x, double lo, double hi) {
  if (std::isnan(x)) return 0;
  return static_cast<int32_t>(std::clamp(std::nearbyint(static_cast<double>(x)), lo, hi));
}

TEST(Conversion, Integers) {
  EXPECT_EQ(fp32_to_int8(2.5f), 2);
  EXPECT_EQ(fp32_to_int8(3.5f), 4);
  EXPECT_EQ(fp32_to_int8(-2.5f), -2);
  EXPECT_EQ(fp32_to_int8(-0.5f), 0);
  EXPECT_EQ(fp32_to_int8(127.4f), 127);
  EXPECT_EQ(fp32_to_int8(127.5f), 127);
  EXPECT_EQ(fp32_to_int8(-128.5f), -128);
  EXPECT_EQ(fp32_to_int8(1e20f), 127);
  EXPECT_EQ(fp32_to_int8(-kInf), -128);
  EXPECT_EQ(fp32_to_int8(kNaN), 0);
  EXPECT_EQ(fp32_to_int32(0x1p31f), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(fp32_to_int32(-0x1p31f), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(fp32_to_int32(2147483520.0f), 2147483520);
  EXPECT_EQ(fp32_to_int32(kInf), std::numeric_limits<int32_t>::max());
  EXPECT_EQ(fp32_to_int32(-1e30f), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(fp32_to_int32(kNaN), 0);
  EXPECT_EQ(fp32_to_int32(8388607.5f), 8388608);
  EXPECT_EQ(fp32_to_int32(-4194304.5f), -4194304);
  EXPECT_EQ(fp32_to_int32(16777217.0f), 16777216);  // not representable; FP32 holds 2^24

  std::mt19937 rng(99);
  std::uniform_real_distribution<float> small(-300.0f, 300.0f);
  for (int i = 0; i < 1'000'000; ++i) {
    const float x = i % 2 ? from_bits(rng()) : small(rng);
    ASSERT_EQ(fp32_to_int8(x), ref_int(x, -128, 127)) << std::hexfloat << x;
    ASSERT_EQ(fp32_to_int32(x), ref_int(x, -2147483648.0, 2147483647.0)) << std::hexfloat << x;
  }
}

// The bulk loops agree with the scalar conversions, including unaligned buffers.
TEST(Conversion, BulkMatchesScalar) {
  std::mt19937 rng(7);
  constexpr size_t kN = 70001;
  std::vector<float> src(kN);
  for (size_t i = 0; i < kN; ++i) {
    src[i] =
        i % 3 == 0 ? from_bits(rng()) : std::ldexp(float(rng()) * 0x1p-32f - 0.5f, i % 40 - 20);
  }
  std::vector<unsigned char> buf(kN * 4 + 1);
  std::vector<float> back(kN);
  for (DataType t : kAllDataTypes) {
    unsigned char* dst = buf.data() + 1;  // deliberately misaligned
    from_fp32(t, src.data(), dst, kN);
    to_fp32(t, dst, back.data(), kN);
    for (size_t i = 0; i < kN; ++i) {
      const unsigned char* p = dst + i * dtype_bytes(t);
      float want_back = 0;
      bool ok = true;
      switch (t) {
        case DataType::FP32:
          ok = std::memcmp(p, &src[i], 4) == 0;
          std::memcpy(&want_back, p, 4);
          break;
        case DataType::BF16:
        case DataType::FP16:
        case DataType::FP8_E4M3:
        case DataType::FP8_E5M2: {
          uint32_t code = 0;
          std::memcpy(&code, p, dtype_bytes(t));
          ok = code == encode(t, src[i]) || (std::isnan(src[i]) && std::isnan(decode(t, code)));
          want_back = decode(t, code);
          break;
        }
        case DataType::INT8: {
          int8_t v;
          std::memcpy(&v, p, 1);
          ok = v == fp32_to_int8(src[i]);
          want_back = v;
          break;
        }
        case DataType::INT32: {
          int32_t v;
          std::memcpy(&v, p, 4);
          ok = v == fp32_to_int32(src[i]);
          want_back = static_cast<float>(static_cast<double>(v));
          break;
        }
      }
      ASSERT_TRUE(ok) << dtype_name(t) << " element " << i << " " << std::hexfloat << src[i];
      ASSERT_EQ(std::bit_cast<uint32_t>(back[i]), std::bit_cast<uint32_t>(want_back))
          << dtype_name(t) << " element " << i;
    }
  }
}

}  // namespace
}  // namespace seedchip::numerics
