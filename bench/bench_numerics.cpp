// Speed of the functional numerics: bulk conversion bandwidth, and matmul against raw cblas_sgemm
// on the same shapes. Time ratio = matmul time / sgemm time (1.0 = no overhead): it includes the
// operand conversion, the INT8 K chunking, and at 128^3 matmul's choice to stay single-threaded
// while the raw sgemm uses OpenBLAS's default thread count.
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "sim/numerics/numerics.h"

namespace {

using seedchip::DataType;
namespace nx = seedchip::numerics;

// Best of several timed repetitions, in seconds per call.
template <class Fn>
double seconds_per_call(Fn fn, int calls) {
  fn();
  double best = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; ++i) fn();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s / calls);
  }
  return best;
}

void bench_conversions() {
  constexpr size_t kN = size_t{1} << 22;
  std::mt19937 rng(1);
  std::normal_distribution<float> d;
  std::vector<float> f(kN), back(kN);
  for (auto& v : f) v = d(rng);
  std::vector<unsigned char> packed(kN * 4);
  std::printf("%-10s %14s %14s\n", "format", "to_fp32 GB/s", "from_fp32 GB/s");
  for (DataType t : seedchip::kAllDataTypes) {
    nx::from_fp32(t, f.data(), packed.data(), kN);
    // Bandwidth counts the bytes read plus the bytes written.
    const double bytes = double(kN) * (4 + seedchip::dtype_bytes(t));
    const double to = seconds_per_call([&] { nx::to_fp32(t, packed.data(), back.data(), kN); }, 4);
    const double from = seconds_per_call([&] { nx::from_fp32(t, f.data(), packed.data(), kN); }, 4);
    std::printf("%-10s %14.2f %14.2f\n", std::string(seedchip::dtype_name(t)).c_str(),
                bytes / to / 1e9, bytes / from / 1e9);
  }
}

void bench_matmul() {
  std::printf("\n%-8s %-6s %12s %12s %12s\n", "in", "size", "GFLOP/s", "sgemm GF/s", "time ratio");
  std::mt19937 rng(2);
  for (size_t s : {size_t{128}, size_t{512}, size_t{1024}}) {
    std::vector<float> fa(s * s), fb(s * s), fc(s * s);
    std::uniform_int_distribution<int> d(-100, 100);
    for (auto& v : fa) v = float(d(rng));
    for (auto& v : fb) v = float(d(rng));
    const int calls = s <= 128 ? 200 : (s <= 512 ? 10 : 2);
    const double flop = 2.0 * double(s) * double(s) * double(s);
    const int si = int(s);
    const double raw = seconds_per_call(
        [&] {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, si, si, si, 1.0f, fa.data(), si,
                      fb.data(), si, 0.0f, fc.data(), si);
        },
        calls);
    for (DataType t : {DataType::FP32, DataType::BF16, DataType::FP8_E4M3, DataType::INT8}) {
      const size_t eb = seedchip::dtype_bytes(t);
      std::vector<unsigned char> a(s * s * eb), b(s * s * eb), c(s * s * 4);
      nx::from_fp32(t, fa.data(), a.data(), s * s);
      nx::from_fp32(t, fb.data(), b.data(), s * s);
      const DataType acc = t == DataType::INT8 ? DataType::INT32 : DataType::FP32;
      const double ours = seconds_per_call(
          [&] { nx::matmul(t, acc, a.data(), s * eb, b.data(), c.data(), s * 4, s, s, s, false); },
          calls);
      std::printf("%-8s %-6zu %12.1f %12.1f %12.2f\n", std::string(seedchip::dtype_name(t)).c_str(),
                  s, flop / ours / 1e9, flop / raw / 1e9, ours / raw);
    }
  }
}

// matmul_exact (the MXU's k-ordered FP32 sum, bit-exact) against matmul (BLAS order) on the same
// operands: a 128^3 tile repeated, as the simulator issues them, and one 1024^3 GEMM. Ratio =
// exact time / matmul time. matmul_exact stays on the calling thread; matmul hands GEMMs above
// 128^3 to the OpenBLAS pool, so at 1024^3 the ratio also counts BLAS's threads.
void bench_matmul_exact() {
  std::printf("\n%-8s %-6s %12s %12s %12s\n", "in", "size", "exact GF/s", "matmul GF/s",
              "time ratio");
  std::mt19937 rng(3);
  std::normal_distribution<float> d;
  for (size_t s : {size_t{128}, size_t{1024}}) {
    std::vector<float> f(s * s);
    const int calls = s <= 128 ? 200 : 2;
    const double flop = 2.0 * double(s) * double(s) * double(s);
    for (DataType t : {DataType::FP32, DataType::BF16, DataType::FP8_E4M3}) {
      const size_t eb = seedchip::dtype_bytes(t);
      std::vector<unsigned char> a(s * s * eb), b(s * s * eb);
      std::vector<float> c(s * s);
      for (auto& v : f) v = d(rng);
      nx::from_fp32(t, f.data(), a.data(), s * s);
      for (auto& v : f) v = d(rng);
      nx::from_fp32(t, f.data(), b.data(), s * s);
      auto run = [&](auto kernel) {
        return seconds_per_call(
            [&] {
              kernel(t, DataType::FP32, a.data(), s * eb, b.data(), c.data(), s * 4, s, s, s,
                     false);
            },
            calls);
      };
      const double exact = run(nx::matmul_exact), fast = run(nx::matmul);
      std::printf("%-8s %-6zu %12.1f %12.1f %12.2f\n", std::string(seedchip::dtype_name(t)).c_str(),
                  s, flop / exact / 1e9, flop / fast / 1e9, exact / fast);
    }
  }
}

}  // namespace

int main() {
  bench_conversions();
  bench_matmul();
  bench_matmul_exact();
  return 0;
}
