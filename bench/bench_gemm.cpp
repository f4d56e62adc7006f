// The GEMM kernel on seedchip-v1, against the targets and against the host:
//  1. 4096^3 BF16 timing-only: MXU utilization (target >= 0.85), simulated / roofline time
//     (target within 10%), and wall time against the host library's own 4096^3 SGEMM measured
//     here (target: well under 1 s).
//  2. 1 x 8192 x 8192 BF16 timing-only (bandwidth-bound): HBM bandwidth / peak (target >= 0.80).
//  3. 4096^3 BF16 functional (real data): wall time of the simulation (set-up, run, not making
//     the random inputs) / host SGEMM wall time (target <= 3).
// Usage: bench_gemm [--quick]  (--quick uses 2048^3 for the functional run)
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "arch/chip_loader.h"
#include "arch/chip_peaks.h"
#include "compiler/kernels/gemm.h"
#include "sim/chip/simulation.h"
#include "sim/numerics/numerics.h"

namespace {

using namespace seedchip;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct Run {
  double wall, simulated, mxu_utilization, hbm_fraction, roofline_ratio;
  uint64_t cycles;
};

Run simulate(const ChipConfig& chip, const compiler::GemmShape& shape, bool functional) {
  auto start = Clock::now();
  const compiler::GemmPlan plan = compiler::plan_gemm(chip, shape);
  sim::SimulationOptions options;
  options.functional = functional;
  sim::Simulation simulation(chip, options);
  simulation.load(compiler::generate_gemm(chip, shape, plan));
  if (functional) {  // making the random operands is the test's work, not the simulator's
    const auto inputs_start = Clock::now();
    std::mt19937_64 rng(1);
    std::normal_distribution<float> normal(0, 1);
    auto operand = [&](size_t n) {
      std::vector<float> v(n);
      for (auto& x : v) x = normal(rng);
      std::vector<uint8_t> bytes(n * 2);
      numerics::from_fp32(shape.type, v.data(), bytes.data(), n);
      return bytes;
    };
    const auto a = operand(shape.m * shape.k), b = operand(shape.k * shape.n);
    simulation.hbm_data(0).write(plan.layout.a, a.data(), a.size());
    const auto packed = compiler::pack_gemm_weights(shape, plan, b.data());
    simulation.hbm_data(0).write(plan.layout.b, packed.data(), packed.size());
    start += Clock::now() - inputs_start;
  }
  const sim::RunResult r = simulation.run();
  const double wall = since(start);
  const double flops = 2.0 * shape.m * shape.n * shape.k;
  const double peak = peak_tflops(chip, "bf16") * 1e12;
  const double bytes = simulation.stats().get("chip.hbm.bytes");
  const double peak_bw = chip_peaks(chip).hbm_gbytes_per_s * 1e9;
  const double roofline = std::max(flops / peak, bytes / peak_bw);
  return {wall,
          r.seconds,
          flops / r.seconds / peak,
          bytes / r.seconds / peak_bw,
          r.seconds / roofline,
          r.core_cycles};
}

double host_sgemm_seconds(int n) {
  std::vector<float> a(static_cast<size_t>(n) * n, 1.0f), b(a.size(), 0.5f), c(a.size());
  const auto start = Clock::now();
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
              0.0f, c.data(), n);
  return since(start);
}

void verdict(const char* what, double value, const char* target, bool ok) {
  std::printf("  %-44s %10.3f   target %-10s %s\n", what, value, target, ok ? "met" : "NOT MET");
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const ChipConfig chip = load_chip("seedchip-v1").config;

  std::printf("bench_gemm on seedchip-v1\n");
  const Run big = simulate(chip, {4096, 4096, 4096, DataType::BF16}, false);
  const double host_big = host_sgemm_seconds(4096);
  std::printf(
      "4096^3 bf16, timing-only: %lu cycles, %.1f us simulated, %.3f s wall, "
      "%.3g simulated cycles per wall second\n",
      static_cast<unsigned long>(big.cycles), big.simulated * 1e6, big.wall, big.cycles / big.wall);
  verdict("MXU utilization", big.mxu_utilization, ">= 0.85", big.mxu_utilization >= 0.85);
  verdict("simulated / roofline time", big.roofline_ratio, "<= 1.10", big.roofline_ratio <= 1.10);
  verdict("wall time (s)", big.wall, "< 1", big.wall < 1.0);
  std::printf("  host SGEMM 4096^3 in the same run: %.3f s; timing-only simulation / host = %.3f\n",
              host_big, big.wall / host_big);

  const Run gemv = simulate(chip, {1, 8192, 8192, DataType::BF16}, false);
  std::printf("1x8192x8192 bf16, timing-only: %.1f us simulated, %.3f s wall\n",
              gemv.simulated * 1e6, gemv.wall);
  verdict("HBM bandwidth / peak", gemv.hbm_fraction, ">= 0.80", gemv.hbm_fraction >= 0.80);

  const int n = quick ? 2048 : 4096;
  const Run functional = simulate(chip, {n, n, n, DataType::BF16}, true);
  const double host = host_sgemm_seconds(n);
  std::printf("%d^3 bf16, functional: %.3f s wall; host SGEMM %.3f s\n", n, functional.wall, host);
  verdict("functional simulation / host SGEMM", functional.wall / host, "<= 3",
          functional.wall / host <= 3.0);
  return 0;
}
