// matmul against hand-computed products, against matmul_reference (bit-exact for INT8, NMSE for
// FP formats) and against a double-precision product for a whole BF16 GEMM; matmul_exact
// bit-identical to matmul_reference in every format, special values included.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "sim/numerics/numerics.h"

namespace seedchip::numerics {
namespace {

constexpr DataType kFpInputs[] = {DataType::FP32, DataType::BF16, DataType::FP16,
                                  DataType::FP8_E4M3, DataType::FP8_E5M2};
constexpr unsigned char kGuard = 0xA5;

// Random values of `type` in packed form: normal-distributed reals rounded into the format (scaled
// to sit inside the FP8 ranges), or uniform INT8 over the full range including -128 and 127.
std::vector<unsigned char> random_operand(DataType type, size_t count, std::mt19937& rng) {
  std::vector<unsigned char> out(count * dtype_bytes(type));
  if (type == DataType::INT8) {
    std::uniform_int_distribution<int> d(-128, 127);
    for (auto& v : out) v = static_cast<unsigned char>(static_cast<int8_t>(d(rng)));
    return out;
  }
  std::normal_distribution<float> d(0.0f, type == DataType::FP8_E4M3 ? 4.0f : 1.0f);
  std::vector<float> f(count);
  for (auto& v : f) v = d(rng);
  from_fp32(type, f.data(), out.data(), count);
  return out;
}

// A matrix of `rows` rows at `pitch` bytes, with the bytes past each row and past the end set to
// the guard value, so that writes outside the rows are caught.
struct Pitched {
  std::vector<unsigned char> bytes;
  size_t pitch, row_bytes, rows;
  Pitched(size_t rows_, size_t row_bytes_, size_t pitch_)
      : bytes(rows_ * pitch_ + 64, kGuard), pitch(pitch_), row_bytes(row_bytes_), rows(rows_) {}
  unsigned char* row(size_t i) { return bytes.data() + i * pitch; }
  bool guards_intact() const {
    for (size_t i = 0; i < bytes.size(); ++i) {
      const bool in_row = i < rows * pitch && i % pitch < row_bytes;
      if (!in_row && bytes[i] != kGuard) return false;
    }
    return true;
  }
  template <class T>
  std::vector<T> packed() const {
    std::vector<T> v(rows * row_bytes / sizeof(T));
    for (size_t i = 0; i < rows; ++i) {
      std::memcpy(reinterpret_cast<unsigned char*>(v.data()) + i * row_bytes,
                  bytes.data() + i * pitch, row_bytes);
    }
    return v;
  }
};

Pitched pitched_copy(const std::vector<unsigned char>& packed, size_t rows, size_t pitch) {
  const size_t row_bytes = packed.size() / rows;
  Pitched p(rows, row_bytes, pitch);
  for (size_t i = 0; i < rows; ++i) std::memcpy(p.row(i), packed.data() + i * row_bytes, row_bytes);
  return p;
}

TEST(Matmul, HandComputedTwoByTwo) {
  const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
  for (DataType t : kFpInputs) {
    std::vector<unsigned char> pa(4 * dtype_bytes(t)), pb(4 * dtype_bytes(t));
    from_fp32(t, a, pa.data(), 4);
    from_fp32(t, b, pb.data(), 4);
    float c[4] = {100, 100, 100, 100};
    matmul(t, DataType::FP32, pa.data(), 2 * dtype_bytes(t), pb.data(), c, 8, 2, 2, 2, false);
    EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{19, 22, 43, 50})) << dtype_name(t);
    matmul_reference(t, DataType::FP32, pa.data(), 2 * dtype_bytes(t), pb.data(), c, 8, 2, 2, 2,
                     true);
    EXPECT_EQ(std::vector<float>(c, c + 4), (std::vector<float>{38, 44, 86, 100})) << dtype_name(t);
  }
  const int8_t ia[] = {-128, 127, 1, -1}, ib[] = {-128, 2, 127, -3};
  int32_t ic[4] = {1, 1, 1, 1};
  matmul(DataType::INT8, DataType::INT32, ia, 2, ib, ic, 8, 2, 2, 2, true);
  EXPECT_EQ(std::vector<int32_t>(ic, ic + 4),
            (std::vector<int32_t>{1 + 16384 + 16129, 1 - 256 - 381, 1 - 128 - 127, 1 + 2 + 3}));
}

// The reference adds in k order in FP32: 1 + 2^-24 ties back to 1 twice. Any other order, or a
// wider accumulator, gives 1 + 2^-23.
TEST(Matmul, ReferenceSumsInKOrderInFp32) {
  const float a[] = {1.0f, 0x1p-24f, 0x1p-24f}, b[] = {1.0f, 1.0f, 1.0f};
  float c = 0;
  matmul_reference(DataType::FP32, DataType::FP32, a, 12, b, &c, 4, 1, 3, 1, false);
  EXPECT_EQ(c, 1.0f);
}

TEST(Matmul, RejectsUnsupportedPairsAndShortPitches) {
  float buf[64] = {};
  for (DataType in : kAllDataTypes) {
    for (DataType acc : kAllDataTypes) {
      const bool ok = (in == DataType::INT8 && acc == DataType::INT32) ||
                      (in != DataType::INT8 && in != DataType::INT32 && acc == DataType::FP32);
      const size_t ap = 2 * dtype_bytes(in);
      if (ok) {
        EXPECT_NO_THROW(matmul(in, acc, buf, ap, buf + 16, buf + 32, 8, 2, 2, 2, false));
      } else {
        EXPECT_THROW(matmul(in, acc, buf, ap, buf + 16, buf + 32, 8, 2, 2, 2, false),
                     std::invalid_argument)
            << dtype_name(in) << "/" << dtype_name(acc);
        EXPECT_THROW(matmul_reference(in, acc, buf, ap, buf + 16, buf + 32, 8, 2, 2, 2, false),
                     std::invalid_argument);
        EXPECT_THROW(matmul_exact(in, acc, buf, ap, buf + 16, buf + 32, 8, 2, 2, 2, false),
                     std::invalid_argument);
      }
    }
  }
  EXPECT_THROW(matmul(DataType::BF16, DataType::FP32, buf, 2, buf, buf, 8, 2, 2, 2, false),
               std::invalid_argument);
  EXPECT_THROW(matmul(DataType::BF16, DataType::FP32, buf, 4, buf, buf, 4, 2, 2, 2, false),
               std::invalid_argument);
}

TEST(Matmul, EmptyKZeroesOrKeepsC) {
  float c[6] = {1, 2, 3, 4, 5, 6};
  matmul(DataType::BF16, DataType::FP32, nullptr, 0, nullptr, c, 12, 2, 0, 3, true);
  EXPECT_EQ(c[5], 6.0f);
  matmul(DataType::BF16, DataType::FP32, nullptr, 0, nullptr, c, 12, 2, 0, 3, false);
  for (float v : c) EXPECT_EQ(v, 0.0f);
}

struct Shape {
  size_t m, k, n;
};

using MatmulFn = void (*)(DataType, DataType, const void*, size_t, const void*, void*, size_t,
                          size_t, size_t, size_t, bool);

// Runs `kernel` and matmul_reference on the same operands (random ones unless given) with padded
// pitches (C pitch deliberately not a multiple of 4 in some cases) and returns both results,
// checking guards.
template <class Acc>
void run_both(MatmulFn kernel, DataType in, DataType acc, Shape s, size_t a_pad, size_t c_pad,
              bool accumulate, std::mt19937& rng, std::vector<Acc>& fast, std::vector<Acc>& ref,
              const std::vector<unsigned char>* given_a = nullptr,
              const std::vector<unsigned char>* given_b = nullptr) {
  const size_t eb = dtype_bytes(in);
  const auto a = given_a ? *given_a : random_operand(in, s.m * s.k, rng);
  const auto b = given_b ? *given_b : random_operand(in, s.k * s.n, rng);
  const auto c0 = random_operand(acc == DataType::INT32 ? DataType::INT8 : DataType::FP32,
                                 s.m * s.n * (acc == DataType::INT32 ? 4 : 1), rng);
  const Pitched pa = pitched_copy(a, s.m, s.k * eb + a_pad);
  Pitched pc_fast = pitched_copy(c0, s.m, s.n * 4 + c_pad);
  Pitched pc_ref = pc_fast;
  kernel(in, acc, pa.bytes.data(), pa.pitch, b.data(), pc_fast.bytes.data(), pc_fast.pitch, s.m,
         s.k, s.n, accumulate);
  matmul_reference(in, acc, pa.bytes.data(), pa.pitch, b.data(), pc_ref.bytes.data(), pc_ref.pitch,
                   s.m, s.k, s.n, accumulate);
  EXPECT_TRUE(pc_fast.guards_intact()) << "matmul wrote outside C rows";
  EXPECT_TRUE(pc_ref.guards_intact()) << "matmul_reference wrote outside C rows";
  fast = pc_fast.packed<Acc>();
  ref = pc_ref.packed<Acc>();
}

TEST(Matmul, Int8BitExactAgainstReference) {
  std::mt19937 rng(42);
  const Shape shapes[] = {{1, 1, 1},     {3, 5, 7},    {128, 128, 128}, {17, 1023, 9},
                          {9, 1024, 17}, {8, 1025, 8}, {33, 4096, 65},  {2, 3000, 300}};
  for (const Shape& s : shapes) {
    for (bool accumulate : {false, true}) {
      std::vector<int32_t> fast, ref;
      run_both(matmul, DataType::INT8, DataType::INT32, s, 3, 4, accumulate, rng, fast, ref);
      ASSERT_EQ(fast, ref) << s.m << "x" << s.k << "x" << s.n << " acc=" << accumulate;
    }
  }
}

// Extreme operands: with all -128 the FP32 partial sums reach 2^24 at k = 1024 and 2^26 at 4096;
// with all 127 the sums are odd multiples of 16129, which FP32 cannot hold beyond 2^24, so a K
// chunk longer than 1024 would lose bits here.
TEST(Matmul, Int8ExtremesAreExact) {
  for (int8_t v : {int8_t{-128}, int8_t{127}}) {
    for (size_t k : {1024u, 1025u, 1041u, 4095u}) {
      std::vector<int8_t> a(2 * k, v), b(k * 3, v);
      b[0] = static_cast<int8_t>(-1 - v);  // one column also mixes in the other extreme
      std::vector<int32_t> c(6, 7);
      matmul(DataType::INT8, DataType::INT32, a.data(), k, b.data(), c.data(), 12, 2, k, 3, true);
      const int32_t vv = int32_t{v} * v, full = static_cast<int32_t>(k) * vv;
      const int32_t mixed = full - vv + int32_t{v} * (-1 - v);
      EXPECT_EQ(
          c, (std::vector<int32_t>{7 + mixed, 7 + full, 7 + full, 7 + mixed, 7 + full, 7 + full}))
          << "v=" << int{v} << " k=" << k;
    }
  }
}

// k = 2^17 + 1 products of 16384 sum to 2^31 + 16384, which wraps as a 32-bit accumulator does.
TEST(Matmul, Int32AccumulatorWraps) {
  const size_t k = (size_t{1} << 17) + 1;
  std::vector<int8_t> a(k, -128), b(k, -128);
  int32_t c_fast = 0, c_ref = 0;
  matmul(DataType::INT8, DataType::INT32, a.data(), k, b.data(), &c_fast, 4, 1, k, 1, false);
  matmul_reference(DataType::INT8, DataType::INT32, a.data(), k, b.data(), &c_ref, 4, 1, k, 1,
                   false);
  EXPECT_EQ(c_fast, std::numeric_limits<int32_t>::min() + 16384);
  EXPECT_EQ(c_ref, c_fast);
}

// One MXU tile (m, k, n <= 128): BLAS and the scalar loop differ only in FP32 summation order.
// Each of k roundings has relative error <= 2^-24, so NMSE is at most of order k * 2^-48 ~ 5e-13
// at k = 128; the largest value observed over these cases is 3e-14.
TEST(Matmul, FpSingleTileMatchesReference) {
  constexpr double kTileNmse = 1e-12;
  std::mt19937 rng(5);
  std::uniform_int_distribution<size_t> dim(1, 128);
  for (DataType in : kFpInputs) {
    for (int trial = 0; trial < 12; ++trial) {
      const Shape s = trial == 0 ? Shape{128, 128, 128} : Shape{dim(rng), dim(rng), dim(rng)};
      const bool accumulate = trial % 2 == 1;
      const size_t c_pad = trial % 3 == 0 ? 2 : 8;  // 2: C rows not 4-byte aligned
      std::vector<float> fast, ref;
      run_both(matmul, in, DataType::FP32, s, dtype_bytes(in) * 3, c_pad, accumulate, rng, fast,
               ref);
      const double e = nmse(fast.data(), ref.data(), fast.size());
      EXPECT_LE(e, kTileNmse) << dtype_name(in) << " " << s.m << "x" << s.k << "x" << s.n;
    }
  }
}

// A whole 512^3 BF16 GEMM with FP32 accumulation against the exact (double) product.
TEST(Matmul, Bf16GemmAgainstDoublePrecision) {
  constexpr size_t kDim = 512;
  std::mt19937 rng(11);
  const auto a = random_operand(DataType::BF16, kDim * kDim, rng);
  const auto b = random_operand(DataType::BF16, kDim * kDim, rng);
  std::vector<float> fa(kDim * kDim), fb(kDim * kDim), c(kDim * kDim);
  to_fp32(DataType::BF16, a.data(), fa.data(), fa.size());
  to_fp32(DataType::BF16, b.data(), fb.data(), fb.size());
  matmul(DataType::BF16, DataType::FP32, a.data(), kDim * 2, b.data(), c.data(), kDim * 4, kDim,
         kDim, kDim, false);
  std::vector<double> exact(kDim * kDim, 0.0);
  for (size_t i = 0; i < kDim; ++i) {
    for (size_t p = 0; p < kDim; ++p) {
      const double av = fa[i * kDim + p];
      for (size_t j = 0; j < kDim; ++j) exact[i * kDim + j] += av * fb[p * kDim + j];
    }
  }
  const std::vector<float> exact_f(exact.begin(), exact.end());
  EXPECT_LE(nmse(c.data(), exact_f.data(), c.size()), 1e-6);
}

TEST(Matmul, Fp32OperandsUnalignedAndPitched) {
  std::mt19937 rng(8);
  const Shape s{20, 30, 40};
  const auto a = random_operand(DataType::FP32, s.m * s.k, rng);
  const auto b = random_operand(DataType::FP32, s.k * s.n, rng);
  std::vector<unsigned char> a_off(a.size() + 1), b_off(b.size() + 1);
  std::memcpy(a_off.data() + 1, a.data(), a.size());
  std::memcpy(b_off.data() + 1, b.data(), b.size());
  std::vector<float> c_aligned(s.m * s.n), c_off(s.m * s.n);
  matmul(DataType::FP32, DataType::FP32, a.data(), s.k * 4, b.data(), c_aligned.data(), s.n * 4,
         s.m, s.k, s.n, false);
  matmul(DataType::FP32, DataType::FP32, a_off.data() + 1, s.k * 4, b_off.data() + 1, c_off.data(),
         s.n * 4, s.m, s.k, s.n, false);
  EXPECT_EQ(c_aligned, c_off);
}

TEST(Matmul, ConcurrentCallersGetTheirOwnResults) {
  auto work = [](unsigned seed, bool* ok) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 20; ++i) {
      std::vector<int32_t> fast, ref;
      run_both(matmul, DataType::INT8, DataType::INT32, Shape{16 + seed, 64, 24 + seed}, 0, 0,
               false, rng, fast, ref);
      if (fast != ref) *ok = false;
    }
  };
  bool ok1 = true, ok2 = true, ok3 = true;
  std::thread t1(work, 1u, &ok1), t2(work, 2u, &ok2), t3(work, 3u, &ok3);
  t1.join();
  t2.join();
  t3.join();
  EXPECT_TRUE(ok1 && ok2 && ok3);
}

bool same_bits(const std::vector<float>& x, const std::vector<float>& y) {
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// Edge sizes around the 16-column panels and 4-row tiles of the kernel, up to one 128^3 tile.
TEST(MatmulExact, BitIdenticalToReference) {
  const Shape edges[] = {{1, 1, 1},       {1, 128, 128}, {128, 1, 128}, {128, 128, 1},
                         {128, 128, 127}, {7, 33, 17},   {5, 2, 15},    {128, 128, 128}};
  std::mt19937 rng(17);
  std::uniform_int_distribution<size_t> dim(1, 128);
  for (DataType in : kFpInputs) {
    for (int trial = 0; trial < 16; ++trial) {
      const Shape s = trial < 8 ? edges[trial] : Shape{dim(rng), dim(rng), dim(rng)};
      for (bool accumulate : {false, true}) {
        const size_t c_pad = trial % 3 == 0 ? 2 : 4 * (trial % 3);  // 2: C rows not aligned
        std::vector<float> exact, ref;
        run_both(matmul_exact, in, DataType::FP32, s, dtype_bytes(in) * (trial % 4), c_pad,
                 accumulate, rng, exact, ref);
        EXPECT_TRUE(same_bits(exact, ref)) << dtype_name(in) << " " << s.m << "x" << s.k << "x"
                                           << s.n << " accumulate=" << accumulate;
      }
    }
  }
  for (bool accumulate : {false, true}) {
    std::vector<int32_t> exact, ref;
    run_both(matmul_exact, DataType::INT8, DataType::INT32, Shape{33, 2000, 40}, 1, 2, accumulate,
             rng, exact, ref);
    EXPECT_EQ(exact, ref);
  }
}

// A weight tile prepared once, packed or as rows, gives matmul_exact's bits for any input (a few
// rows or many, NaN and infinities included), keeps its own copy of B, and takes INT8 as is.
TEST(MatmulExact, PreparedWeightsGiveTheSameBits) {
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> value(-4.0f, 4.0f);
  const Shape shapes[] = {{1, 64, 172}, {3, 8, 64},     {4, 64, 8},
                          {5, 9, 33},   {130, 128, 17}, {2, 0, 5}};
  for (DataType in : kFpInputs) {
    for (const Shape& s : shapes) {
      std::vector<float> af(s.m * s.k), bf(s.k * s.n);
      for (float& x : af) x = value(rng);
      for (float& x : bf) x = value(rng);
      if (!af.empty()) af[0] = std::numeric_limits<float>::infinity();  // inf - inf: NaN
      if (bf.size() > 1) bf[1] = -std::numeric_limits<float>::infinity();
      const size_t bytes = dtype_bytes(in);
      std::vector<uint8_t> a(af.size() * bytes), b(bf.size() * bytes);
      from_fp32(in, af.data(), a.data(), af.size());
      from_fp32(in, bf.data(), b.data(), bf.size());
      for (bool packed : {true, false}) {
        std::vector<uint8_t> tile = b;
        const ExactWeights prepared(in, tile.data(), s.k, s.n, packed);
        std::fill(tile.begin(), tile.end(), uint8_t{0});  // later writes do not reach the copy
        for (bool accumulate : {false, true}) {
          std::vector<float> want(s.m * s.n, 0.5f), got(s.m * s.n, 0.5f);
          matmul_exact(in, DataType::FP32, a.data(), s.k * bytes, b.data(), want.data(), s.n * 4,
                       s.m, s.k, s.n, accumulate);
          prepared.matmul(DataType::FP32, a.data(), s.k * bytes, got.data(), s.n * 4, s.m,
                          accumulate);
          EXPECT_TRUE(same_bits(got, want))
              << dtype_name(in) << " " << s.m << "x" << s.k << "x" << s.n << " packed=" << packed
              << " accumulate=" << accumulate;
        }
      }
    }
  }
  const std::vector<int8_t> a8 = {1, -2, 3, 4}, b8 = {5, 6, -7, 8};
  std::vector<int32_t> want(4), got(4);
  matmul_exact(DataType::INT8, DataType::INT32, a8.data(), 2, b8.data(), want.data(), 8, 2, 2, 2,
               false);
  ExactWeights(DataType::INT8, b8.data(), 2, 2)
      .matmul(DataType::INT32, a8.data(), 2, got.data(), 8, 2, false);
  EXPECT_EQ(got, want);
  EXPECT_THROW(ExactWeights(DataType::INT32, b8.data(), 1, 1), std::invalid_argument);
}

// One or two rows (a decode step's products) take the kernel's wide tiles over four panels at a
// time, with the narrower panels after them: still the reference's bits.
TEST(MatmulExact, FewRowsMatchTheReference) {
  std::mt19937 rng(31);
  for (DataType in : kFpInputs)
    for (const Shape s : {Shape{1, 37, 128}, Shape{2, 37, 300}, Shape{1, 1, 520}, Shape{3, 9, 130}})
      for (bool accumulate : {false, true}) {
        std::vector<float> exact, ref;
        run_both(matmul_exact, in, DataType::FP32, s, dtype_bytes(in), 4, accumulate, rng, exact,
                 ref);
        EXPECT_TRUE(same_bits(exact, ref)) << dtype_name(in) << " " << s.m << "x" << s.k << "x"
                                           << s.n << " accumulate=" << accumulate;
      }
}

// A tall tile (as the MXU streams: 1024 rows through a 128 x 128 weight tile) is large enough for
// matmul_exact to split its rows over threads; the split must not change a bit.
TEST(MatmulExact, RowsSplitOverThreadsStayBitIdentical) {
  std::mt19937 rng(23);
  for (bool accumulate : {false, true}) {
    std::vector<float> exact, ref;
    run_both(matmul_exact, DataType::BF16, DataType::FP32, Shape{1030, 128, 128}, 6, 4, accumulate,
             rng, exact, ref);
    EXPECT_TRUE(same_bits(exact, ref)) << "accumulate=" << accumulate;
  }
}

// Operands drawn mostly from infinities, NaNs of both signs, subnormals of each format, signed
// zeros and the largest finite values (whose sums overflow), so that NaN creation (inf - inf,
// 0 x inf), NaN propagation, overflow and the sign of zero sums all have to match the reference.
TEST(MatmulExact, BitIdenticalWithSpecialValues) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float specials[] = {kInf,
                            -kInf,
                            std::numeric_limits<float>::quiet_NaN(),
                            -std::numeric_limits<float>::quiet_NaN(),
                            0.0f,
                            -0.0f,
                            0x1p-149f,
                            -0x1p-126f * 0.75f,  // FP32 subnormals
                            0x1p-133f,
                            -0x1p-24f,  // BF16 / FP16 subnormals
                            0x1p-9f,
                            -0x1p-16f,  // E4M3 / E5M2 subnormals
                            3.0e38f,
                            -65504.0f,
                            448.0f,
                            -57344.0f,
                            1.0f,
                            -2.5f};
  std::mt19937 rng(23);
  std::uniform_int_distribution<size_t> pick(0, std::size(specials) - 1);
  std::bernoulli_distribution special(0.3);
  std::normal_distribution<float> normal;
  const Shape shapes[] = {{1, 1, 1}, {4, 3, 16}, {9, 17, 33}, {64, 128, 127}};
  for (DataType in : kFpInputs) {
    for (const Shape& s : shapes) {
      auto make = [&](size_t count) {
        std::vector<float> f(count);
        for (auto& v : f) v = special(rng) ? specials[pick(rng)] : normal(rng);
        std::vector<unsigned char> packed(count * dtype_bytes(in));
        from_fp32(in, f.data(), packed.data(), count);
        return packed;
      };
      const auto a = make(s.m * s.k), b = make(s.k * s.n);
      for (bool accumulate : {false, true}) {
        std::vector<float> exact, ref;
        run_both(matmul_exact, in, DataType::FP32, s, 0, 4, accumulate, rng, exact, ref, &a, &b);
        EXPECT_TRUE(same_bits(exact, ref)) << dtype_name(in) << " " << s.m << "x" << s.k << "x"
                                           << s.n << " accumulate=" << accumulate;
      }
    }
  }
}

// 0 x inf and inf - inf make a negative NaN on x86, and NaN operands pass on their own sign and
// payload; the kernels store the canonical positive quiet NaN instead.
TEST(MatmulExact, NanResultsAreCanonical) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float a[] = {kInf, -kInf},
              b[] = {0.0f, 1.0f, -std::numeric_limits<float>::quiet_NaN(), 1.0f, 1.0f, 2.0f};
  float c[3] = {};
  matmul_exact(DataType::FP32, DataType::FP32, a, 8, b, c, 12, 1, 2, 3, false);
  for (float v : c) EXPECT_EQ(std::bit_cast<uint32_t>(v), 0x7FC00000u);
}

// (1 + 2^-12)^2 = 1 + 2^-11 + 2^-24 rounds to 1 + 2^-11 in FP32, so adding it to -(1 + 2^-11)
// gives 0; a fused multiply-add would keep the 2^-24. Sixteen columns run the vector kernel.
TEST(MatmulExact, RoundsEachProductWithoutFma) {
  const float x = 1.0f + 0x1p-12f;
  const std::vector<float> b(16, x);
  std::vector<float> c(16, -(1.0f + 0x1p-11f));
  matmul_exact(DataType::FP32, DataType::FP32, &x, 4, b.data(), c.data(), 64, 1, 1, 16, true);
  EXPECT_EQ(c, std::vector<float>(16, 0.0f));
}

TEST(MatmulExact, SumsInKOrderInFp32) {
  const float a[] = {1.0f, 0x1p-24f, 0x1p-24f}, b[] = {1.0f, 1.0f, 1.0f};
  float c = 0;
  matmul_exact(DataType::FP32, DataType::FP32, a, 12, b, &c, 4, 1, 3, 1, false);
  EXPECT_EQ(c, 1.0f);
}

TEST(MatmulExact, EmptyKZeroesOrKeepsC) {
  float c[6] = {1, 2, 3, 4, 5, 6};
  matmul_exact(DataType::FP16, DataType::FP32, nullptr, 0, nullptr, c, 12, 2, 0, 3, true);
  EXPECT_EQ(c[5], 6.0f);
  matmul_exact(DataType::FP16, DataType::FP32, nullptr, 0, nullptr, c, 12, 2, 0, 3, false);
  for (float v : c) EXPECT_EQ(v, 0.0f);
}

TEST(Nmse, HandValues) {
  const float x[] = {1, 2}, ref[] = {1, 1}, zero[] = {0, 0};
  EXPECT_DOUBLE_EQ(nmse(x, ref, 2), 0.5);
  EXPECT_EQ(nmse(zero, zero, 2), 0.0);
  EXPECT_EQ(nmse(x, zero, 2), std::numeric_limits<double>::infinity());
  EXPECT_EQ(nmse(x, x, 2), 0.0);
}

}  // namespace
}  // namespace seedchip::numerics
