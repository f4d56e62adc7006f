// seedchip gemm M N K: the tiled GEMM demo over every core, with its roofline check and, in
// functional mode, a comparison of the chip's result with the host reference.
#include <cstdio>
#include <random>

#include "arch/error.h"
#include "compiler/kernels/gemm.h"
#include "compiler/mapping/search.h"
#include "sim/chip/simulation.h"
#include "sim/numerics/numerics.h"
#include "tools/common.h"
#include "tools/report.h"

namespace seedchip::tools {
namespace {

struct GemmOptions {
  int64_t m = 0, n = 0, k = 0;
  std::string dtype = "bf16";
  bool timing_only = false;
  bool functional = false;  // the default; the flag exists to say so explicitly
  uint64_t seed = 1;
  int64_t print_mappings = 0;  // list this many of the cheapest candidate mappings, then stop
  std::string json, stats, trace;
  ChipOptions chip;
};

// Random operands of `type`: standard normal for FP formats, uniform over the range for INT8.
std::vector<uint8_t> random_operand(DataType type, size_t count, std::mt19937_64& rng) {
  std::vector<float> values(count);
  if (type == DataType::INT8) {
    std::uniform_int_distribution<int> dist(-128, 127);
    for (auto& v : values) v = static_cast<float>(dist(rng));
  } else {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (auto& v : values) v = dist(rng);
  }
  std::vector<uint8_t> bytes(count * dtype_bytes(type));
  numerics::from_fp32(type, values.data(), bytes.data(), count);
  return bytes;
}

// The search's ranking: the chosen plan, then the cheapest candidates with their cost terms.
void print_mappings(const ChipConfig& chip, const compiler::GemmShape& shape,
                    const compiler::GemmPlan& chosen, int64_t count) {
  const auto ranked = compiler::mapping::rank_gemm(chip, shape);
  std::printf("gemm %lldx%lldx%lld %s on %s: %zu candidate mappings\nchosen: %s\n",
              static_cast<long long>(shape.m), static_cast<long long>(shape.n),
              static_cast<long long>(shape.k), std::string(dtype_name(shape.type)).c_str(),
              chip.name.c_str(), ranked.size(), chosen.describe().c_str());
  for (size_t i = 0; i < ranked.size() && static_cast<int64_t>(i) < count; ++i)
    std::printf("%4zu  %s\n      %s\n", i + 1, ranked[i].plan.describe().c_str(),
                ranked[i].cost.describe().c_str());
}

void run_gemm(const GemmOptions& o) {
  // Installed first, so that Ctrl-C during set-up still ends in a clean (empty) run.
  sim::Simulation* running = nullptr;
  InterruptGuard guard([&] {
    if (running) running->request_stop();
  });
  const LoadedChip chip = o.chip.load();
  const auto type = dtype_from_name(o.dtype);
  if (!type || *type == DataType::INT32)
    throw InputError("--dtype: '" + o.dtype +
                     "' is not an MXU operand format; expected one of "
                     "fp32 bf16 fp16 fp8e4m3 fp8e5m2 int8");
  const compiler::GemmShape shape{o.m, o.n, o.k, *type};
  const compiler::GemmPlan plan = compiler::plan_gemm(chip.config, shape);
  if (o.print_mappings > 0) {
    print_mappings(chip.config, shape, plan, o.print_mappings);
    return;
  }
  const isa::Program program = compiler::generate_gemm(chip.config, shape, plan);

  sim::SimulationOptions options;
  options.functional = !o.timing_only;
  options.trace_path = o.trace;
  sim::Simulation simulation(chip.config, options);
  simulation.load(program);
  running = &simulation;
  if (InterruptGuard::interrupted()) simulation.request_stop();

  const DataType acc = compiler::gemm_accumulator(*type);
  std::vector<uint8_t> a, b;
  if (options.functional) {
    std::mt19937_64 rng(o.seed);
    a = random_operand(*type, static_cast<size_t>(o.m * o.k), rng);
    b = random_operand(*type, static_cast<size_t>(o.k * o.n), rng);
    simulation.hbm_data(0).write(plan.layout.a, a.data(), a.size());
    const auto packed = compiler::pack_gemm_weights(shape, plan, b.data());
    simulation.hbm_data(0).write(plan.layout.b, packed.data(), packed.size());
  }

  const sim::RunResult result = simulation.run(progress_printer("gemm"));
  running = nullptr;
  end_progress();

  Report report("gemm " + std::to_string(o.m) + "x" + std::to_string(o.n) + "x" +
                std::to_string(o.k) + " " + o.dtype + " on " + chip.config.name +
                (options.functional ? " (functional + timing)" : " (timing-only)"));
  report.text("mapping", plan.describe());
  const double flops = 2.0 * o.m * o.n * o.k;
  add_run_figures(report, simulation, result, flops, *type);

  if (options.functional && result.completed) {
    std::vector<uint8_t> c(static_cast<size_t>(o.m * o.n) * dtype_bytes(acc));
    simulation.hbm_data(0).read(plan.layout.c, c.data(), c.size());
    std::vector<uint8_t> expected(c.size());
    numerics::matmul(*type, acc, a.data(), o.k * dtype_bytes(*type), b.data(), expected.data(),
                     o.n * dtype_bytes(acc), o.m, o.k, o.n, false);
    if (acc == DataType::INT32) {
      const auto* got = reinterpret_cast<const int32_t*>(c.data());
      const auto* want = reinterpret_cast<const int32_t*>(expected.data());
      int64_t mismatches = 0;
      for (int64_t i = 0; i < o.m * o.n; ++i) mismatches += got[i] != want[i];
      report.add("check.mismatches", "mismatching elements vs host reference",
                 static_cast<double>(mismatches), "elements");
      report.verdict(mismatches == 0, "INT32 result bit-exact vs host reference");
    } else {
      const double err = numerics::nmse(reinterpret_cast<const float*>(c.data()),
                                        reinterpret_cast<const float*>(expected.data()),
                                        static_cast<size_t>(o.m * o.n));
      report.add("check.nmse", "NMSE vs host reference", err, "ratio");
      report.verdict(err <= 1e-6, "NMSE <= 1e-6 vs host reference");
    }
  }
  report.print();
  if (!o.json.empty()) write_json(o.json, report.json(), &chip);
  if (!o.stats.empty()) write_json(o.stats, simulation.stats_json(result), &chip);
  if (!result.completed)
    std::fprintf(stderr, "gemm: interrupted at %.3f us simulated; figures cover the run so far\n",
                 result.seconds * 1e6);
  if (report.failed()) throw InputError("gemm: the functional result does not match the reference");
}

}  // namespace

void register_gemm(CLI::App& app) {
  auto options = std::make_shared<GemmOptions>();
  CLI::App* cmd = app.add_subcommand("gemm", "run a tiled GEMM C = A x B over every core");
  cmd->add_option("M", options->m, "rows of A and C")->required();
  cmd->add_option("N", options->n, "columns of B and C")->required();
  cmd->add_option("K", options->k, "columns of A, rows of B")->required();
  cmd->add_option("--dtype", options->dtype, "operand format: fp32 bf16 fp16 fp8e4m3 fp8e5m2 int8")
      ->default_val("bf16");
  auto* functional = cmd->add_flag("--functional", options->functional,
                                   "compute real numbers and check them (the default)");
  cmd->add_flag("--timing-only", options->timing_only, "shapes only, no data")
      ->excludes(functional);
  cmd->add_option("--seed", options->seed, "random operand seed")->default_val(1);
  cmd->add_option("--print-mappings", options->print_mappings,
                  "list the N cheapest candidate mappings with the cost model's terms, then stop "
                  "(no simulation)");
  cmd->add_option("--json", options->json, "write the figures as JSON");
  cmd->add_option("--stats", options->stats, "write the full stats tree as JSON");
  cmd->add_option("--trace", options->trace, "write a Chrome/Perfetto trace");
  options->chip.add_to(*cmd);
  cmd->callback([options] { run_gemm(*options); });
}

}  // namespace seedchip::tools
