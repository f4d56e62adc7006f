#include "sim/numerics/numerics.h"

#include <cblas.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace seedchip::numerics {
namespace {

constexpr uint32_t kFp32AbsMask = 0x7FFFFFFFu;
constexpr uint32_t kFp32Inf = 0x7F800000u;
constexpr uint32_t kFp32QuietBit = 0x00400000u;

constexpr uint32_t bits_of(float x) { return std::bit_cast<uint32_t>(x); }
constexpr float float_of(uint32_t u) { return std::bit_cast<float>(u); }

// Branch-free choice. With a plain ?: GCC sinks the FP arithmetic of one arm into a branch and,
// since FP operations may trap, then refuses to vectorise the bulk loops; masks keep it straight.
constexpr uint32_t select(bool c, uint32_t if_true, uint32_t if_false) {
  const uint32_t mask = 0u - static_cast<uint32_t>(c);
  return (if_true & mask) | (if_false & ~mask);
}

// The one NaN the matrix kernels store. Which operand's NaN an x86 add or multiply passes on
// depends on the operand order the compiler picks, and invalid operations (inf - inf, 0 x inf)
// make a negative NaN, so only NaN-ness is reproducible; a canonical positive quiet NaN, as
// RISC-V and Arm's default-NaN mode produce, makes every kernel write the same bits.
constexpr float canonical_nan(float x) {
  return float_of(select(x != x, kFp32Inf | kFp32QuietBit, bits_of(x)));
}

// Shifts right by `s` (0 < s < 32) rounding to nearest, ties to even; a carry out of the mantissa
// ripples into the exponent field above it, which is exactly the IEEE behaviour.
constexpr uint32_t shift_round_even(uint32_t v, uint32_t s) {
  return (v + ((1u << (s - 1)) - 1) + ((v >> s) & 1)) >> s;
}

// A binary floating-point format with `E` exponent and `M` mantissa bits. `kIeeeSpecials`: the
// all-ones exponent is reserved for inf/NaN (FP16, E5M2); otherwise (E4M3) only S.1111.111 is NaN.
// `kSaturate`: finite values beyond the range clamp to the largest finite value instead of inf.
template <int E, int M, bool kIeeeSpecials, bool kSaturate>
struct Format {
  static constexpr int kBias = (1 << (E - 1)) - 1;
  static constexpr uint32_t kShift = 23 - M;
  static constexpr uint32_t kManMask = (1u << M) - 1;
  static constexpr uint32_t kExpAllOnes = (1u << E) - 1;
  static constexpr uint32_t kSignBit = 1u << (E + M);
  static constexpr uint32_t kInfCode = kExpAllOnes << M;
  static constexpr uint32_t kMaxCode = kIeeeSpecials ? kInfCode - 1 : kInfCode + kManMask - 1;
  static constexpr uint32_t kQuietBit = 1u << (M - 1);
  // Adding |x| to this FP32 constant leaves the target's subnormal step as the FP32 ulp, so the
  // FPU's own round-to-nearest-even produces the subnormal code in the low bits.
  static constexpr float kSubnormalMagic = float_of(uint32_t(127 + 1 - kBias - M + 23) << 23);
  // Target exponent field 1 corresponds to FP32 exponent field 127 - kBias + 1.
  static constexpr uint32_t kMinNormalFp32 = uint32_t(127 - kBias + 1) << 23;
  static constexpr uint32_t kRebias = uint32_t(127 - kBias) << 23;

  static constexpr uint32_t encode(float x) {
    const uint32_t u = bits_of(x);
    const uint32_t sign = (u >> 31) ? kSignBit : 0;
    const uint32_t a = u & kFp32AbsMask;
    const uint32_t sub = bits_of(float_of(a) + kSubnormalMagic) - bits_of(kSubnormalMagic);
    const uint32_t normal = shift_round_even(a - kRebias, kShift);
    const uint32_t code = select(a < kMinNormalFp32, sub, normal);
    const uint32_t overflow = kIeeeSpecials && (!kSaturate || a == kFp32Inf) ? kInfCode : kMaxCode;
    const uint32_t nan =
        kIeeeSpecials ? kInfCode | kQuietBit | ((a >> kShift) & kManMask) : kInfCode | kManMask;
    return sign | select(a > kFp32Inf, nan, select(code > kMaxCode, overflow, code));
  }

  static constexpr float decode(uint32_t v) {
    const uint32_t sign = (v & kSignBit) ? 0x80000000u : 0;
    const uint32_t exp = (v >> M) & kExpAllOnes;
    const uint32_t man = v & kManMask;
    if (exp == kExpAllOnes && (kIeeeSpecials || man == kManMask)) {
      if (kIeeeSpecials && man == 0) return float_of(sign | kFp32Inf);
      return float_of(sign | kFp32Inf | kFp32QuietBit | (man << kShift));
    }
    if (exp != 0) return float_of(sign | ((exp + 127 - kBias) << 23) | (man << kShift));
    // Subnormal: man * 2^(1 - bias - M), exact in FP32 for every format here.
    const float magnitude = static_cast<float>(man) * float_of(uint32_t(127 + 1 - kBias - M) << 23);
    return float_of(sign | bits_of(magnitude));
  }
};

using Fp16 = Format<5, 10, true, false>;
using E4M3 = Format<4, 3, false, true>;
using E5M2 = Format<5, 2, true, true>;

template <class F>
constexpr std::array<float, 256> make_decode_table() {
  std::array<float, 256> t{};
  for (uint32_t v = 0; v < 256; ++v) t[v] = F::decode(v);
  return t;
}
constexpr std::array<float, 256> kE4M3Table = make_decode_table<E4M3>();
constexpr std::array<float, 256> kE5M2Table = make_decode_table<E5M2>();

inline uint16_t bf16_encode(float x) {
  const uint32_t u = bits_of(x);
  const uint16_t rounded = static_cast<uint16_t>(shift_round_even(u & kFp32AbsMask, 16));
  const uint16_t nan = static_cast<uint16_t>((u >> 16) | 0x0040);
  const uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000);
  return (u & kFp32AbsMask) > kFp32Inf ? nan : static_cast<uint16_t>(sign | rounded);
}

inline float bf16_decode(uint16_t x) {
  const uint32_t u = uint32_t(x) << 16;
  return float_of((u & kFp32AbsMask) > kFp32Inf ? u | kFp32QuietBit : u);
}

inline float fp16_decode(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  const uint32_t em = h & 0x7FFF;
  const uint32_t normal = (em << 13) + (uint32_t(127 - 15) << 23);
  const uint32_t special = (em << 13) | kFp32Inf | select(em & 0x3FF, kFp32QuietBit, 0);
  const uint32_t sub = bits_of(static_cast<float>(static_cast<int32_t>(em)) * 0x1p-24f);
  return float_of(sign | select(em >= 0x7C00, special, select(em < 0x0400, sub, normal)));
}

// |x| (as FP32 bits `a`, not NaN) clamped to `limit` and rounded to an integer, ties to even:
// below 2^23, adding 2^23 leaves an FP32 ulp of 1 so the FPU rounds; above, FP32 holds integers.
inline int32_t rounded_magnitude(uint32_t a, float limit) {
  const uint32_t c = std::min(a, bits_of(limit));
  const float small = (float_of(c) + 0x1p23f) - 0x1p23f;
  return static_cast<int32_t>(float_of(select(c < bits_of(0x1p23f), bits_of(small), c)));
}

inline int8_t int8_encode(float x) {
  const uint32_t u = bits_of(x), a = u & kFp32AbsMask;
  const int32_t mag = rounded_magnitude(a, 256.0f);
  const uint32_t v = select(u >> 31, uint32_t(-std::min(mag, 128)), uint32_t(std::min(mag, 127)));
  return static_cast<int8_t>(select(a > kFp32Inf, 0, v));
}

inline int32_t int32_encode(float x) {
  const uint32_t u = bits_of(x), a = u & kFp32AbsMask;
  // The largest FP32 below 2^31; anything at or above 2^31 saturates.
  const int32_t mag = rounded_magnitude(a, 0x1.fffffep30f);
  const bool big = a >= bits_of(0x1p31f);
  const uint32_t pos = select(big, std::numeric_limits<int32_t>::max(), uint32_t(mag));
  const uint32_t neg = select(big, 0x80000000u, uint32_t(-mag));
  return static_cast<int32_t>(select(a > kFp32Inf, 0, select(u >> 31, neg, pos)));
}

template <class T>
T load(const void* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

template <class T>
void store(void* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

template <class T, class Fn>
void decode_loop(const void* src, float* dst, size_t n, Fn fn) {
  const auto* s = static_cast<const unsigned char*>(src);
  for (size_t i = 0; i < n; ++i) dst[i] = fn(load<T>(s + i * sizeof(T)));
}

template <class T, class Fn>
void encode_loop(const float* src, void* dst, size_t n, Fn fn) {
  auto* d = static_cast<unsigned char*>(dst);
  for (size_t i = 0; i < n; ++i) store<T>(d + i * sizeof(T), fn(src[i]));
}

bool is_fp_input(DataType t) {
  return t == DataType::FP32 || t == DataType::BF16 || t == DataType::FP16 ||
         t == DataType::FP8_E4M3 || t == DataType::FP8_E5M2;
}

void check_matmul_args(DataType in, DataType acc, size_t a_pitch, size_t c_pitch, size_t m,
                       size_t k, size_t n) {
  const bool ok = (is_fp_input(in) && acc == DataType::FP32) ||
                  (in == DataType::INT8 && acc == DataType::INT32);
  if (!ok) {
    throw std::invalid_argument("matmul: unsupported input/accumulator pair " +
                                std::string(dtype_name(in)) + "/" + std::string(dtype_name(acc)));
  }
  if (m > 1 && a_pitch < k * dtype_bytes(in)) {
    throw std::invalid_argument("matmul: A row pitch " + std::to_string(a_pitch) +
                                " bytes is shorter than a row of " + std::to_string(k) +
                                " elements");
  }
  if (m > 1 && c_pitch < n * 4) {
    throw std::invalid_argument("matmul: C row pitch " + std::to_string(c_pitch) +
                                " bytes is shorter than a row of " + std::to_string(n) +
                                " elements");
  }
}

// Per-thread operand buffers reused across calls: the simulator issues many small tiles and a
// fresh allocation per tile would cost more than the arithmetic.
struct Scratch {
  std::vector<float> a, b, c, panels;
};
thread_local Scratch scratch;

float* reserve(std::vector<float>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

bool float_aligned(const void* p, size_t pitch) {
  return reinterpret_cast<uintptr_t>(p) % alignof(float) == 0 && pitch % sizeof(float) == 0;
}

// A as a row-major FP32 matrix: the caller's memory when it already is one, else a converted copy.
const float* fp32_rows(DataType in, const void* a, size_t a_pitch, size_t rows, size_t cols,
                       std::vector<float>& buf, size_t& ld) {
  if (in == DataType::FP32 && float_aligned(a, a_pitch)) {
    ld = rows > 1 ? a_pitch / sizeof(float) : cols;
    return static_cast<const float*>(a);
  }
  float* out = reserve(buf, rows * cols);
  const auto* src = static_cast<const unsigned char*>(a);
  for (size_t i = 0; i < rows; ++i) to_fp32(in, src + i * a_pitch, out + i * cols, cols);
  ld = cols;
  return out;
}

// OpenBLAS wakes its thread pool for any GEMM above 64^3 multiply-adds. Measured on 2 cores, a
// 128^3 tile gains nothing from it (94 vs 88 GFLOP/s, within noise) and with more cores each
// thread's share only shrinks, so up to one full 128x128x128 MXU tile runs on the calling thread;
// larger GEMMs use the pool (OPENBLAS_NUM_THREADS sets its size, 1 disables it altogether).
constexpr double kBlasSingleThreadMaxMacs = 128.0 * 128.0 * 128.0;

// openblas_set_num_threads is process-wide, so the switch is made only on a change, under a lock.
void use_blas_threads_for(double macs) {
  static std::mutex mutex;
  static const int pool_threads = openblas_get_num_threads();
  static int current = pool_threads;
  const int want = macs <= kBlasSingleThreadMaxMacs ? 1 : pool_threads;
  std::lock_guard<std::mutex> lock(mutex);
  if (current == want) return;
  openblas_set_num_threads(want);
  current = want;
}

void sgemm(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* b, size_t ldb,
           float beta, float* c, size_t ldc) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a, static_cast<blasint>(lda),
              b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

// Calls fn(fc, ldc) with C as a row-major FP32 matrix: the caller's memory when it already is one,
// else a scratch copy (loaded first when accumulating) that is written back afterwards.
template <class Fn>
void with_fp32_c(void* c, size_t c_pitch, size_t m, size_t n, bool accumulate, Fn fn) {
  if (float_aligned(c, c_pitch)) return fn(static_cast<float*>(c), m > 1 ? c_pitch / 4 : n);
  float* fc = reserve(scratch.c, m * n);
  auto* cb = static_cast<unsigned char*>(c);
  if (accumulate) {
    for (size_t i = 0; i < m; ++i) std::memcpy(fc + i * n, cb + i * c_pitch, n * sizeof(float));
  }
  fn(fc, n);
  for (size_t i = 0; i < m; ++i) std::memcpy(cb + i * c_pitch, fc + i * n, n * sizeof(float));
}

void matmul_fp(DataType in, const void* a, size_t a_pitch, const void* b, void* c, size_t c_pitch,
               size_t m, size_t k, size_t n, bool accumulate) {
  Scratch& s = scratch;
  size_t lda = 0, ldb = 0;
  const float* fa = fp32_rows(in, a, a_pitch, m, k, s.a, lda);
  const float* fb = fp32_rows(in, b, n * dtype_bytes(in), k, n, s.b, ldb);
  with_fp32_c(c, c_pitch, m, n, accumulate, [&](float* fc, size_t ldc) {
    sgemm(m, n, k, fa, lda, fb, ldb, accumulate ? 1.0f : 0.0f, fc, ldc);
  });
}

// matmul_exact's kernel. Each C element lives in one vector lane for the whole K loop and takes
// one FP32 multiply and one FP32 add per k, in k order: the same operations as the reference's
// scalar loop, so the same bits. Contraction into FMA would skip the product's rounding, so it is
// turned off here whatever flags the build passes (the FMA-less AVX2 clone could not contract
// anyway, but a -march=native build could).
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")

// FP32 vectors of 8 and 16 lanes: one register in the AVX2 and AVX-512 builds of the kernel, two
// or four narrower ones in the baseline build.
using Vec8 = float __attribute__((vector_size(32)));
using Vec16 = float __attribute__((vector_size(64)));

// The shape of one kernel build. B is repacked into panels of two vectors' width, each k x panel
// contiguous, so the K loop streams one panel instead of striding a full B row apart (4 KiB apart
// at n = 1024, which maps every row to the same L1 set). `rows` C rows form one register tile:
// 2 x rows accumulators, two B vectors, the broadcast A value and one product fit the register
// file (16 AVX2 registers: 6 rows, measured ~10% faster than 4 at 1024^3; 32 AVX-512 registers:
// 12 rows).
template <class V, size_t Rows>
struct KernelShape {
  using Vec = V;
  static constexpr size_t kLanes = sizeof(V) / sizeof(float);
  static constexpr size_t kPanel = 2 * kLanes;
  static constexpr size_t kRows = Rows;
};
using Avx2Shape = KernelShape<Vec8, 6>;
using Avx512Shape = KernelShape<Vec16, 12>;

// C rows [0, R) x columns [0, cols) (cols <= panel width) over the whole K loop, in registers.
template <class Shape, size_t R>
[[gnu::always_inline]] inline void exact_tile(const float* a, size_t lda, const float* panel,
                                              size_t k, float* c, size_t ldc, size_t cols,
                                              bool accumulate) {
  using Vec = typename Shape::Vec;
  constexpr size_t kPanel = Shape::kPanel;
  Vec acc[R][2];
  for (size_t r = 0; r < R; ++r) {
    float init[kPanel] = {};  // +0: the reference's empty sum, so 0 + (-0) gives +0 as it does
    if (accumulate) std::memcpy(init, c + r * ldc, cols * sizeof(float));
    std::memcpy(acc[r], init, sizeof(init));
  }
  for (size_t p = 0; p < k; ++p) {
    Vec b0, b1;
    std::memcpy(&b0, panel + p * kPanel, sizeof(b0));
    std::memcpy(&b1, panel + p * kPanel + Shape::kLanes, sizeof(b1));
    for (size_t r = 0; r < R; ++r) {
      const float x = a[r * lda + p];
      acc[r][0] += x * b0;
      acc[r][1] += x * b1;
    }
  }
  for (size_t r = 0; r < R; ++r) {
    float out[kPanel];
    std::memcpy(out, acc[r], sizeof(out));
    for (float& v : out) v = canonical_nan(v);
    std::memcpy(c + r * ldc, out, cols * sizeof(float));
  }
}

// R rows (one or two) against P whole consecutive panels at once: a product of so few rows keeps
// R x 2P accumulators in flight instead of R x 2, so it is not bound by one add waiting for the
// last (each still sums its column in k order).
template <class Shape, size_t R, size_t P>
[[gnu::always_inline]] inline void exact_tile_wide(const float* a, size_t lda, const float* panels,
                                                   size_t k, float* c, size_t ldc,
                                                   bool accumulate) {
  using Vec = typename Shape::Vec;
  constexpr size_t kPanel = Shape::kPanel, kLanes = Shape::kLanes;
  Vec acc[R][P][2];
  for (size_t r = 0; r < R; ++r) {
    float init[P * kPanel] = {};  // +0, as in exact_tile
    if (accumulate) std::memcpy(init, c + r * ldc, sizeof(init));
    std::memcpy(acc[r], init, sizeof(init));
  }
  for (size_t p = 0; p < k; ++p) {
    Vec b[P][2];
    for (size_t q = 0; q < P; ++q) {
      std::memcpy(&b[q][0], panels + q * k * kPanel + p * kPanel, sizeof(Vec));
      std::memcpy(&b[q][1], panels + q * k * kPanel + p * kPanel + kLanes, sizeof(Vec));
    }
    for (size_t r = 0; r < R; ++r) {
      const float x = a[r * lda + p];
      for (size_t q = 0; q < P; ++q) {
        acc[r][q][0] += x * b[q][0];
        acc[r][q][1] += x * b[q][1];
      }
    }
  }
  for (size_t r = 0; r < R; ++r) {
    float out[P * kPanel];
    std::memcpy(out, acc[r], sizeof(out));
    for (float& v : out) v = canonical_nan(v);
    std::memcpy(c + r * ldc, out, sizeof(out));
  }
}

// The tail of fewer than Shape::kRows rows, one register tile of exactly `left` rows.
template <class Shape, size_t R = Shape::kRows - 1>
[[gnu::always_inline]] inline void exact_tail(size_t left, const float* a, size_t lda,
                                              const float* panel, size_t k, float* c, size_t ldc,
                                              size_t cols, bool accumulate) {
  if constexpr (R > 0) {
    if (left == R) return exact_tile<Shape, R>(a, lda, panel, k, c, ldc, cols, accumulate);
    exact_tail<Shape, R - 1>(left, a, lda, panel, k, c, ldc, cols, accumulate);
  }
}

template <class Shape>
[[gnu::always_inline]] inline void exact_panels(const float* a, size_t lda, const float* panels,
                                                float* c, size_t ldc, size_t m, size_t k, size_t n,
                                                bool accumulate) {
  constexpr size_t kPanel = Shape::kPanel, kWide = 4;
  size_t first = 0;  // columns done by wide tiles
  if (m <= 2) {
    for (; first + kWide * kPanel <= n; first += kWide * kPanel) {
      if (m == 1)
        exact_tile_wide<Shape, 1, kWide>(a, lda, panels + first * k, k, c + first, ldc, accumulate);
      else
        exact_tile_wide<Shape, 2, kWide>(a, lda, panels + first * k, k, c + first, ldc, accumulate);
    }
  }
  for (size_t j0 = first; j0 < n; j0 += kPanel) {
    const float* panel = panels + j0 * k;
    const size_t cols = n - j0 < kPanel ? n - j0 : kPanel;
    float* cj = c + j0;
    size_t i = 0;
    for (; i + Shape::kRows <= m; i += Shape::kRows) {
      exact_tile<Shape, Shape::kRows>(a + i * lda, lda, panel, k, cj + i * ldc, ldc, cols,
                                      accumulate);
    }
    exact_tail<Shape>(m - i, a + i * lda, lda, panel, k, cj + i * ldc, ldc, cols, accumulate);
  }
}

// Multiversioned so AVX2 hosts get 8-lane vectors while the binary still runs on any x86-64.
__attribute__((target_clones("avx2", "default"))) void exact_kernel_avx2(
    const float* a, size_t lda, const float* panels, float* c, size_t ldc, size_t m, size_t k,
    size_t n, bool accumulate) {
  exact_panels<Avx2Shape>(a, lda, panels, c, ldc, m, k, n, accumulate);
}

// 16 lanes and twice the registers, where the host has AVX-512 (chosen at run time).
__attribute__((target("avx512f"))) void exact_kernel_avx512(const float* a, size_t lda,
                                                            const float* panels, float* c,
                                                            size_t ldc, size_t m, size_t k,
                                                            size_t n, bool accumulate) {
  exact_panels<Avx512Shape>(a, lda, panels, c, ldc, m, k, n, accumulate);
}

// The same sums for a few rows of A against B's FP32 rows as they lie (k x n, packed): each C
// element takes one product and one add per k, in k order, so no panels need packing.
__attribute__((target_clones("avx512f", "avx2", "default"))) void exact_kernel_rows(
    const float* a, size_t lda, const float* __restrict b, float* __restrict c, size_t ldc,
    size_t m, size_t k, size_t n, bool accumulate) {
  for (size_t i = 0; i < m; ++i) {
    float* __restrict ci = c + i * ldc;
    if (!accumulate) std::fill(ci, ci + n, 0.0f);  // +0: the reference's empty sum
    for (size_t p = 0; p < k; ++p) {
      const float x = a[i * lda + p];
      const float* __restrict bp = b + p * n;
      for (size_t j = 0; j < n; ++j) ci[j] = ci[j] + x * bp[j];
    }
    for (size_t j = 0; j < n; ++j) ci[j] = canonical_nan(ci[j]);
  }
}

#pragma GCC pop_options

// B (k x n, row pitch ldb) as consecutive k x `width` panels, the last one padded with zeros;
// the padding columns are computed but never stored.
const float* pack_panels(const float* b, size_t ldb, size_t k, size_t n, size_t width,
                         std::vector<float>& buf) {
  const size_t panels = (n + width - 1) / width;
  float* out = reserve(buf, panels * k * width);
  for (size_t q = 0; q < panels; ++q) {
    const size_t j0 = q * width, cols = std::min(width, n - j0);
    float* panel = out + q * k * width;
    for (size_t p = 0; p < k; ++p) {
      std::memcpy(panel + p * width, b + p * ldb + j0, cols * sizeof(float));
      std::fill(panel + p * width + cols, panel + (p + 1) * width, 0.0f);
    }
  }
  return out;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Waits until ready() holds, polling for up to about kSpinFor; false if it still does not. A
// simulation hands out one matmul every ~100 us, so a waiting thread usually sees its next job
// within the spin, which spares the futex wake-up (costly on virtual machines) of blocking.
constexpr auto kSpinFor = std::chrono::microseconds(200);

template <class Ready>
bool spin_until(Ready ready) {
  const auto until = std::chrono::steady_clock::now() + kSpinFor;
  while (true) {
    for (int i = 0; i < 64; ++i) {
      if (ready()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() > until) return ready();
  }
}

// A fixed set of worker threads, started once, that run the parts of one job alongside the
// caller. Persistent workers keep their thread-local conversion buffers between jobs (a thread per
// call would allocate and fault them in every time). Idle workers and a caller waiting for them
// spin briefly before they block. One job at a time: callers serialise.
class RowWorkers {
 public:
  static RowWorkers& instance() {
    static RowWorkers workers(std::max(1u, std::thread::hardware_concurrency()) - 1);
    return workers;
  }
  size_t size() const { return threads_.size(); }

  // Runs part(0 .. parts-1), parts < 2^16; the caller takes parts as the workers do.
  void run(size_t parts, const std::function<void(size_t)>& part) {
    std::lock_guard<std::mutex> one_job(job_mutex_);
    part_ = &part;
    pending_ = parts;
    // One store publishes the job (sequentially consistent with the sleepers_ count a worker
    // raises before it blocks: either the worker sees the job, or this thread sees the sleeper).
    const uint64_t generation = (job_ >> 32) + 1;
    job_ = generation << 32 | uint64_t{parts} << 16;
    if (sleepers_ > 0) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    take_parts();
    if (spin_until([&] { return pending_ == 0; })) return;
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
  }

  ~RowWorkers() {
    stopping_ = true;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_all();
    }
    for (std::thread& t : threads_) t.join();
  }

 private:
  explicit RowWorkers(size_t count) {
    for (size_t i = 0; i < count; ++i) threads_.emplace_back([this] { work(); });
  }

  // Runs parts of the current job until none is left unclaimed. job_ packs the generation (high
  // 32 bits), the part count (16) and the next unclaimed part (low 16): claiming is one
  // compare-and-swap, so a worker that wakes late can never take a part of a newer job under an
  // older job's count. A claimed part keeps pending_ above zero, so the job and part_ outlive it.
  void take_parts() {
    uint64_t job = job_;
    while ((job & 0xFFFF) < (job >> 16 & 0xFFFF)) {
      if (!job_.compare_exchange_weak(job, job + 1)) continue;
      (*part_.load())(job & 0xFFFF);
      if (--pending_ == 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        done_.notify_all();
      }
      job = job_;
    }
  }

  void work() {
    uint64_t seen = 0;
    while (true) {
      const auto woken = [&] { return stopping_ || job_ >> 32 != seen; };
      if (!spin_until(woken)) {
        std::unique_lock<std::mutex> lock(mutex_);
        ++sleepers_;
        wake_.wait(lock, woken);
        --sleepers_;
      }
      if (stopping_) return;
      seen = job_ >> 32;
      take_parts();
    }
  }

  std::mutex job_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::atomic<const std::function<void(size_t)>*> part_{nullptr};
  std::atomic<uint64_t> job_{0};
  std::atomic<size_t> pending_{0}, sleepers_{0};
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

// matmul_exact splits rows over threads above this much work and this many rows per thread.
constexpr double kExactThreadedMacs = 1 << 22;
constexpr size_t kExactRowsPerThread = 64;

// The kernel build for this host, chosen once.
bool use_avx512() {
  static const bool avx512 = __builtin_cpu_supports("avx512f");
  return avx512;
}

size_t panel_width() { return use_avx512() ? Avx512Shape::kPanel : Avx2Shape::kPanel; }

// B (k x n of `in`, packed) as FP32 panels for exact_rows, in the calling thread's scratch.
const float* exact_panels_of(DataType in, const void* b, size_t k, size_t n) {
  size_t ldb = 0;
  const float* fb = fp32_rows(in, b, n * dtype_bytes(in), k, n, scratch.b, ldb);
  return pack_panels(fb, ldb, k, n, panel_width(), scratch.panels);
}

// Rows of A are converted a block at a time, just before use, so the block's FP32 copy and its C
// rows stay in L1 across every panel; A and C then stream through the host's caches once per
// call (the simulated SRAM behind them is usually cold: sixteen cores' working sets take turns).
constexpr size_t kExactBlockRows = 2 * Avx512Shape::kRows;

// Asks for `rows` rows of `row_bytes` each, `pitch` bytes apart, to be brought into the cache.
// Rows of a strided matrix sit in different 4 KiB pages, where the hardware prefetchers stop, and
// a block's compute (~10 us) is ample time to hide the next block's misses.
void prefetch_rows(const void* base, size_t pitch, size_t row_bytes, size_t rows) {
  constexpr size_t kLine = 64;
  const auto* p = static_cast<const unsigned char*>(base);
  for (size_t r = 0; r < rows; ++r)
    for (size_t off = 0; off < row_bytes; off += kLine) __builtin_prefetch(p + r * pitch + off);
}

void exact_rows(DataType in, const void* a, size_t a_pitch, const float* panels, void* c,
                size_t c_pitch, size_t m, size_t k, size_t n, bool accumulate) {
  with_fp32_c(c, c_pitch, m, n, accumulate, [&](float* fc, size_t ldc) {
    const auto* ab = static_cast<const unsigned char*>(a);
    const size_t a_row_bytes = k * dtype_bytes(in), c_row_bytes = n * sizeof(float);
    prefetch_rows(ab, a_pitch, a_row_bytes, std::min(kExactBlockRows, m));
    prefetch_rows(fc, ldc * sizeof(float), c_row_bytes, std::min(kExactBlockRows, m));
    for (size_t i0 = 0; i0 < m; i0 += kExactBlockRows) {
      const size_t rows = std::min(kExactBlockRows, m - i0);
      if (i0 + rows < m) {  // the next block loads while this one computes
        const size_t next = std::min(kExactBlockRows, m - i0 - rows);
        prefetch_rows(ab + (i0 + rows) * a_pitch, a_pitch, a_row_bytes, next);
        prefetch_rows(fc + (i0 + rows) * ldc, ldc * sizeof(float), c_row_bytes, next);
      }
      size_t lda = 0;
      const float* fa = fp32_rows(in, ab + i0 * a_pitch, a_pitch, rows, k, scratch.a, lda);
      float* block_c = fc + i0 * ldc;
      if (use_avx512())
        exact_kernel_avx512(fa, lda, panels, block_c, ldc, rows, k, n, accumulate);
      else
        exact_kernel_avx2(fa, lda, panels, block_c, ldc, rows, k, n, accumulate);
    }
  });
}

// INT8 products are at most 2^14 in magnitude, so every partial sum of up to 1024 of them is an
// integer of magnitude <= 2^24 and exact in FP32 in any summation order: each K chunk of this
// size goes through SGEMM exactly and the chunks are summed in INT32.
constexpr size_t kInt8ExactChunk = 1024;

void matmul_int8(const void* a, size_t a_pitch, const void* b, void* c, size_t c_pitch, size_t m,
                 size_t k, size_t n, bool accumulate) {
  Scratch& s = scratch;
  size_t lda = 0, ldb = 0;
  const float* fa = fp32_rows(DataType::INT8, a, a_pitch, m, k, s.a, lda);
  const float* fb = fp32_rows(DataType::INT8, b, n, k, n, s.b, ldb);
  float* fc = reserve(s.c, m * n);
  auto* cb = static_cast<unsigned char*>(c);
  for (size_t k0 = 0; k0 < k; k0 += kInt8ExactChunk) {
    const size_t kc = std::min(kInt8ExactChunk, k - k0);
    sgemm(m, n, kc, fa + k0, lda, fb + k0 * ldb, ldb, 0.0f, fc, n);
    const bool add = accumulate || k0 > 0;
    for (size_t i = 0; i < m; ++i) {
      unsigned char* row = cb + i * c_pitch;
      const float* part = fc + i * n;
      for (size_t j = 0; j < n; ++j) {
        // Two's-complement wrap-around, as an INT32 hardware accumulator behaves.
        const uint32_t prev = add ? load<uint32_t>(row + j * 4) : 0u;
        const uint32_t sum = prev + static_cast<uint32_t>(static_cast<int32_t>(part[j]));
        store<uint32_t>(row + j * 4, sum);
      }
    }
  }
}

// matmul_exact's FP path once B is in panels.
void exact_product(DataType in, const void* a, size_t a_pitch, const float* panels, void* c,
                   size_t c_pitch, size_t m, size_t k, size_t n, bool accumulate) {
  // Rows are independent and each keeps its k order, so splitting them over threads changes no
  // bit of the result; it only pays off when a slice outweighs handing it to a worker.
  const size_t parts =
      std::min({RowWorkers::instance().size() + 1, m / kExactRowsPerThread, size_t{0xFFFF}});
  if (parts < 2 ||
      static_cast<double>(m) * static_cast<double>(k) * static_cast<double>(n) < kExactThreadedMacs)
    return exact_rows(in, a, a_pitch, panels, c, c_pitch, m, k, n, accumulate);
  const size_t rows = (m + parts - 1) / parts;
  RowWorkers::instance().run(parts, [&](size_t part) {
    const size_t first = part * rows;
    if (first >= m) return;
    exact_rows(in, static_cast<const unsigned char*>(a) + first * a_pitch, a_pitch, panels,
               static_cast<unsigned char*>(c) + first * c_pitch, c_pitch, std::min(rows, m - first),
               k, n, accumulate);
  });
}

void zero_or_keep(void* c, size_t c_pitch, size_t m, size_t n, bool accumulate) {
  if (accumulate) return;
  auto* cb = static_cast<unsigned char*>(c);
  for (size_t i = 0; i < m; ++i) std::memset(cb + i * c_pitch, 0, n * 4);
}

}  // namespace

uint16_t fp32_to_bf16(float x) { return bf16_encode(x); }
float bf16_to_fp32(uint16_t x) { return bf16_decode(x); }
uint16_t fp32_to_fp16(float x) { return static_cast<uint16_t>(Fp16::encode(x)); }
float fp16_to_fp32(uint16_t x) { return fp16_decode(x); }
uint8_t fp32_to_fp8_e4m3(float x) { return static_cast<uint8_t>(E4M3::encode(x)); }
float fp8_e4m3_to_fp32(uint8_t x) { return kE4M3Table[x]; }
uint8_t fp32_to_fp8_e5m2(float x) { return static_cast<uint8_t>(E5M2::encode(x)); }
float fp8_e5m2_to_fp32(uint8_t x) { return kE5M2Table[x]; }
int8_t fp32_to_int8(float x) { return int8_encode(x); }
int32_t fp32_to_int32(float x) { return int32_encode(x); }

void to_fp32(DataType type, const void* src, float* dst, size_t n) {
  if (n == 0) return;  // an empty vector's data() may be null, which memcpy must not get
  switch (type) {
    case DataType::FP32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DataType::BF16:
      return decode_loop<uint16_t>(src, dst, n, [](uint16_t v) { return bf16_decode(v); });
    case DataType::FP16:
      return decode_loop<uint16_t>(src, dst, n, [](uint16_t v) { return fp16_decode(v); });
    case DataType::FP8_E4M3:
      return decode_loop<uint8_t>(src, dst, n, [](uint8_t v) { return kE4M3Table[v]; });
    case DataType::FP8_E5M2:
      return decode_loop<uint8_t>(src, dst, n, [](uint8_t v) { return kE5M2Table[v]; });
    case DataType::INT8:
      return decode_loop<int8_t>(src, dst, n, [](int8_t v) { return static_cast<float>(v); });
    case DataType::INT32:
      return decode_loop<int32_t>(src, dst, n, [](int32_t v) { return static_cast<float>(v); });
  }
}

void from_fp32(DataType type, const float* src, void* dst, size_t n) {
  if (n == 0) return;
  switch (type) {
    case DataType::FP32:
      std::memcpy(dst, src, n * sizeof(float));
      return;
    case DataType::BF16:
      return encode_loop<uint16_t>(src, dst, n, [](float x) { return bf16_encode(x); });
    case DataType::FP16:
      return encode_loop<uint16_t>(src, dst, n, [](float x) { return uint16_t(Fp16::encode(x)); });
    case DataType::FP8_E4M3:
      return encode_loop<uint8_t>(src, dst, n, [](float x) { return uint8_t(E4M3::encode(x)); });
    case DataType::FP8_E5M2:
      return encode_loop<uint8_t>(src, dst, n, [](float x) { return uint8_t(E5M2::encode(x)); });
    case DataType::INT8:
      return encode_loop<int8_t>(src, dst, n, [](float x) { return int8_encode(x); });
    case DataType::INT32:
      return encode_loop<int32_t>(src, dst, n, [](float x) { return int32_encode(x); });
  }
}

void matmul(DataType in, DataType acc, const void* a, size_t a_pitch, const void* b, void* c,
            size_t c_pitch, size_t m, size_t k, size_t n, bool accumulate) {
  check_matmul_args(in, acc, a_pitch, c_pitch, m, k, n);
  if (m == 0 || n == 0) return;
  if (k == 0) return zero_or_keep(c, c_pitch, m, n, accumulate);
  use_blas_threads_for(static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k));
  if (in == DataType::INT8) return matmul_int8(a, a_pitch, b, c, c_pitch, m, k, n, accumulate);
  matmul_fp(in, a, a_pitch, b, c, c_pitch, m, k, n, accumulate);
}

void matmul_exact(DataType in, DataType acc, const void* a, size_t a_pitch, const void* b, void* c,
                  size_t c_pitch, size_t m, size_t k, size_t n, bool accumulate) {
  check_matmul_args(in, acc, a_pitch, c_pitch, m, k, n);
  if (m == 0 || n == 0) return;
  if (k == 0) return zero_or_keep(c, c_pitch, m, n, accumulate);
  if (in == DataType::INT8) {
    // Integer sums are exact in any order, so the fast path already is the defined result.
    use_blas_threads_for(static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k));
    return matmul_int8(a, a_pitch, b, c, c_pitch, m, k, n, accumulate);
  }
  exact_product(in, a, a_pitch, exact_panels_of(in, b, k, n), c, c_pitch, m, k, n, accumulate);
}

// Up to this many rows of A, a product reads B's rows directly rather than packing its panels.
constexpr size_t kUnpackedMaxRows = 4;

ExactWeights::ExactWeights(DataType in, const void* b, size_t k, size_t n, bool packed)
    : in_(in), k_(k), n_(n), packed_(packed) {
  if (in == DataType::INT8) {
    const auto* bytes = static_cast<const uint8_t*>(b);
    int8_.assign(bytes, bytes + k * n);
    return;
  }
  if (!is_fp_input(in))
    throw std::invalid_argument("matmul: unsupported input type " + std::string(dtype_name(in)));
  if (k == 0 || n == 0) return;
  if (!packed) {
    fp32_.resize(k * n);
    to_fp32(in, b, fp32_.data(), k * n);
    return;
  }
  const float* panels = exact_panels_of(in, b, k, n);
  const size_t width = panel_width();
  fp32_.assign(panels, panels + (n + width - 1) / width * width * k);
}

void ExactWeights::matmul(DataType acc, const void* a, size_t a_pitch, void* c, size_t c_pitch,
                          size_t m, bool accumulate) const {
  if (in_ == DataType::INT8)
    return matmul_exact(in_, acc, a, a_pitch, int8_.data(), c, c_pitch, m, k_, n_, accumulate);
  check_matmul_args(in_, acc, a_pitch, c_pitch, m, k_, n_);
  if (m == 0 || n_ == 0) return;
  if (k_ == 0) return zero_or_keep(c, c_pitch, m, n_, accumulate);
  if (packed_)
    return exact_product(in_, a, a_pitch, fp32_.data(), c, c_pitch, m, k_, n_, accumulate);
  if (m > kUnpackedMaxRows) {
    const float* panels = pack_panels(fp32_.data(), n_, k_, n_, panel_width(), scratch.panels);
    return exact_product(in_, a, a_pitch, panels, c, c_pitch, m, k_, n_, accumulate);
  }
  with_fp32_c(c, c_pitch, m, n_, accumulate, [&](float* fc, size_t ldc) {
    size_t lda = 0;
    const float* fa = fp32_rows(in_, a, a_pitch, m, k_, scratch.a, lda);
    exact_kernel_rows(fa, lda, fp32_.data(), fc, ldc, m, k_, n_, accumulate);
  });
}

void matmul_reference(DataType in, DataType acc, const void* a, size_t a_pitch, const void* b,
                      void* c, size_t c_pitch, size_t m, size_t k, size_t n, bool accumulate) {
  check_matmul_args(in, acc, a_pitch, c_pitch, m, k, n);
  // Operands are decoded once up front: the conversion is exact, and the loop below is the
  // specification of the summation.
  std::vector<float> fa(m * k), fb(k * n);
  const auto* ab = static_cast<const unsigned char*>(a);
  for (size_t i = 0; i < m; ++i) to_fp32(in, ab + i * a_pitch, fa.data() + i * k, k);
  to_fp32(in, b, fb.data(), k * n);
  auto* cb = static_cast<unsigned char*>(c);
  for (size_t i = 0; i < m; ++i) {
    unsigned char* row = cb + i * c_pitch;
    for (size_t j = 0; j < n; ++j) {
      if (in == DataType::INT8) {
        uint32_t sum = accumulate ? load<uint32_t>(row + j * 4) : 0u;
        for (size_t p = 0; p < k; ++p) {
          sum += static_cast<uint32_t>(static_cast<int32_t>(fa[i * k + p]) *
                                       static_cast<int32_t>(fb[p * n + j]));
        }
        store<uint32_t>(row + j * 4, sum);
      } else {
        float sum = accumulate ? load<float>(row + j * 4) : 0.0f;
        for (size_t p = 0; p < k; ++p) sum += fa[i * k + p] * fb[p * n + j];
        store<float>(row + j * 4, canonical_nan(sum));
      }
    }
  }
}

double nmse(const float* x, const float* reference, size_t n) {
  double err = 0.0, norm = 0.0;
  for (size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(x[i]) - static_cast<double>(reference[i]);
    err += d * d;
    norm += static_cast<double>(reference[i]) * static_cast<double>(reference[i]);
  }
  if (norm == 0.0) return err == 0.0 ? 0.0 : std::numeric_limits<double>::infinity();
  return err / norm;
}

}  // namespace seedchip::numerics
