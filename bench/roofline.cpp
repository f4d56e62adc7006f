// The timing simulator against the analytic roofline, one representative operator per op class of
// the analytic model (sim/analytic): each is compiled for seedchip-v1 as the LLM step graphs
// compile it (f32 activations, bf16 weights and KV cache, bf16 products) and simulated in
// timing-only mode. Roofline = max(FLOPs / peak BF16 rate, ideal HBM bytes / peak HBM bandwidth),
// where the ideal bytes are each operand read once and the result written once (an unfused
// operator's intermediates are not ideal bytes). The all-reduces are the simulated ring (large
// message) and one-shot (small message) collectives on the chip links against their closed forms.
// Every gap over 10% is explained in the table.
// Writes docs/roofline.md, or the path given; deterministic (a CTest compares the committed file).
// Usage: roofline [OUT.md]
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "arch/chip_loader.h"
#include "arch/chip_peaks.h"
#include "arch/error.h"
#include "compiler/codegen/compile.h"
#include "compiler/ir/text.h"
#include "runtime/runtime.h"
#include "sim/event_queue.h"
#include "sim/link/collectives.h"

namespace {

using namespace seedchip;

struct Case {
  std::string op_class, name, graph;
  double flops = 0, ideal_bytes = 0;
  std::string why;  // the gap over 10%, explained
};

struct Row {
  std::string op_class, name, bound, why;
  double simulated = 0, roofline = 0;
};

Row simulate(const Case& c, const LoadedChip& chip) {
  compiler::CompileOptions options;
  options.matmul_precision = compiler::MatmulPrecision::kBf16;
  const compiler::CompiledModel model =
      compiler::compile_graph(compiler::ir::parse(c.graph), chip, options);
  runtime::RunOptions run;
  run.functional = false;
  const runtime::RunResult r = runtime::run_model(model, chip, {}, run);
  const double compute = c.flops / (peak_tflops(chip.config, "bf16") * 1e12);
  const double memory = c.ideal_bytes / (chip_peaks(chip.config).hbm_gbytes_per_s * 1e9);
  return {c.op_class, c.name,        compute >= memory ? "compute" : "memory",
          c.why,      r.sim.seconds, std::max(compute, memory)};
}

// `why` explains the gap, where there is one, between the simulation and the closed form.
Row all_reduce(const LoadedChip& chip, int chips, uint64_t bytes,
               sim::CollectiveAlgorithm algorithm, std::string why = "") {
  sim::EventQueue events;
  sim::StatTree stats;
  const sim::ClockDomain clock("core", static_cast<uint64_t>(chip.config.core.clock_mhz), 1);
  sim::ChipLinks links(chip.config.links, chips, events, clock, stats, "links");
  sim::Tick finished = 0;
  sim::all_reduce(links, bytes, algorithm, [&](sim::Tick t) { finished = t; });
  events.run();
  const bool ring = algorithm == sim::CollectiveAlgorithm::kRing;
  return {
      "all-reduce",
      fmt::format("{} all-reduce of {} over {} chips", sim::collective_algorithm_name(algorithm),
                  bytes >= (1 << 20) ? fmt::format("{} MiB", bytes >> 20)
                                     : fmt::format("{} KiB", bytes >> 10),
                  chips),
      "link",
      std::move(why),
      links.ticks_to_seconds(finished),
      ring ? sim::ring_all_reduce_seconds(links, bytes)
           : sim::one_shot_all_reduce_seconds(links, bytes)};
}

std::string matmul_graph(int64_t batch, int64_t m, int64_t k, int64_t n, bool weights) {
  const std::string b = batch > 1 ? std::to_string(batch) + "," : "";
  return fmt::format(R"(graph "g" opset ""=13 {{
  input %a: f32[{0}{1},{2}]
  input %b: bf16[{0}{2},{3}]
  %y: f32[{0}{1},{3}] = MatMul(%a, %b){4}
  output %y
}})",
                     b, m, k, n, weights ? " {b_layout = \"mxu_tiles\"}" : "");
}

// Scores, softmax and the weighted sum of `heads` query rows per K/V head over `context` cached
// positions, for `batch` sequences: the attention of the step graphs (which the fuse pass makes one
// seedchip::Attention).
std::string attention_graph(int64_t batch, int64_t rows, int64_t context, int64_t hd) {
  return fmt::format(R"(graph "g" opset ""=13 {{
  input %q: f32[{0},{1},{3}]
  input %k: bf16[{0},{3},{2}]
  input %v: bf16[{0},{2},{3}]
  const %scale: f32[] = [0.088388]
  %s: f32[{0},{1},{2}] = MatMul(%q, %k)
  %t: f32[{0},{1},{2}] = Mul(%s, %scale)
  %p: f32[{0},{1},{2}] = Softmax(%t) {{axis = -1}}
  %o: f32[{0},{1},{3}] = MatMul(%p, %v)
  output %o
}})",
                     batch, rows, context, hd);
}

std::vector<Case> cases() {
  std::vector<Case> c;
  const auto gemm = [&](const char* op_class, int64_t m, int64_t k, int64_t n, std::string why) {
    c.push_back({op_class, fmt::format("MatMul {}x{}x{}, bf16 weights in MXU tiles", m, k, n),
                 matmul_graph(1, m, k, n, true), 2.0 * m * k * n,
                 4.0 * m * k + 2.0 * k * n + 4.0 * m * n, std::move(why)});
  };
  gemm("large GEMM", 4096, 4096, 4096,
       "the f32 activations are rounded to bf16 on the VPU and written back before the product "
       "(one more pass over A), and the 16 cores start and drain their pipelines");
  gemm("skinny GEMM", 1, 8192, 8192,
       "weight streaming from 16 cores at once reaches about 0.9 of peak (two weight tiles per "
       "DMA keep more requests in flight): the HBM controller batches requests per row and a "
       "batch holds the bus to its last burst (docs/hbm.md)");
  gemm("skinny GEMM", 64, 8192, 3584,
       "split over K in 4 slices of 4 cores (28 weight-tile columns leave 2 of 16 cores idle "
       "unsplit): each core streams 7 x 16 weight tiles and its A slice, and the 4 partial "
       "results (0.9 MiB each) are written and summed in a second pass; with 64 rows per weight "
       "tile each tile's DMA, weight load and row stream overlap only partly (unsplit, "
       "`seedchip gemm 64 3584 8192 --timing-only`: 0.62 of peak HBM)");
  const auto attention = [&](const char* op_class, int64_t batch, int64_t rows, int64_t context,
                             std::string why) {
    const double hd = 128;
    c.push_back(
        {op_class,
         fmt::format("attention: {} x ({} rows over {} positions, head 128)", batch, rows, context),
         attention_graph(batch, rows, context, 128),
         4.0 * static_cast<double>(batch * rows * context) * hd,
         static_cast<double>(batch) * (8.0 * rows * hd + 4.0 * context * hd), std::move(why)});
  };
  attention("attention prefill", 8, 1024, 1024,
            "one flash-attention kernel (the fuse pass): the scores stay in SRAM, but each block "
            "of 128 positions takes seven VPU passes (scale, row max, subtract, exp, row sum, "
            "rescale of the accumulator, rounding P to bf16; 16 cores x 128 lanes) in series with "
            "its two MXU products, so the VPU, not the MXU, sets the time");
  attention("attention decode", 64, 8, 1024,
            "one flash-attention kernel, 4 sequences per core, each walking its 1024 positions in "
            "8 blocks: with 8 query rows per block, each block's K/V DMA, MXU pipeline fill and "
            "short VPU steps are latency that the 512 KiB of K/V per sequence does not hide");
  c.push_back({"elementwise / norm", "Add of two f32[4096, 4096]", R"(graph "g" opset ""=13 {
  input %a: f32[4096,4096]
  input %b: f32[4096,4096]
  %y: f32[4096,4096] = Add(%a, %b)
  output %y
})",
               0, 3.0 * 4096 * 4096 * 4,
               "two read streams and a write stream: the HBM bus turns around between reads and "
               "writes (docs/hbm.md)"});
  c.push_back({"elementwise / norm", "RMSNorm of f32[4096, 8192]", R"(graph "g" opset ""=13 {
  input %x: f32[4096,8192]
  input %w: f32[8192]
  const %eps: f32[] = [0.00001]
  %sq: f32[4096,8192] = Mul(%x, %x)
  %mean: f32[4096,1] = ReduceMean(%sq) {axes = [-1]}
  %plus: f32[4096,1] = Add(%mean, %eps)
  %root: f32[4096,1] = Sqrt(%plus)
  %inv: f32[4096,1] = Reciprocal(%root)
  %normed: f32[4096,8192] = Mul(%x, %inv)
  %y: f32[4096,8192] = Mul(%normed, %w)
  output %y
})",
               0, 2.0 * 4096 * 8192 * 4,
               "one kernel (the fuse pass), but its four VPU passes per element (square, sum, "
               "scale, weight: 16 cores x 128 lanes) take as long as the HBM transfer, and the two "
               "overlap only partly"});
  return c;
}

std::string report(const std::vector<Row>& rows, const LoadedChip& chip) {
  const ChipPeaks peaks = chip_peaks(chip.config);
  std::string out =
      "# The timing simulator against the roofline, per op class\n\n"
      "Generated by `bench/roofline` (build it and run `roofline`; a CTest regenerates this file "
      "and compares it byte for byte). Do not edit by hand.\n\n";
  out += fmt::format(
      "Chip: `{}`, peak {:.1f} TFLOP/s BF16, {:.1f} GB/s HBM. Each operator is compiled as the "
      "LLM step graphs compile it (f32 activations, bf16 weights and KV cache, bf16 products) and "
      "simulated in timing-only mode. Roofline = max(FLOPs / peak, ideal bytes / HBM peak), the "
      "ideal bytes being each operand read once and the result written once; the all-reduces are "
      "compared with their closed forms (`sim/link/collectives.h`). The analytic model's "
      "efficiencies for seedchip-v1 are 1 (`efficiency.*`): the last column is how far the "
      "simulator is from that assumption, and why.\n\n",
      chip.config.name, peak_tflops(chip.config, "bf16"), peaks.hbm_gbytes_per_s);
  out +=
      "| op class | operator | bound | roofline (us) | simulated (us) | simulated / roofline | gap "
      "over 10%: why |\n|---|---|---|---|---|---|---|\n";
  for (const Row& r : rows) {
    const double ratio = r.simulated / r.roofline;
    out +=
        fmt::format("| {} | {} | {} | {:.2f} | {:.2f} | {:.3f} | {} |\n", r.op_class, r.name,
                    r.bound, r.roofline * 1e6, r.simulated * 1e6, ratio, ratio > 1.1 ? r.why : "");
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const std::string path =
        argc > 1 ? argv[1] : std::string(SEEDCHIP_SOURCE_DIR) + "/docs/roofline.md";
    const LoadedChip chip = load_chip("seedchip-v1");
    std::vector<Row> rows;
    for (const Case& c : cases()) {
      std::fprintf(stderr, "simulating %s\n", c.name.c_str());
      rows.push_back(simulate(c, chip));
    }
    rows.push_back(all_reduce(chip, 8, uint64_t{16} << 20, sim::CollectiveAlgorithm::kRing));
    // The residual stream of one token of a 70B-class model (8192 values in bf16): what TP 8
    // all-reduces twice per layer in decode, where the choice is one-shot.
    rows.push_back(all_reduce(chip, 8, uint64_t{16} << 10, sim::CollectiveAlgorithm::kOneShot));
    std::ofstream out(path);
    out << report(rows, chip);
    if (!out) throw InputError(path + ": cannot write");
    for (const Row& r : rows)
      std::printf("%-20s %-55s %9.2f us simulated, %9.2f us roofline, ratio %.3f\n",
                  r.op_class.c_str(), r.name.c_str(), r.simulated * 1e6, r.roofline * 1e6,
                  r.simulated / r.roofline);
    std::printf("wrote %s\n", path.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "roofline: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
