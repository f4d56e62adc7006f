#pragma once
// What every `seedchip` command shares: chip selection (--chip, --set), machine-readable output
// (--json FILE, with the resolved chip config written beside it), progress on a terminal, and
// Ctrl-C turning into a clean stop of the running simulation.
#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "arch/chip_loader.h"
#include "compiler/passes/quantize.h"

namespace seedchip::tools {

struct ChipOptions {
  std::string preset = "seedchip-v1";
  std::vector<std::string> overrides;
  void add_to(CLI::App& command);
  LoadedChip load() const;
};

// --quantize-weights and --quantize-activations (compiler/passes/quantize.h), for the commands
// that compile a model to run it.
struct QuantizationFlags {
  std::string weights, activations;  // empty: not given
  void add_to(CLI::App& command);
  bool given() const { return !weights.empty() || !activations.empty(); }
  // Unset when neither flag was given; InputError for a pair the chip cannot multiply.
  std::optional<compiler::passes::QuantizationOptions> options() const;
};

// Writes `figures` as JSON to `path` (pretty, sorted keys) and the resolved chip config beside it
// (`<path>.config.yaml`). Throws InputError when the file cannot be written.
void write_json(const std::string& path, const nlohmann::json& figures, const LoadedChip* chip);

// A value with its unit, the shape every reported figure takes in --json output.
nlohmann::json figure(double value, const std::string& unit);

// Installs a SIGINT handler that calls `stop` (once) while the returned guard lives.
class InterruptGuard {
 public:
  explicit InterruptGuard(std::function<void()> stop);
  ~InterruptGuard();
  InterruptGuard(const InterruptGuard&) = delete;
  InterruptGuard& operator=(const InterruptGuard&) = delete;
  static bool interrupted();
};

// Prints "\r<label> <simulated time>" to stderr at most a few times a second, only on a terminal.
std::function<void(double)> progress_printer(const std::string& label);
void end_progress();

// "ttft=2s,tpot=200ms" (either part may be left out) into seconds; InputError on bad text.
void parse_slo(const std::string& text, double& ttft, double& tpot);

// Registration of each subcommand; each adds itself to the app and sets its callback.
void register_info(CLI::App& app);
void register_asm(CLI::App& app);
void register_sim(CLI::App& app);
void register_gemm(CLI::App& app);
void register_mem(CLI::App& app);
void register_model(CLI::App& app);
void register_generate(CLI::App& app);
void register_serve(CLI::App& app);        // tools/cmd_serve.cpp: serve-sim
void register_plan(CLI::App& app);         // tools/cmd_plan.cpp: plan
void register_sensitivity(CLI::App& app);  // tools/cmd_plan.cpp: sensitivity
void register_sweep(CLI::App& app);        // tools/cmd_sweep.cpp: sweep (MPI)

}  // namespace seedchip::tools
