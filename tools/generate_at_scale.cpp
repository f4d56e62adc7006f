#include "tools/generate_at_scale.h"

#include <chrono>
#include <cstdio>

#include "arch/error.h"
#include "llm/model_file.h"
#include "llm/model_preset.h"

namespace seedchip::tools {

namespace {

nlohmann::json phase_json(const runtime::PhaseReport& p) {
  return {{"time", figure(p.seconds, "s")},
          {"step_time", figure(p.step_seconds, "s")},
          {"steps", p.steps},
          {"roofline_time", figure(p.roofline_seconds, "s")},
          {"mxu_utilization", figure(p.mxu_utilization, "ratio")},
          {"vpu_utilization", figure(p.vpu_utilization, "ratio")},
          {"hbm_utilization", figure(p.hbm_utilization, "ratio")},
          {"link_utilization", figure(p.link_utilization, "ratio")},
          {"flops_per_chip", figure(p.flops, "FLOP")},
          {"hbm_bytes_per_chip", figure(p.hbm_bytes, "bytes")},
          {"link_bytes_per_chip", figure(p.link_bytes, "bytes")},
          {"bound", p.bound},
          {"all_reduce_algorithm", p.all_reduce},
          {"all_gather_algorithm", p.all_gather},
          {"all_to_all_algorithm", p.all_to_all},
          {"energy",
           {{"total", figure(p.energy.total_j(), "J")},
            {"static", figure(p.energy.static_j, "J")},
            {"mxu", figure(p.energy.mxu_j, "J")},
            {"vpu", figure(p.energy.vpu_j, "J")},
            {"sram", figure(p.energy.sram_j, "J")},
            {"hbm", figure(p.energy.hbm_j, "J")},
            {"link", figure(p.energy.link_j, "J")}}}};
}

void print_phase_row(const char* name, double prefill, double decode, const char* format) {
  std::printf("  %-30s ", name);
  std::printf(format, prefill);
  std::printf(" ");
  std::printf(format, decode);
  std::printf("\n");
}

}  // namespace

void run_generate_at_scale(const ScaleCommand& c, const ChipOptions& chip_options) {
  const auto start = std::chrono::steady_clock::now();
  const LoadedChip chip = chip_options.load();
  llm::ModelPreset preset;
  if (llm::is_model_preset(c.model) || c.model.ends_with(".yaml")) {
    preset = llm::load_model_preset(c.model);
  } else {  // a model file: its shapes, not its weights
    preset.config = llm::load_model(c.model).config;
    preset.config.name = c.model;
    preset.source = c.model;
  }
  if (c.options.ep < 1 || c.options.ep > c.options.tp || c.options.tp % c.options.ep != 0)
    throw InputError("--ep " + std::to_string(c.options.ep) + ": expected a divisor of --tp " +
                     std::to_string(c.options.tp) +
                     " (the experts are sharded over a pipeline stage's chips)");
  if (c.chips && c.chips != c.options.tp * c.options.pp)
    throw InputError("--chips " + std::to_string(c.chips) + " is not --tp " +
                     std::to_string(c.options.tp) + " x --pp " + std::to_string(c.options.pp));
  runtime::ScaleOptions options = c.options;
  options.progress = [](const std::string& what) {
    std::fprintf(stderr, "simulating %s\n", what.c_str());
  };
  // ", EP 4" where experts are sharded; nothing at --ep 1, so the lines read as before.
  const std::string ep =
      options.ep != 1 ? ", EP " + std::to_string(static_cast<long long>(options.ep)) : "";
  std::fprintf(stderr,
               "%s (%s, %.1f B parameters, %.1f B active) on %lld x %s, TP %lld, PP %lld%s, "
               "timing only\n",
               preset.config.name.c_str(), preset.source.c_str(),
               static_cast<double>(llm::parameter_count(preset.config)) / 1e9,
               static_cast<double>(llm::active_parameter_count(preset.config)) / 1e9,
               static_cast<long long>(options.tp * options.pp), chip.config.name.c_str(),
               static_cast<long long>(options.tp), static_cast<long long>(options.pp), ep.c_str());
  const runtime::ScaleReport r = runtime::run_llm_at_scale(preset.config, chip, options);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  std::printf("%s on %lld x %s (TP %lld, PP %lld%s): batch %lld, input %lld, output %lld tokens\n",
              r.model.c_str(), static_cast<long long>(r.chips), r.chip.c_str(),
              static_cast<long long>(options.tp), static_cast<long long>(options.pp), ep.c_str(),
              static_cast<long long>(options.batch), static_cast<long long>(options.input_len),
              static_cast<long long>(options.output_len));
  std::printf("  HBM per chip: %.2f GB weights + %.2f GB KV cache of %.1f GB\n",
              r.weight_bytes_per_chip / 1e9, r.kv_bytes_per_chip / 1e9, r.hbm_bytes_per_chip / 1e9);
  std::printf("  TTFT (first / mean of the batch)   %.3f / %.3f ms\n", r.ttft_first * 1e3,
              r.ttft_mean * 1e3);
  std::printf("  time per output token (TPOT)       %.3f ms\n", r.tpot * 1e3);
  std::printf("  output tokens/s (whole run)        %.1f (%.1f per chip)\n",
              r.output_tokens_per_second,
              r.output_tokens_per_second / static_cast<double>(r.chips));
  std::printf("  decode tokens/s                    %.1f\n",
              r.tpot > 0 ? static_cast<double>(options.batch) / r.tpot : 0);
  std::printf("  energy per output token            %.3f J\n", r.joules_per_output_token);
  std::printf("\n  %-30s %12s %12s\n", "phase (per chip)", "prefill", "decode");
  print_phase_row("time (ms)", r.prefill.seconds * 1e3, r.decode.seconds * 1e3, "%12.3f");
  print_phase_row("steps", static_cast<double>(r.prefill.steps),
                  static_cast<double>(r.decode.steps), "%12.0f");
  print_phase_row("roofline time (ms)", r.prefill.roofline_seconds * 1e3,
                  r.decode.roofline_seconds * 1e3, "%12.3f");
  print_phase_row("MXU utilization", r.prefill.mxu_utilization, r.decode.mxu_utilization, "%12.3f");
  print_phase_row("VPU utilization", r.prefill.vpu_utilization, r.decode.vpu_utilization, "%12.3f");
  print_phase_row("HBM utilization", r.prefill.hbm_utilization, r.decode.hbm_utilization, "%12.3f");
  print_phase_row("link utilization", r.prefill.link_utilization, r.decode.link_utilization,
                  "%12.3f");
  print_phase_row("energy, all chips (J)", r.prefill.energy.total_j(), r.decode.energy.total_j(),
                  "%12.2f");
  std::printf("  %-30s %12s %12s\n", "bound", r.prefill.bound.c_str(), r.decode.bound.c_str());
  if (options.tp > 1) {
    std::printf("  %-30s %12s %12s\n", "TP all-reduce", r.prefill.all_reduce.c_str(),
                r.decode.all_reduce.c_str());
    std::printf("  %-30s %12s %12s\n",
                options.ep > 1 ? "all-gathers (logits, experts)" : "logits all-gather",
                r.prefill.all_gather.c_str(), r.decode.all_gather.c_str());
  }
  if (options.ep > 1)
    std::printf("  %-30s %12s %12s\n", "EP all-to-alls", r.prefill.all_to_all.c_str(),
                r.decode.all_to_all.c_str());
  std::printf("\n  decode iterations simulated at contexts");
  for (const runtime::DecodeSample& s : r.decode_samples)
    std::printf(" %lld (%.3f ms)", static_cast<long long>(s.context), s.seconds * 1e3);
  std::printf("; the middle one is %.2f%% off the line through the ends\n",
              r.decode_interpolation_error * 100);
  std::printf("  %lld simulations%s, %.1f s wall\n", static_cast<long long>(r.simulations),
              options.reuse_layers ? " (one layer stands for each layer of a stage)" : "", wall);

  if (!c.stats.empty()) write_json(c.stats, r.decode_layer_stats, &chip);
  if (!options.trace_path.empty())
    std::printf("  trace of the first simulated decode layer: %s (open it at ui.perfetto.dev)\n",
                options.trace_path.c_str());
  if (!c.json.empty()) {
    nlohmann::json samples = nlohmann::json::array();
    for (const runtime::DecodeSample& s : r.decode_samples)
      samples.push_back({{"context", s.context}, {"iteration_time", figure(s.seconds, "s")}});
    write_json(c.json,
               {{"model", r.model},
                {"model_source", preset.source},
                {"chips", r.chips},
                {"tp", options.tp},
                {"pp", options.pp},
                {"ep", options.ep},
                {"batch", options.batch},
                {"input_len", options.input_len},
                {"output_len", options.output_len},
                {"timing_only", true},
                {"layer_reuse", options.reuse_layers},
                {"ttft_first", figure(r.ttft_first, "s")},
                {"ttft_mean", figure(r.ttft_mean, "s")},
                {"time_per_output_token", figure(r.tpot, "s")},
                {"output_tokens_per_second", figure(r.output_tokens_per_second, "tokens/s")},
                {"energy_per_output_token", figure(r.joules_per_output_token, "J")},
                {"weight_bytes_per_chip", figure(r.weight_bytes_per_chip, "bytes")},
                {"kv_bytes_per_chip", figure(r.kv_bytes_per_chip, "bytes")},
                {"prefill", phase_json(r.prefill)},
                {"decode", phase_json(r.decode)},
                {"decode_samples", samples},
                {"decode_interpolation_error", figure(r.decode_interpolation_error, "ratio")},
                {"wall_time", figure(wall, "s")}},
               &chip);
  }
}

}  // namespace seedchip::tools
