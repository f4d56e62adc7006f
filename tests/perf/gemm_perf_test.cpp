// The performance criteria for whole kernels on seedchip-v1 (timing-only, so they run in
// seconds): a large compute-bound GEMM keeps the MXUs busy and agrees with the analytic roofline,
// and a bandwidth-bound GEMV streams HBM near its peak. These assert simulated figures, never
// wall-clock time; bench/bench_gemm prints the same figures with the simulator's speed.
#include <gtest/gtest.h>

#include <algorithm>

#include "arch/chip_loader.h"
#include "arch/chip_peaks.h"
#include "compiler/kernels/gemm.h"
#include "sim/chip/simulation.h"

namespace seedchip {
namespace {

struct KernelFigures {
  double seconds, mxu_utilization, hbm_fraction, roofline_seconds;
};

KernelFigures run_timing_only(const ChipConfig& chip, const compiler::GemmShape& shape) {
  const compiler::GemmPlan plan = compiler::plan_gemm(chip, shape);
  sim::SimulationOptions options;
  options.functional = false;
  sim::Simulation simulation(chip, options);
  simulation.load(compiler::generate_gemm(chip, shape, plan));
  const sim::RunResult result = simulation.run();
  EXPECT_TRUE(result.completed);
  const ChipPeaks peaks = chip_peaks(chip);
  const double flops = 2.0 * shape.m * shape.n * shape.k;
  const double peak_flops = peak_tflops(chip, "bf16") * 1e12;
  const double hbm_bytes = simulation.stats().get("chip.hbm.bytes");
  const double peak_bw = peaks.hbm_gbytes_per_s * 1e9;
  return {result.seconds, flops / result.seconds / peak_flops, hbm_bytes / result.seconds / peak_bw,
          std::max(flops / peak_flops, hbm_bytes / peak_bw)};
}

TEST(GemmPerformance, Bf16Gemm4096CubedKeepsTheMxusBusy) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  const KernelFigures f = run_timing_only(chip, {4096, 4096, 4096, DataType::BF16});
  EXPECT_GE(f.mxu_utilization, 0.85);
  EXPECT_GE(f.seconds, f.roofline_seconds);  // nothing beats the roofline
  EXPECT_LE(f.seconds / f.roofline_seconds, 1.10);
}

TEST(GemmPerformance, SkinnyGemmStreamsHbmNearPeak) {
  const ChipConfig chip = load_chip("seedchip-v1").config;
  const KernelFigures f = run_timing_only(chip, {1, 8192, 8192, DataType::BF16});
  EXPECT_LT(f.mxu_utilization, 0.01);
  EXPECT_GE(f.hbm_fraction, 0.80);
  EXPECT_LE(f.hbm_fraction, 1.0);
}

}  // namespace
}  // namespace seedchip
